#!/usr/bin/env bash
# The synthetic_gap grid (conf/sweep_synthetic_gap.yaml: BC, Filtered BC, DPO x tiny, small, medium x k = 1, 2 x
# seeds 0-2), as two single-threaded processes side by side (one per answerer), then its report. Resumable: a
# relaunch skips every run whose results.json is in runs/ (committed). Extra arguments narrow both processes,
# e.g. `bash experiments/size_grid_v1/run.sh student=tiny,small`.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m distill.train -m --config-name sweep_synthetic_gap answerer.k=1 "$@" > outputs/synthetic_gap_k1.log 2>&1 &
python -m distill.train -m --config-name sweep_synthetic_gap answerer.k=2 "$@" > outputs/synthetic_gap_k2.log 2>&1
wait
python -m distill.report experiments/size_grid_v1/runs --name synthetic_gap --out experiments/size_grid_v1/report --no-wandb
