#!/usr/bin/env bash
# The cascade on world v2 (the default world): python -m distill.cascade on the Filtered BC students of
# experiments/offline_v2 (seeds 0-2). Where a student's run folder is not on this machine (a fresh clone keeps only
# results.json), the same run is trained again under outputs/. results.json and cascade.json of each seed are kept
# under runs/. Resumable: a seed whose cascade.json is committed is skipped.
#   bash experiments/cascade_v2/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${DISTILL_OUTPUT_DIR:-outputs}/cascade_v2_runs
for seed in 0 1 2; do
  keep="experiments/cascade_v2/runs/seed$seed"
  [ -f "$keep/cascade.json" ] && { echo "skip seed $seed"; continue; }
  mkdir -p "$keep" "$OUT"
  run="experiments/offline_v2/runs/+experiment=synthetic_fbc_scratch,seed=$seed"
  if [ ! -d "$run/student" ]; then  # the sweep's run, as sweep_offline_v2 composes it
    run="$OUT/seed$seed"
    $PY -m distill.train world=v2 +experiment=synthetic_fbc_scratch seed=$seed threads=1 logger=none "eval.also_splits=[ood]" \
      skip_done=true hydra.run.dir="$run" > "$OUT/seed$seed.log" 2>&1
  fi
  # the path quoted for Hydra: the sweep's folder names hold '=' and ','
  $PY -m distill.cascade world=v2 seed=$seed threads=1 ckpt_path="'$run'" > "$OUT/seed$seed.cascade.log" 2>&1
  cp "$run/results.json" "$run/cascade.json" "$keep/"
  echo "done seed $seed"
done
$PY -m distill.report experiments/cascade_v2/runs --name cascade_v2 --out experiments/cascade_v2/report --no-wandb > /dev/null
