#!/usr/bin/env bash
# Round 4: which of world v2's difficulty knobs stop the small student (one knob at a time, seed 0), with the
# best recipe found so far on world v2 (the search's trial 0: 2,000 steps, AdamW 6.47e-4, Muon 0.0114, warm-up
# 200, batch 8, all 200 validation problems): its trial 0 (experiments/recipes_v2/runs/small/0) is the
# baseline. One run at a time; a rerun skips finished runs. Results: runs/<variant>/results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
run() {
    local name=$1; shift
    $PY -m distill.train +experiment=synthetic_fbc_scratch seed=0 threads=1 logger=none skip_done=true \
        eval.samples=0 eval.teacher_samples=1 stage_cache=null data.max_val_problems=200 \
        recipe=small_speedrun recipe.steps=2000 \
        recipe.lr=6.466e-4 recipe.muon_lr=0.01139 recipe.warmup_steps=200 \
        hydra.run.dir=experiments/v2_learnability/runs/$name "$@" > outputs/v2_learnability_$name.log 2>&1
}

run same_item dataset.world.item_change_rate=0
run fewer_steps dataset.world.max_steps=4
run fewer_distractors dataset.world.min_distractor_chains=0 dataset.world.max_distractor_chains=1 \
    dataset.world.min_given_distractors=0
