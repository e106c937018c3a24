#!/usr/bin/env bash
# World v1: the recipe search of each from-scratch size (Optuna on validation accuracy; conf/sweep_recipe.yaml),
# then the report of the search history. Resumable: a relaunch replays the seeded sampler and skips done trials.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m distill.train -m --config-name sweep_recipe student=tiny hydra.sweeper.n_trials=20
python -m distill.train -m --config-name sweep_recipe student=small hydra.sweeper.n_trials=20
python -m distill.train -m --config-name sweep_recipe student=medium hydra.sweeper.n_trials=8
python -m distill.report experiments/recipes_v1/runs --name recipes --out experiments/recipes_v1/report --no-wandb > /dev/null
