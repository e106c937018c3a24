"""Behaviour cloning: next-token cross-entropy on the teacher's sub-question tokens.

Paper: Tarasov & Shridhar 2024 (arXiv 2402.01812), BC and Filtered BC baselines; reference code
``DT6A/GSM8K-AI-SubQ`` (baselines/finetune_gpt_qg.py). Filtered BC is this objective on the
decompositions whose final answer was right (the filter lives in ``distill.training.selection``).
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from distill.algorithms.logprobs import action_logps, masked_nll
from distill.algorithms.optim import attention_matrices, optimizer_with_schedule
from distill.core.contracts import ScorerFactories
from distill.core.records import Record
from distill.measurement.decoding import LMScorer
from distill.students import Student


class PolicyObjective:
    """The part of the objective contract shared by objectives that train the student alone: it decodes on
    its own (greedy), with nothing saved beside it and no critic."""

    student_only = True

    def scorers(self, student: Student, betas: list[float] | None = None) -> ScorerFactories:
        """Greedy decoding from the student itself (``betas`` are for value-guided objectives)."""
        return {"greedy": lambda: LMScorer(student.model)}

    def save_extras(self, folder: Path) -> None:
        """Nothing beyond the student itself."""

    @classmethod
    def saved_decoding(
        cls, folder: Path, student: Student, betas: list[float] | None = None, top_k: int | None = None
    ) -> tuple[ScorerFactories, None]:
        """Greedy decoding from the saved student; no critic."""
        return {"greedy": lambda: LMScorer(student.model)}, None

    def critic(self) -> None:
        """No critic: the student decodes on its own."""
        return None


class BCModule(PolicyObjective, pl.LightningModule):
    """Hyper-parameters come from ``conf/algorithm/bc.yaml`` (the one place they are set);
    ``total_steps``, the length of the cosine decay, is the stage's number of optimiser steps.
    ``muon_lr``: when set, the attention matrices train with Muon at this learning rate (the rest with AdamW)."""

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float,
        weight_decay: float,
        warmup_steps: int,
        total_steps: int,
        prompt_loss_weight: float,
        muon_lr: float | None,
    ) -> None:
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

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.hparams.prompt_loss_weight:
            logps = action_logps(self.model, batch["input_ids"], batch["attention_mask"], batch["action_mask"])
            return -logps.sum() / batch["action_mask"][:, 1:].sum().clamp(min=1)
        logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        # language modelling on the problem text too: a denser signal for learning to copy names
        prompt_mask = batch["attention_mask"] * (1 - batch["action_mask"])
        return masked_nll(
            logits, batch["input_ids"], batch["action_mask"]
        ) + self.hparams.prompt_loss_weight * masked_nll(logits, batch["input_ids"], prompt_mask)

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["input_ids"]))
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.loss(batch), prog_bar=True, batch_size=len(batch["input_ids"]))

    def configure_optimizers(self):
        h = self.hparams
        return optimizer_with_schedule(
            self.model.parameters(),
            h.lr,
            h.weight_decay,
            h.warmup_steps,
            h.total_steps,
            self.trainer.precision,
            attention_matrices(self.model),
            h.muon_lr,
        )
