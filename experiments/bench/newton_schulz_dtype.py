"""Muon's Newton-Schulz iterations in bfloat16 (``distill.algorithms.optim.orthogonalise``, as the optimiser runs them)
against the same iterations in float32, on the stacked attention matrices of the small and medium students, one thread,
side by side: on a CPU without fast bfloat16 matrix products the bfloat16 chain is most of a Muon training step.

    python experiments/bench/newton_schulz_dtype.py
"""

import time

import torch

from distill.algorithms.optim import orthogonalise

torch.set_num_threads(1)


def orthogonalise_float32(matrices: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """``orthogonalise`` without the cast to bfloat16 (square matrices here, so no transpose)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = matrices / matrices.norm(dim=(-2, -1), keepdim=True).clamp(min=1e-7)
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x


def best_ms(fn, x: torch.Tensor, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


for name, shape in [("small (2 layers x 4 matrices of 128 x 128)", (8, 128, 128)),
                    ("medium (4 layers x 4 matrices of 256 x 256)", (16, 256, 256))]:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    bf16, fp32 = best_ms(orthogonalise, x), best_ms(orthogonalise_float32, x)
    gap = (orthogonalise(x).float() - orthogonalise_float32(x)).abs().max().item()
    print(f"{name}: bfloat16 {bf16:.1f} ms, float32 {fp32:.1f} ms, {bf16 / fp32:.1f}x; largest difference {gap:.3f}")
