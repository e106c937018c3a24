#!/usr/bin/env bash
# GRPO and DPO on world v2 (k = 1 answerer, small student, seed 0) from the stage trained on 32,000 problems for
# 16,000 steps (experiments/learnability_v2/run.sh, round 5: runs/data_32k_16000, which must have run first; its
# student/ folder stays on the machine that trained it). 1,000 steps each; a rerun skips finished runs.
#   bash experiments/grpo_v2/run.sh && python experiments/grpo_v2/table.py
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
STAGE=experiments/learnability_v2/runs/data_32k_16000
run() {
    local name=$1; shift
    $PY -m distill.train world=v2 seed=0 threads=1 logger=csv skip_done=true recipe=small_v2 student=small answerer.k=1 \
        dataset.sizes.train=32000 algorithm.init_from=$STAGE trainer.max_steps=1000 trainer.val_check_interval=100 \
        data.max_val_problems=200 eval.samples=0 stage_cache=null hydra.run.dir=experiments/grpo_v2/runs/$name "$@" \
        > outputs/grpo_v2_$name.log 2>&1
}
run grpo_from_32k_stage_seed0 +experiment=synthetic_grpo &
run dpo_from_32k_stage_seed0 +experiment=synthetic_dpo &
wait
run grpo_t0.5_from_32k_stage_seed0 +experiment=synthetic_grpo algorithm.module.temperature=0.5
