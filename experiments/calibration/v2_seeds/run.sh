#!/usr/bin/env bash
# World v2's calibration on seeds 0, 1 and 2, and world v1's for comparison (docs/synthetic_world.md): the text
# rule, the gold decomposition, gold plus two irrelevant sub-questions, the teacher's rows, P(correct | answered),
# the teacher's accuracy by operations. Keeps each calibration.json here as <name>.json.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${DISTILL_OUTPUT_DIR:-outputs}/calibration
for seed in 0 1 2; do
    python -m distill.synthetic.calibration world=v2 seed=$seed hydra.run.dir=$out/seed$seed
    cp $out/seed$seed/calibration.json experiments/calibration/v2_seeds/seed$seed.json
done
python -m distill.synthetic.calibration world=v1 hydra.run.dir=$out/world_v1
cp $out/world_v1/calibration.json experiments/calibration/v2_seeds/world_v1.json
