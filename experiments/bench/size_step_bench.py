"""Training speed by student size: our BC training steps per second (batch 8, the world-v2 teacher's episodes) for each
from-scratch size, one thread, the sizes timed in turn and repeated, and each size's time per step against medium's.
What a recipe trial or a grid run of a size costs, before launching one (issue 29: is a `large` search affordable?).

    python experiments/bench/size_step_bench.py [STEPS] [ROUNDS]
"""

import sys

import torch

from distill.bench.common import bench_inputs, train_config
from distill.bench.training import lightning_tokens_per_s
from distill.training.fitting import fresh_student

torch.set_num_threads(1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
inputs = bench_inputs(None, 2000, 10, 0)
sizes = ["tiny", "small", "medium", "large"]
best: dict[str, float] = {}
params: dict[str, int] = {}
for _ in range(rounds):
    for size in sizes:
        torch.manual_seed(0)
        student = fresh_student(train_config([f"student={size}"]).student, inputs.records)
        params[size] = sum(p.numel() for p in student.model.parameters())
        items = [
            {"input_ids": e.input_ids, "action_mask": e.action_mask}
            for e in (student.episode(r.problem, r.subquestions) for r in inputs.records)
        ]
        _, steps_per_s = lightning_tokens_per_s(student, items, 8, steps, None)
        best[size] = max(best.get(size, 0.0), steps_per_s)
for size in sizes:
    print(
        f"{size}: {params[size] / 1e6:.2f}M parameters, {best[size]:.2f} steps/s at batch 8, "
        f"{best['medium'] / best[size]:.2f}x medium's time per step"
    )
