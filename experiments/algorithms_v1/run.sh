#!/usr/bin/env bash
# World v1: BC, Filtered BC and ILQL (full, sparse) over seeds 0, 1, 2 (conf/sweep_synthetic_algorithms.yaml), then
# the report. Resumable: the sweep skips runs whose results.json exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m distill.train -m --config-name sweep_synthetic_algorithms hydra.sweep.dir=experiments/algorithms_v1/runs "$@"
python -m distill.report experiments/algorithms_v1/runs --name synthetic_algorithms --out experiments/algorithms_v1/report \
    --no-wandb > /dev/null
