"""Advantage-weighted regression at the level of whole decompositions, with a group baseline.

Paper: Peng et al. 2019, "Advantage-Weighted Regression" (arXiv 1910.00177); the baseline is the mean
return of the same problem's samples, as in GRPO (Shao et al. 2024, arXiv 2402.03300). Reference for the
weighting: CORL's AWAC/IQL actors (``exp(advantage / temperature)``, clipped).

Each decomposition's return is R = correctness_weight * answer_correctness + usefulness_weight * mean
usefulness (the mean, not the sum, so that asking more questions earns nothing); its weight is
``min(exp((R - b) / temperature), max_weight)`` with b the mean R of its problem's samples. The loss is
the weighted mean token NLL of the sub-question tokens: sum_i w_i * NLL_i / sum_i w_i * n_i. As the
temperature goes to 0 every weight but the best sample's of each problem vanishes relative to it, so
AWR becomes Filtered BC on each problem's best samples; as it grows, BC on all samples.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytorch_lightning as pl
import torch

from distill.algorithms.bc import PolicyObjective
from distill.algorithms.logprobs import action_logps
from distill.algorithms.optim import optimizer_with_schedule
from distill.core.records import Record
from distill.students import Student


def sequence_return(record: Record, correctness_weight: float, usefulness_weight: float) -> float:
    scores = record.usefulness or []
    return correctness_weight * (record.answer_correctness or 0.0) + usefulness_weight * (
        sum(scores) / len(scores) if scores else 0.0
    )


def group_weights(
    records: list[Record], temperature: float, max_weight: float, correctness_weight: float, usefulness_weight: float
) -> list[float]:
    """exp((R - mean R of the same problem) / temperature), clipped at ``max_weight``, per record."""
    returns = [sequence_return(r, correctness_weight, usefulness_weight) for r in records]
    by_problem: dict[str, list[float]] = defaultdict(list)
    for r, value in zip(records, returns):
        by_problem[r.problem_id].append(value)
    baseline = {pid: sum(v) / len(v) for pid, v in by_problem.items()}
    # the exponent is clipped first, so that a tiny temperature cannot overflow
    limit = math.log(max_weight)
    return [math.exp(min((value - baseline[r.problem_id]) / temperature, limit)) for r, value in zip(records, returns)]


class AWRModule(PolicyObjective, pl.LightningModule):
    """Hyper-parameters come from ``conf/algorithm/awr.yaml`` and the reward group (the one place they are
    set); ``total_steps``, the length of the cosine decay, is the stage's number of optimiser steps."""

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float,
        weight_decay: float,
        warmup_steps: int,
        total_steps: int,
        temperature: float,
        max_weight: float,
        correctness_weight: float,
        usefulness_weight: float,
    ) -> None:
        super().__init__()
        if temperature <= 0 or max_weight <= 0:
            raise ValueError(f"AWR needs temperature > 0 and max_weight > 0, got {temperature}, {max_weight}")
        self.model = model
        self.save_hyperparameters(ignore=["model"])

    def make_items(self, student: Student, records: list[Record]) -> list[dict]:
        """Training items: token ids, the action mask, and the decomposition's weight."""
        h = self.hparams
        weights = group_weights(records, h.temperature, h.max_weight, h.correctness_weight, h.usefulness_weight)
        items = []
        for r, weight in zip(records, weights):
            e = student.episode(r.problem, r.subquestions)
            items.append({"input_ids": e.input_ids, "action_mask": e.action_mask, "weight": weight})
        return items

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logps = action_logps(self.model, batch["input_ids"], batch["attention_mask"], batch["action_mask"])
        weights = batch["action_mask"][:, 1:] * batch["weight"][:, None]
        return -(logps * weights).sum() / weights.sum().clamp(min=1e-8)

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["input_ids"]))
        self.log("train/mean_weight", batch["weight"].mean(), batch_size=len(batch["input_ids"]))
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.loss(batch), prog_bar=True, batch_size=len(batch["input_ids"]))

    def configure_optimizers(self):
        h = self.hparams
        return optimizer_with_schedule(
            self.model.parameters(), h.lr, h.weight_decay, h.warmup_steps, h.total_steps, self.trainer.precision
        )
