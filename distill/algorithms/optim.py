"""The optimiser every objective uses: AdamW without decay on biases and norms (optionally Muon on the
attention matrices), warm-up then cosine decay."""

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


def attention_matrices(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The weight matrices of a transformer's attention layers (Llama's ``self_attn.{q,k,v,o}_proj``, GPT-2's
    ``attn.c_attn`` and ``attn.c_proj``)."""
    return [p for name, p in model.named_parameters() if "attn." in name and p.ndim == 2]


class MuonAdamW(torch.optim.Optimizer):
    """Muon (``torch.optim.Muon``: momentum orthogonalised by Newton-Schulz iterations) on ``muon_params``,
    AdamW on the groups of ``adamw_groups``: one optimiser for Lightning. Its parameter groups are the two
    optimisers' own, so that a learning-rate schedule and gradient clipping reach both."""

    def __init__(self, muon_params: list[torch.nn.Parameter], muon_lr: float, adamw_groups: list[dict],
                 lr: float, betas: tuple[float, float], fused: bool) -> None:
        # no weight decay in Muon: its orthogonalised steps keep the matrices' scale (as measured, issue 13)
        self.muon = torch.optim.Muon(muon_params, lr=muon_lr, weight_decay=0.0, adjust_lr_fn="original")
        self.adamw = torch.optim.AdamW(adamw_groups, lr=lr, betas=betas, fused=fused)
        super().__init__(self.adamw.param_groups + self.muon.param_groups, {})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.adamw.step()
        self.muon.step()
        return loss

    def state_dict(self) -> dict:
        return {"adamw": self.adamw.state_dict(), "muon": self.muon.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.adamw.load_state_dict(state_dict["adamw"])
        self.muon.load_state_dict(state_dict["muon"])
        # loading replaces the optimisers' group dicts: share the new ones again
        self.param_groups = self.adamw.param_groups + self.muon.param_groups


def optimizer_with_schedule(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float,
                            warmup_steps: int, total_steps: int, precision: str = "32-true",
                            muon_params: Iterable[torch.nn.Parameter] = (), muon_lr: float | None = None) -> dict:
    """AdamW (no decay on biases and norms) with a per-step warm-up/cosine schedule, for Lightning.
    ``precision``: the trainer's; mixed precision keeps the unfused kernel (Lightning cannot clip the
    gradients of a fused optimizer under autocast). With ``muon_lr``, ``muon_params`` (among ``params``)
    are updated by Muon at that learning rate instead (``MuonAdamW``), on the same schedule."""
    muon = [p for p in muon_params if p.requires_grad] if muon_lr else []
    params = [p for p in params if p.requires_grad and all(p is not m for m in muon)]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    # the fused kernel: one pass over all parameters (measured 0.3 ms a step against 2.1 ms for the
    # default multi-tensor kernel, for the small student on this CPU)
    fused = str(precision).startswith(("32", "64")) and all(p.device.type in ("cpu", "cuda") for p in params)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if muon:
        optimizer = MuonAdamW(muon, muon_lr, groups, lr=lr, betas=(0.9, 0.95), fused=fused)
    else:
        optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=fused)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
