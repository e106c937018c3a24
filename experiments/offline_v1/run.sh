#!/usr/bin/env bash
# World v1: the objectives that compare samples of one problem and their controls, seeds 0, 1, 2
# (conf/sweep_offline_rl.yaml; runs into experiments/offline_v1/runs), then the report. Resumable (skip_done).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m distill.train -m --config-name sweep_offline_rl "+experiment=synthetic_dpo,synthetic_fbc_continued,synthetic_ilql_fbc" "$@"
python -m distill.train -m --config-name sweep_offline_rl "+experiment=synthetic_bc,synthetic_fbc_scratch,synthetic_awr" "$@"
python -m distill.report experiments/offline_v1/runs --name offline_rl --out experiments/offline_v1/report --no-wandb > /dev/null
