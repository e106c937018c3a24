"""Direct preference optimisation on pairs of decompositions of the same problem.

Papers: Rafailov et al. 2023, "Direct Preference Optimization" (arXiv 2305.18290), loss ``sigmoid``;
Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences" (arXiv
2310.12036), loss ``ipo``; Pang et al. 2024 (arXiv 2404.19733) add an NLL term on the chosen sample
("RPO", ``nll_weight``). Reference implementation: TRL's ``DPOTrainer`` (trl/trainer/dpo_trainer.py),
whose formulas these follow: with h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l)),
sigmoid: -(1 - eps) log sigma(beta h) - eps log sigma(-beta h); ipo: (h - 1 / (2 beta))^2 with
log-probabilities averaged over tokens, as TRL does for IPO.

Pairs come from the teacher's samples of one problem: a decomposition with the right answer over one with
a wrong answer, and (optionally) among samples that are equally right, the one the judge found more useful
(``min_usefulness_gap``). Log-probabilities are summed over the sub-question tokens only. The reference
policy is the student as it starts this stage (a Filtered BC or BC stage, or a saved student), kept as a frozen
copy; its log-probabilities of a pair are computed the first time a batch holds the pair and kept: a run
pays for the pairs it trains on, not for every pair (a short DPO run on a large teacher run uses few).
"""

from __future__ import annotations

from typing import ClassVar

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from distill.algorithms.bc import PolicyObjective
from distill.algorithms.logprobs import FrozenReference, frozen_copy, sequence_logps
from distill.algorithms.optim import optimizer_with_schedule
from distill.core.config_checks import Choice, Number, Rule
from distill.core.records import Record, group_by_problem
from distill.students import Student

LOSS_TYPES = ("sigmoid", "ipo")


def mean_usefulness(record: Record) -> float:
    return sum(record.usefulness) / len(record.usefulness) if record.usefulness else 0.0


def preference_pairs(records: list[Record], min_usefulness_gap: float | None) -> list[tuple[Record, Record]]:
    """(chosen, rejected) pairs among the samples of each problem: every right sample over every wrong one;
    with ``min_usefulness_gap``, also among samples equally right, the more useful over the less useful by
    at least that gap. Pairs of identical decompositions are left out."""
    pairs = []
    for group in group_by_problem(records).values():
        for a in group:
            for b in group:
                if a.subquestions == b.subquestions:
                    continue
                right_over_wrong = (a.answer_correctness or 0.0) > (b.answer_correctness or 0.0)
                more_useful = (
                    min_usefulness_gap is not None
                    and a.answer_correctness == b.answer_correctness
                    and mean_usefulness(a) - mean_usefulness(b) >= min_usefulness_gap
                )
                if right_over_wrong or more_useful:
                    pairs.append((a, b))
    return pairs


def dpo_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    loss_type: str,
    label_smoothing: float,
) -> torch.Tensor:
    """Per-pair loss from the policy's and the reference's sequence log-probabilities (TRL's formulas)."""
    h = (chosen - ref_chosen) - (rejected - ref_rejected)
    if loss_type == "sigmoid":
        return -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    if loss_type == "ipo":
        return (h - 1 / (2 * beta)) ** 2
    raise ValueError(f"unknown loss_type {loss_type!r}; valid: {', '.join(LOSS_TYPES)}")


class DPOModule(FrozenReference, PolicyObjective, pl.LightningModule):
    """Hyper-parameters come from ``conf/algorithm/dpo.yaml`` (the one place they are set); ``total_steps``,
    the length of the cosine decay, is the stage's number of optimiser steps."""

    # what the config check refuses when the config is composed, before any work (distill/core/config_checks.py)
    CHECKS: ClassVar[dict[str, Rule]] = {"loss_type": Choice(LOSS_TYPES), "beta": Number(0, open_low=True)}

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float,
        weight_decay: float,
        warmup_steps: int,
        total_steps: int,
        beta: float,
        loss_type: str,
        label_smoothing: float,
        nll_weight: float,
        min_usefulness_gap: float | None,
    ) -> None:
        super().__init__()
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"unknown loss_type {loss_type!r}; valid: {', '.join(LOSS_TYPES)}")
        self.model = model
        # the frozen reference: the student as this stage starts (kept in checkpoints, so a resumed run has it)
        self.reference = frozen_copy(model)
        self.save_hyperparameters(ignore=["model"])
        self.pairs = 0  # pairs made so far (train and validation): each item's pair_id
        self.reference_logps: dict[int, tuple[float, float]] = {}  # pair_id -> the reference's (chosen, rejected)

    def make_items(self, student: Student, records: list[Record]) -> list[dict]:
        """One item per preference pair, numbered (``pair_id``) across every call, so that the reference's
        log-probabilities of a pair are computed once however often it is trained or validated on."""
        items = []
        for chosen, rejected in preference_pairs(records, self.hparams.min_usefulness_gap):
            item = {"pair_id": self.pairs}
            self.pairs += 1
            for side, record in (("chosen_", chosen), ("rejected_", rejected)):
                e = student.episode(record.problem, record.subquestions)
                item[side + "input_ids"], item[side + "action_mask"] = e.input_ids, e.action_mask
            items.append(item)
        return items

    @torch.no_grad()
    def reference_pair_logps(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference's sequence log-probabilities of the batch's chosen and rejected samples ([B] each);
        only the pairs not seen before run through the reference."""
        ids = [int(i) for i in batch["pair_id"].tolist()]  # (collated as floats)
        new = [row for row, i in enumerate(ids) if i not in self.reference_logps]
        if new:
            rows = torch.tensor(new)
            found = []
            for side in ("chosen_", "rejected_"):
                mask = batch[side + "attention_mask"][rows]
                length = int(mask.sum(-1).max())  # right padding: the new rows' own longest
                found.append(
                    sequence_logps(
                        self.reference,
                        batch[side + "input_ids"][rows, :length],
                        mask[:, :length],
                        batch[side + "action_mask"][rows, :length],
                    )[0].tolist()
                )
            for row, c, r in zip(new, *found):
                self.reference_logps[ids[row]] = (c, r)
        values = torch.tensor([self.reference_logps[i] for i in ids], dtype=torch.float32, device=self.device)
        return values[:, 0], values[:, 1]

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        h = self.hparams
        chosen, n_chosen = sequence_logps(
            self.model, batch["chosen_input_ids"], batch["chosen_attention_mask"], batch["chosen_action_mask"]
        )
        rejected, n_rejected = sequence_logps(
            self.model, batch["rejected_input_ids"], batch["rejected_attention_mask"], batch["rejected_action_mask"]
        )
        ref_chosen, ref_rejected = self.reference_pair_logps(batch)
        if h.loss_type == "ipo":  # IPO compares mean per-token log-probabilities (as TRL)
            chosen, rejected = chosen / n_chosen, rejected / n_rejected
            ref_chosen, ref_rejected = ref_chosen / n_chosen, ref_rejected / n_rejected
        preference = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, h.beta, h.loss_type, h.label_smoothing).mean()
        # the NLL anchor on the chosen samples, per token (RPO); guards against both log-probabilities falling
        nll = -(chosen.sum() / n_chosen.sum()) if h.loss_type != "ipo" else -chosen.mean()
        total = preference + h.nll_weight * nll
        with torch.no_grad():
            margin = (chosen - ref_chosen) - (rejected - ref_rejected)
        return {
            "loss": total,
            "preference_loss": preference,
            "nll": nll,
            "margin": margin.mean(),
            "accuracy": (margin > 0).float().mean(),
            "chosen_logp": chosen.mean(),
            "rejected_logp": rejected.mean(),
        }

    def _log(self, split: str, values: dict[str, torch.Tensor], batch_size: int) -> None:
        for name, value in values.items():
            self.log(f"{split}/{name}", value, prog_bar=name == "loss", batch_size=batch_size)

    def training_step(self, batch, batch_idx):
        values = self.losses(batch)
        self._log("train", values, len(batch["chosen_input_ids"]))
        return values["loss"]

    def validation_step(self, batch, batch_idx):
        self._log("val", self.losses(batch), len(batch["chosen_input_ids"]))

    def configure_optimizers(self):
        h = self.hparams
        return optimizer_with_schedule(
            self.model.parameters(), h.lr, h.weight_decay, h.warmup_steps, h.total_steps, self.trainer.precision
        )
