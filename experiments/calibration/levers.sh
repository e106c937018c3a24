#!/usr/bin/env bash
# Student-side levers on one ladder level (window1, seed 0; the ordered level for the recipe): the main job's
# Filtered BC student with one setting changed each. Resumable (skip_done). Each run's results.json goes to levers/.
#   bash experiments/calibration/levers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
L=experiments/calibration/levers
run() {  # run NAME WORLD OVERRIDES...
    local name=$1 world=$2; shift 2
    python -m distill.train world=$world seed=0 threads=1 logger=none skip_done=true hydra.run.dir=$L/$name "$@" \
        > outputs/lever_$name.log 2>&1
}
mkdir -p outputs
run window1_3000_steps window1                                  # the main job as it is
run window1_6000_steps window1 recipe.steps=6000                # twice the steps (more than the 5-minute budget)
run window1_medium window1 student=medium recipe=medium_v2      # 7x the parameters, its own recipe
run window1_recipe_small_v2 window1 recipe=small_v2             # the world-v2 recipe (Muon, 2,000 steps)
run window1_prompt_loss_0.5 window1 +recipe.prompt_loss_weight=0.5   # also model the problem's text
run ordered_recipe_small_v2 ordered recipe=small_v2
