#!/usr/bin/env bash
# The cascade on world v1 (WORLD= for the default world): the main job's student then (DPO from a Filtered BC stage:
# python -m distill.train +experiment=synthetic_dpo, seeds 0-2), then
# python -m distill.cascade on it; results.json and cascade.json of each seed are kept under runs/.
# Resumable: a seed whose cascade.json is committed is skipped; a trained run is not trained again.
#   bash experiments/cascade_v1/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
# world v1, as the committed results (docs/synthetic_world.md); WORLD="" for the default world
WORLD=${WORLD-world=v1}
OUT=${DISTILL_OUTPUT_DIR:-outputs}/cascade_runs
for seed in 0 1 2; do
  keep="experiments/cascade_v1/runs/seed$seed"
  [ -f "$keep/cascade.json" ] && { echo "skip seed $seed"; continue; }
  mkdir -p "$keep"
  $PY -m distill.train $WORLD +experiment=synthetic_dpo seed=$seed '~logger' skip_done=true hydra.run.dir="$OUT/seed$seed" > "$OUT/seed$seed.log" 2>&1
  $PY -m distill.cascade $WORLD ckpt_path="$OUT/seed$seed" > "$OUT/seed$seed.cascade.log" 2>&1
  cp "$OUT/seed$seed/results.json" "$OUT/seed$seed/cascade.json" "$keep/"
  echo "done seed $seed"
done
$PY -m distill.report experiments/cascade_v1/runs --name cascade --out experiments/cascade_v1/report --no-wandb > /dev/null
