#!/usr/bin/env bash
# World v2: the recipe search of each from-scratch size with Muon (conf/sweep_recipe_v2.yaml), then table.py.
# Resumable: a relaunch replays the seeded sampler and skips done trials.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m distill.train -m --config-name sweep_recipe_v2 student=tiny
python -m distill.train -m --config-name sweep_recipe_v2 student=small
python -m distill.train -m --config-name sweep_recipe_v2 student=medium data.episodes=8000 \
    hydra.sweeper.n_jobs=2 hydra/launcher=joblib hydra.launcher.n_jobs=2
python experiments/recipes_v2/table.py
