#!/usr/bin/env bash
# Online GRPO against DPO from the same Filtered BC first stage (small student, k = 1 answerer), per world and
# seed. The first stage is trained once per world and seed and shared through the stage cache (outputs/stages).
# One run at a time (the other core is left for other jobs). A rerun skips finished runs (skip_done).
# Results: runs/<world>_<objective>_seed<N>/results.json.
# Usage: WORLDS="v1" SEEDS="0 1 2" [STEP_CREDIT=1] [CONTROL=1] bash experiments/online_rl/run.sh (STEP_CREDIT:
# GRPO with step_credit=0.5 too; CONTROL: Filtered BC continued from the stage, 3,000 steps)
#        WORLDS="window1" SEEDS="0 1 2" [VARIANTS="refill=algorithm.module.refill_rounds=4 ..."] [VARIANTS_ONLY=1]
#        bash experiments/online_rl/run.sh: a world of conf/world, GRPO and DPO from one shared first stage, and GRPO
#        variants named NAME=override,override (VARIANTS_ONLY: the variants alone)
#        WORLDS="v2k2" SEEDS="0 1 2" bash experiments/online_rl/run.sh: world v2 with the k = 2 answerer, the small
#        world-v2 recipe's stage (recipe=small_v2), GRPO and DPO for 1,000 steps each, GRPO with no
#        per-sub-question cost, and GRPO trained only on problems the answerer cannot solve alone
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
HERE=experiments/online_rl
mkdir -p outputs
STAGE50=algorithm.pretrain.val_check_interval=50
world_args() { case "$1" in v2k2) echo "world=v2" ;; *) echo "world=$1" ;; esac; }
run() {  # run WORLD SEED NAME EXPERIMENT [overrides...]
    local world=$1 seed=$2 name=$3 experiment=$4; shift 4
    # shellcheck disable=SC2046
    $PY -m distill.train +experiment=$experiment $(world_args "$world") seed=$seed threads=1 logger=csv \
        skip_done=true "eval.also_splits=[ood]" hydra.run.dir=$HERE/runs/${world}_${name}_seed$seed "$@" \
        > outputs/online_rl_${world}_${name}_seed$seed.log 2>&1
}
for world in ${WORLDS:-v1}; do
    for seed in ${SEEDS:-0}; do
        if [ "$world" = v2k2 ]; then
            V2K2=(recipe=small_v2 answerer.k=2 trainer.max_steps=1000)
            run "$world" "$seed" grpo synthetic_grpo "${V2K2[@]}"
            run "$world" "$seed" dpo synthetic_dpo "${V2K2[@]}"
            run "$world" "$seed" grpo_no_cost synthetic_grpo "${V2K2[@]}" algorithm.module.subquestion_cost=0
            run "$world" "$seed" grpo_drop_solved_alone synthetic_grpo "${V2K2[@]}" algorithm.module.drop_solved_alone=true
            continue
        fi
        if [ "$world" != v1 ]; then  # a world of conf/world: one first stage for both (validated every 250 steps)
            if [ -z "${VARIANTS_ONLY:-}" ]; then
                run "$world" "$seed" grpo synthetic_grpo
                run "$world" "$seed" dpo synthetic_dpo
            fi
            for variant in ${VARIANTS:-}; do  # NAME=override,override...: GRPO with settings of its own
                # shellcheck disable=SC2046
                run "$world" "$seed" "grpo_${variant%%=*}" synthetic_grpo $(tr , ' ' <<< "${variant#*=}")
            done
            continue
        fi
        # GRPO's first stage as these runs trained it: validated every 50 steps, GRPO's interval (since then
        # +experiment=synthetic_grpo validates its stage every 250, as DPO's: one stage for both)
        run "$world" "$seed" grpo synthetic_grpo $STAGE50  # trains the first stage into the cache, then GRPO
        run "$world" "$seed" dpo synthetic_dpo            # its own stage (validated every 250 steps)
        run "$world" "$seed" grpo_no_dynamic synthetic_grpo $STAGE50 algorithm.module.dynamic_sampling=false
        if [ -n "${STEP_CREDIT:-}" ]; then
            run "$world" "$seed" grpo_step_credit synthetic_grpo $STAGE50 algorithm.module.step_credit=0.5
        fi
        if [ -n "${CONTROL:-}" ]; then  # more Filtered BC from the same stage, for about GRPO's training seconds:
            # DPO's control (offline_rl) with the size's recipe (batch, lr, warm-up) and 3,000 steps
            run "$world" "$seed" fbc_continued synthetic_fbc_continued algorithm.name=filtered_bc \
                algorithm.batch_size=null 'algorithm.module.lr=${recipe.lr}' \
                'algorithm.module.warmup_steps=${recipe.warmup_steps}' trainer.max_steps=3000 trainer.val_check_interval=500
        fi
    done
done
