#!/usr/bin/env bash
# Counterfactual step credit against the oracle's labels, seeds 0, 1, 2 (no training; README): world v2 (the
# default) and the ladder level window1, each with the answerer's noise per answer or per question, and the credit
# over 1 or 4 draws. Each table is written to credit_<world>_<noise>_<draws>.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=experiments/step_credit_v2
for world in v2 window1; do
    for noise in decomposition question; do
        for draws in 1 4; do
            python $HERE/measure.py --world $world --noise $noise --draws $draws 0 1 2 \
                > $HERE/credit_${world}_${noise}_${draws}.txt
        done
    done
done
