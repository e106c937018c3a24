"""Behaviour cloning: next-token cross-entropy on the teacher's sub-question tokens.

Paper: Tarasov & Shridhar 2024 (arXiv 2402.01812), BC and Filtered BC baselines; reference code
``DT6A/GSM8K-AI-SubQ`` (baselines/finetune_gpt_qg.py). Filtered BC is this objective on the
decompositions whose final answer was right (the filter lives in ``distill.train``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from distill.decoding import LMScorer, Scorer
from distill.records import Record
from distill.students import Student


def masked_nll(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the tokens where ``mask`` is 1 (position t predicts token t + 1)."""
    targets = input_ids[:, 1:]
    weights = mask[:, 1:].float()
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), reduction="none")
    return (nll.view_as(weights) * weights).sum() / weights.sum().clamp(min=1.0)


def action_nll(logits: torch.Tensor, input_ids: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the action tokens."""
    return masked_nll(logits, input_ids, action_mask)


def warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float = 0.1):
    """Learning-rate multiplier: linear warm-up, then cosine decay to ``min_ratio``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def adamw_with_schedule(params, lr: float, weight_decay: float,
                        warmup_steps: int, total_steps: int):
    """AdamW (no decay on biases and norms) with a per-step warm-up/cosine schedule, for Lightning."""
    params = [p for p in params if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class BCModule(pl.LightningModule):
    def __init__(self, model: torch.nn.Module, lr: float = 2e-3, weight_decay: float = 0.01,
                 warmup_steps: int = 100, total_steps: int = 2000, prompt_loss_weight: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.save_hyperparameters(ignore=["model"])

    def make_items(self, student: Student, records: list[Record]) -> list[dict[str, list]]:
        """Training items: token ids and the action mask."""
        items = []
        for r in records:
            e = student.episode(r.problem, r.subquestions)
            items.append({"input_ids": e.input_ids, "action_mask": e.action_mask})
        return items

    def scorer_factory(self, student: Student, beta: float | None = None) -> Callable[[], Scorer]:
        """Greedy decoding from the student itself (``beta`` is for value-guided objectives)."""
        return lambda: LMScorer(student.model)

    def save_extras(self, folder: Path) -> None:
        """Nothing beyond the student itself."""

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = action_nll(logits, batch["input_ids"], batch["action_mask"])
        if self.hparams.prompt_loss_weight:
            # language modelling on the problem text too: a denser signal for learning to copy names
            prompt_mask = batch["attention_mask"] * (1 - batch["action_mask"])
            loss = loss + self.hparams.prompt_loss_weight * masked_nll(logits, batch["input_ids"], prompt_mask)
        return loss

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["input_ids"]))
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.loss(batch), prog_bar=True, batch_size=len(batch["input_ids"]))

    def configure_optimizers(self):
        h = self.hparams
        return adamw_with_schedule(self.model.parameters(), h.lr, h.weight_decay, h.warmup_steps,
                                   h.total_steps)
