#!/usr/bin/env bash
# The calibration map of the ladder of worlds (issue 41): for each level, the world measured with its own roles
# (python -m distill.synthetic.calibration: every surface rule, the answerer alone, gold, gold plus two irrelevant
# questions, the teacher's rows, P(correct | answered)) and the main job's Filtered BC student on seeds 0, 1, 2
# (python -m distill.train world=LEVEL seed=N: the default recipe, nothing else changed), two runs at a time.
# Resumable: a run whose results.json exists is skipped (skip_done). Then map.py writes the table and the picture.
#   bash experiments/calibration/run.sh            LEVELS="ordered window1" SEEDS="0" narrow it
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
RUNS=${RUNS:-experiments/calibration/runs}
LEVELS=${LEVELS:-v1 ordered window1 window2 interleaved shuffled v2}
SEEDS=${SEEDS:-0 1 2}
mkdir -p "$RUNS" outputs
for level in $LEVELS; do
    [ -f "$RUNS/$level/calibration.json" ] || $PY -m distill.synthetic.calibration world=$level \
        hydra.run.dir="$RUNS/$level" > "outputs/calibration_$level.log" 2>&1
done
jobs_file=$(mktemp)
for level in $LEVELS; do for seed in $SEEDS; do
    echo "$level $seed" >> "$jobs_file"
done; done
# shellcheck disable=SC2016
xargs -P 2 -L 1 bash -c '$0 -m distill.train world=$1 seed=$2 threads=1 logger=none skip_done=true \
    hydra.run.dir='"$RUNS"'/$1/seed$2 > outputs/calibration_$1_seed$2.log 2>&1 || echo "failed: $1 seed $2"' \
    "$PY" < "$jobs_file"
rm -f "$jobs_file"
$PY experiments/calibration/map.py --runs "$RUNS"
