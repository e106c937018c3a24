"""Milliseconds per optimiser step for the small student (random gradients, two threads): fused AdamW alone, AdamW
with ``torch.optim.Muon`` on the attention matrices, and ``MuonAdamW`` (AdamW with ``StackedMuon`` there), three
times, alternating. Run alone, from the checkout: ``python experiments/bench/muon_step_bench.py``."""

import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from distill.algorithms.optim import attention_matrices, optimizer_with_schedule

torch.set_num_threads(2)
with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[2] / "conf"), version_base="1.3"):
    cfg = compose(config_name="train")
model = instantiate(cfg.student)(corpus=["a b c d e f"]).model
for p in model.parameters():
    p.grad = torch.randn_like(p) * 1e-3
muon = attention_matrices(model)
rest = [p for p in model.parameters() if all(p is not m for m in muon)]
adamw = optimizer_with_schedule(model.parameters(), 4e-4, 0.01, 50, 1000)["optimizer"]
stacked = optimizer_with_schedule(model.parameters(), 4e-4, 0.01, 50, 1000, muon_params=muon, muon_lr=0.005)[
    "optimizer"
]
torch_muon = torch.optim.Muon(muon, lr=0.005, weight_decay=0.0, adjust_lr_fn="original")
torch_rest = torch.optim.AdamW(rest, lr=4e-4, fused=True)


def ms_per_step(*optimizers, steps: int = 200) -> float:
    for o in optimizers:
        o.step()
    start = time.perf_counter()
    for _ in range(steps):
        for o in optimizers:
            o.step()
    return 1000 * (time.perf_counter() - start) / steps


for _ in range(3):
    print(
        "ms per step: AdamW %.2f, AdamW + torch.optim.Muon %.2f, MuonAdamW (StackedMuon) %.2f"
        % (ms_per_step(adamw), ms_per_step(torch_rest, torch_muon), ms_per_step(stacked)),
        flush=True,
    )
