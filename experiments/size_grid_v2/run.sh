#!/usr/bin/env bash
# The world-v2 size grid (conf/sweep_size_grid.yaml: 72 runs, two single-threaded at a time), in one command.
# Resumable: a relaunch skips the runs whose results.json is in $RUNS (committed under runs/). When $RUNS starts
# empty, the run is the "from a fresh folder" measurement: a fresh stage cache, and the wall time goes to
# experiments/bench/grid_wall.json beside the old grid's run time (experiments/size_grid_v1, world v1).
#   bash experiments/size_grid_v2/run.sh [more overrides, e.g. student=tiny seed=0]
#   python -m distill.report experiments/size_grid_v2/runs --name size_grid --out experiments/size_grid_v2/report --no-wandb
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
RUNS=${RUNS:-experiments/size_grid_v2/runs}
fresh=""
if [ -z "$(ls -A "$RUNS" 2>/dev/null)" ]; then
    fresh=1
    OUTPUT=${OUTPUT:-$(mktemp -d -t size-grid-XXXXXX)}   # stages trained by this run alone
else
    OUTPUT=${OUTPUT:-outputs/size_grid}
fi
start=$(date +%s)
$PY -m distill.train -m --config-name sweep_size_grid hydra.sweep.dir="$RUNS" paths.output_dir="$OUTPUT" "$@"
end=$(date +%s)
if [ -n "$fresh" ]; then
    $PY experiments/size_grid_v2/wall.py "$RUNS" $((end - start)) "$*" | tee experiments/bench/grid_wall.json
fi
