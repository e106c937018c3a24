"""Muon's Newton-Schulz iterations in bfloat16 (``distill.algorithms.optim.orthogonalise``, as the optimiser runs them)
against the same iterations in float32, on the stacked attention matrices of the small and medium students, one thread,
side by side: on a CPU without fast bfloat16 matrix products the bfloat16 chain is most of a Muon training step.

    python experiments/bench/newton_schulz_dtype.py
"""

import torch

from distill.algorithms.optim import orthogonalise
from distill.bench.common import best_time

torch.set_num_threads(1)

for name, shape in [
    ("small (2 layers x 4 matrices of 128 x 128)", (8, 128, 128)),
    ("medium (4 layers x 4 matrices of 256 x 256)", (16, 256, 256)),
]:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    bf16, fp32 = (
        1000 * best_time(lambda: orthogonalise(x, dtype=dtype), 5) for dtype in (torch.bfloat16, torch.float32)
    )
    gap = (orthogonalise(x).float() - orthogonalise(x, dtype=torch.float32)).abs().max().item()
    print(f"{name}: bfloat16 {bf16:.1f} ms, float32 {fp32:.1f} ms, {bf16 / fp32:.1f}x; largest difference {gap:.3f}")
