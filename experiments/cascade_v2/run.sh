#!/usr/bin/env bash
# The cascade on world v2 (the default world): python -m distill.cascade on the Filtered BC students of
# experiments/offline_v2 (seeds 0-2; their run folders stay on the machine that trained them: run
# `python -m distill.train -m --config-name sweep_offline_v2` first). results.json and cascade.json of each seed
# are kept under runs/. Resumable: a seed whose cascade.json is committed is skipped.
#   bash experiments/cascade_v2/run.sh            (RUN=synthetic_dpo for the DPO students)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
RUN=${RUN:-synthetic_fbc_scratch}
for seed in 0 1 2; do
  keep="experiments/cascade_v2/runs/seed$seed"
  [ -f "$keep/cascade.json" ] && { echo "skip seed $seed"; continue; }
  run="experiments/offline_v2/runs/+experiment=$RUN,seed=$seed"
  mkdir -p "$keep"
  # the path quoted for Hydra: the folder name holds '=' and ','
  $PY -m distill.cascade seed=$seed threads=1 ckpt_path="'$run'" > "$keep/cascade.log" 2>&1
  cp "$run/results.json" "$run/cascade.json" "$keep/"
  echo "done seed $seed"
done
$PY -m distill.report experiments/cascade_v2/runs --name cascade_v2 --out experiments/cascade_v2/report --no-wandb > /dev/null
