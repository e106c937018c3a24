"""The training loss and gradient norm over a run, kept in ``results.json`` (``train.train_curve``): a run that
fell behind can be told apart from one that diverged or stalled without rerunning it with a logger."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch


class TrainCurve(pl.Callback):
    """Every ``every`` optimiser steps, one row [step, mean training loss, mean gradient norm] over the steps since
    the last row (the norm None where no step had gradients); the gradient norm is the whole model's L2 norm before
    clipping. Kept in checkpoints, so a resumed run has its curve whole."""

    def __init__(self, every: int = 50) -> None:
        self.every = every
        self.curve: list[list[Any]] = []  # [step, mean loss, mean gradient norm (None: not logged)]
        self._losses: list[float] = []
        self._norms: list[float] = []

    def state_dict(self) -> dict:
        return {"curve": self.curve, "losses": self._losses, "norms": self._norms}

    def load_state_dict(self, state_dict: dict) -> None:
        self.curve, self._losses, self._norms = state_dict["curve"], state_dict["losses"], state_dict["norms"]

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            self._norms.append(torch.nn.utils.get_total_norm(grads).item())

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._losses.append(float(loss))
        step = trainer.global_step
        if step and step % self.every == 0 and self._losses and (not self.curve or self.curve[-1][0] < step):
            norm = round(sum(self._norms) / len(self._norms), 5) if self._norms else None
            self.curve.append([step, round(sum(self._losses) / len(self._losses), 5), norm])
            self._losses, self._norms = [], []
