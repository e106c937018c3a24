#!/usr/bin/env bash
# World v2: BC, Filtered BC, AWR, DPO, its Filtered BC control and ILQL over seeds 0, 1, 2
# (conf/sweep_offline_v2.yaml: 18 runs, two at a time), then the report. Resumable (skip_done).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m distill.train -m --config-name sweep_offline_v2 "$@"
python -m distill.report experiments/offline_v2/runs --name offline_v2 --out experiments/offline_v2/report --no-wandb > /dev/null
