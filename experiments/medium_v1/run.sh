#!/usr/bin/env bash
# World v1: why the medium student fell in the size grid, five single runs (README), then curves.py's table.
# Resumable: a run whose results.json exists is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=experiments/medium_v1/runs
run() {  # run NAME OVERRIDES...
    local name=$1; shift
    python -m distill.train --config-name sweep_synthetic_gap +experiment=synthetic_fbc_scratch answerer.k=1 threads=1 \
        skip_done=true hydra.run.dir=$RUNS/$name "$@"
}
run fbc_seed1_steps3000 student=medium seed=1 recipe.steps=3000
run fbc_seed1_warmup200 student=medium seed=1 recipe.warmup_steps=200
run small_with_medium_recipe_seed1 student=small recipe=medium seed=1
for seed in 0 1 2; do run medium_with_small_recipe_seed$seed student=medium recipe=small seed=$seed; done
python experiments/medium_v1/curves.py
