#!/usr/bin/env bash
# Why does the small student not learn world v2? Filtered BC from scratch (the main job's first stage: the small
# recipe, 3,000 steps), seed 0, on world v2 as it is against one knob changed at a time. Two single-threaded runs
# side by side; a rerun skips finished runs (skip_done). Results: runs/<variant>/results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
run() {
    local name=$1; shift
    $PY -m distill.train world=v2 +experiment=synthetic_fbc_scratch seed=0 threads=1 logger=none skip_done=true \
        eval.samples=0 eval.teacher_samples=1 stage_cache=null \
        hydra.run.dir=experiments/learnability_v2/runs/$name "$@" > outputs/v2_learnability_$name.log 2>&1
}
run names_320 &
run names_40 dataset.world.n_names=40 &
wait
run in_order dataset.world.shuffle_facts=false &
run one_template dataset.world.templates=1 &
wait
# second round: the optimiser (Muon on the attention matrices, the speedrun's learning rates, the searched
# recipe's 3,000 steps) and depth (4 layers instead of 2, same width, same Muon recipe)
run muon recipe=small_speedrun recipe.steps=3000 &
run muon_4layers recipe=small_speedrun recipe.steps=3000 student.n_layer=4 &
wait
# third round: data. The recipe of the world-v2 search's trial 0 (experiments/recipes_v2/runs/small/0: 2,000
# steps, AdamW 6.47e-4, Muon 0.0114, warm-up 200; 0.084 on test with 2,000 training problems), on 8,000 problems
run more_data recipe=small_speedrun recipe.steps=2000 recipe.lr=6.466e-4 recipe.muon_lr=0.01139 \
    recipe.warmup_steps=200 dataset.sizes.train=8000
# round 4: world knobs one at a time, with the best recipe found so far on world v2 (the search's trial 0:
# 2,000 steps, AdamW 6.47e-4, Muon 0.0114, warm-up 200, batch 8, all 200 validation problems); its run on the
# default world (experiments/recipes_v2/runs/small/0) is the baseline
TRIAL0=(data.max_val_problems=200 recipe=small_speedrun recipe.steps=2000 recipe.lr=6.466e-4 recipe.muon_lr=0.01139
        recipe.warmup_steps=200)
run same_item "${TRIAL0[@]}" dataset.world.item_change_rate=0 &
run fewer_steps "${TRIAL0[@]}" dataset.world.max_steps=4 &
wait
run fewer_distractors "${TRIAL0[@]}" dataset.world.min_distractor_chains=0 dataset.world.max_distractor_chains=1 \
    dataset.world.min_given_distractors=0
# round 5: data and steps. The world-v2 small recipe (recipe=small_v2) on 32,000 training problems (16 times the
# default) for 16,000 steps (8 times): 128,000 episodes, each of the 67,464 kept teacher samples seen about twice
run data_32k_16000 recipe=small_v2 answerer.k=1 dataset.sizes.train=32000 recipe.steps=16000 \
    trainer.val_check_interval=2000 data.max_val_problems=200
# reverse order (the student writes the sub-questions last first) ran from a patch in a scratch worktree; it did not
# help, and the patch was deleted (README, round 5; the patch is in git history at commit 5564f2f)
