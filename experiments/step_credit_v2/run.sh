#!/usr/bin/env bash
# World v2: counterfactual step credit against the oracle's labels, seeds 0, 1, 2 (no training; README).
set -euo pipefail
cd "$(dirname "$0")/../.."
python experiments/step_credit_v1/measure.py 0 1 2
