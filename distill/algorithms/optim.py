"""The optimiser every objective uses: AdamW without decay on biases and norms (optionally Muon on the
attention matrices), warm-up then cosine decay."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable

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


class StackedMuon(torch.optim.Optimizer):
    """Muon (Jordan et al. 2024; the update of ``torch.optim.Muon`` with Nesterov momentum, five quintic
    Newton-Schulz iterations, the learning rate scaled by sqrt(max(1, rows / columns)), no weight decay), with the
    matrices of one shape orthogonalised together as one batch: one chain of batched products instead of one per
    matrix (with AdamW, for the small student: 2.7 to 3.8 ms a step against 6.2 to 8.8 ms with
    ``torch.optim.Muon``, ``experiments/bench/muon_step_bench.py``).

    ``ns_dtype``: the Newton-Schulz iterations' dtype; by default bfloat16 on an accelerator (as
    ``torch.optim.Muon``) and on a CPU with bfloat16 matrix hardware (AMX or AVX-512 BF16: 0.2x the time of float32
    for medium's matrices on a Xeon with AMX), float32 on other CPUs, where bfloat16 products took 22x (small) to
    40x (medium) the time of float32 ones (an AVX2 EPYC; ``experiments/bench/newton_schulz_dtype.py``)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float,
        momentum: float = 0.95,
        ns_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum})
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            by_shape: dict[torch.Size, list[torch.nn.Parameter]] = {}
            for p in group["params"]:
                if p.grad is not None:
                    by_shape.setdefault(p.shape, []).append(p)
            for shape, params in by_shape.items():
                grads = [p.grad for p in params]
                buffers = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p)) for p in params]
                torch._foreach_lerp_(buffers, grads, 1 - group["momentum"])
                nesterov = torch.stack(grads).lerp_(torch.stack(buffers), group["momentum"])
                dtype = self.ns_dtype or (
                    torch.bfloat16 if nesterov.device.type != "cpu" or fast_cpu_bfloat16() else torch.float32
                )
                update = orthogonalise(nesterov, dtype=dtype).to(nesterov.dtype)
                scale = group["lr"] * math.sqrt(max(1.0, shape[0] / shape[1]))
                torch._foreach_add_(params, list(update.unbind()), alpha=-scale)
        return loss


@functools.cache  # asked on every optimiser step; the answer never changes
def fast_cpu_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX tiles or AVX-512 BF16)."""
    return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()


def orthogonalise(matrices: torch.Tensor, steps: int = 5, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """About U V^T of each matrix U S V^T of a batch, by quintic Newton-Schulz iterations in ``dtype`` (with the
    coefficients of ``torch.optim.Muon``, which runs them in bfloat16)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = matrices.to(dtype)
    wide = x.shape[-2] <= x.shape[-1]
    x = x if wide else x.mT
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=1e-7)
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x if wide else x.mT


class MuonAdamW(torch.optim.Optimizer):
    """Muon (``StackedMuon``: momentum orthogonalised by Newton-Schulz iterations) on ``muon_params``, AdamW on
    the groups of ``adamw_groups``: one optimiser for Lightning. Its parameter groups are the two
    optimisers' own, so that a learning-rate schedule and gradient clipping reach both."""

    def __init__(
        self,
        muon_params: list[torch.nn.Parameter],
        muon_lr: float,
        adamw_groups: list[dict],
        lr: float,
        betas: tuple[float, float],
        fused: bool,
    ) -> None:
        self.muon = StackedMuon(muon_params, lr=muon_lr)
        self.adamw = torch.optim.AdamW(adamw_groups, lr=lr, betas=betas, fused=fused)
        super().__init__(self.adamw.param_groups + self.muon.param_groups, {})

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = self.adamw.step(closure)  # the closure (Lightning's forward and backward) runs once, here
        self.muon.step()
        return loss

    def state_dict(self) -> dict:
        return {"adamw": self.adamw.state_dict(), "muon": self.muon.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.adamw.load_state_dict(state_dict["adamw"])
        self.muon.load_state_dict(state_dict["muon"])
        # loading replaces the optimisers' group dicts: share the new ones again
        self.param_groups = self.adamw.param_groups + self.muon.param_groups


def optimizer_with_schedule(
    params: Iterable[torch.nn.Parameter],
    lr: float,
    weight_decay: float,
    warmup_steps: int,
    total_steps: int,
    precision: str = "32-true",
    muon_params: Iterable[torch.nn.Parameter] = (),
    muon_lr: float | None = None,
) -> dict:
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
