"""Lightning callbacks: generation-based validation (accuracy through the answerer)."""

from __future__ import annotations

from collections.abc import Callable

import pytorch_lightning as pl

from distill.core.contracts import Answerer, Problem
from distill.measurement.decoding import Scorer
from distill.measurement.rows import decompose, score_decompositions
from distill.students import Student


class GenerationValidation(pl.Callback):
    """At each validation, decode the validation problems and log ``val/accuracy`` (for checkpointing);
    ``curve`` keeps [step, accuracy] of every validation and ``loss_curve`` [step, val/loss] where the objective
    logs a held-out loss (both kept in checkpoints, so a resumed run has them whole)."""

    def __init__(
        self,
        student: Student,
        problems: list[Problem],
        answerer: Answerer,
        batch_size: int = 64,
        scorer_factory: Callable[[], Scorer] | None = None,
    ) -> None:
        self.student, self.problems, self.answerer = student, problems, answerer
        self.batch_size, self.scorer_factory = batch_size, scorer_factory
        self.curve: list[list[float]] = []
        self.loss_curve: list[list[float]] = []

    def state_dict(self) -> dict:
        return {"curve": self.curve, "loss_curve": self.loss_curve}

    def load_state_dict(self, state_dict: dict) -> None:
        self.curve = state_dict["curve"]
        self.loss_curve = state_dict.get("loss_curve", [])  # checkpoints from before it was kept

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not self.problems:
            return
        decompositions = decompose(
            self.student,
            self.problems,
            batch_size=self.batch_size,
            scorer_factory=self.scorer_factory,
            desc="validation decodes",
        )
        metrics, _ = score_decompositions(self.problems, decompositions, self.answerer, None, "student")
        pl_module.log("val/accuracy", metrics["accuracy"], prog_bar=True)
        self.curve.append([trainer.global_step, metrics["accuracy"]])
        loss = trainer.callback_metrics.get("val/loss")  # the objective's held-out loss, reduced over the epoch
        if loss is not None:
            self.loss_curve.append([trainer.global_step, round(float(loss), 5)])
        pl_module.log("val/mean_subquestions", metrics["mean_subquestions"])
        for habit, rate in metrics.get("decisions", {}).items():
            pl_module.log(f"val/decision/{habit}", rate["gold_rate"])
        pl_module.train()
