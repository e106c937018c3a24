"""One training stage with Lightning: an objective fitted for a number of steps, the checkpoint with the
best validation accuracy restored; and a fresh student to fit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import Logger

from distill.core.contracts import TRAIN, VALIDATION, Answerer, Dataset, Objective, OnlineObjective, Problem, require
from distill.core.parts import Parts
from distill.core.records import Record
from distill.students import Student
from distill.training.checkpoints import LAST, AtomicCheckpointIO, ResumableCheckpoint, resume_point
from distill.training.episodes import EpisodeDataModule
from distill.training.selection import split_by_problem
from distill.training.train_curve import TrainCurve
from distill.training.validation import GenerationValidation


@dataclass
class FitSettings:
    """What every training stage of a run shares: a typed slice of the run's ``data``, ``eval``,
    ``trainer`` and ``seed`` config, and the validation problems with the answerer that scores them."""

    batch_size: int  # episodes per optimiser step
    val_fraction: float  # share of training problems held out for val/loss
    seed: int  # data order and held-out problems
    val_problems: list[Problem]  # decoded at each validation: val/accuracy selects the checkpoint
    answerer: Answerer
    decode_batch_size: int  # validation problems decoded together
    trainer: DictConfig  # the Lightning Trainer (``max_steps`` is set per stage)
    keep_truncated: bool = False  # train on decompositions cut at the teacher's max_tokens too
    dataset: Dataset | None = None  # where an online objective's training problems come from (its rollouts)

    @classmethod
    def from_config(cls, cfg: DictConfig, parts: Parts) -> FitSettings:
        """From a run's config (``data``, ``eval``, ``trainer``, ``seed``) and its data set and answerer."""
        return cls(
            batch_size=cfg.data.batch_size,
            val_fraction=cfg.data.val_fraction,
            seed=cfg.seed,
            val_problems=parts.dataset.load(VALIDATION)[: cfg.data.max_val_problems],
            answerer=parts.answerer,
            decode_batch_size=cfg.eval.batch_size,
            trainer=cfg.trainer,
            keep_truncated=cfg.data.keep_truncated,
            dataset=parts.dataset,
        )


def fit(
    objective: DictConfig,
    max_steps: int,
    student: Student,
    records: list[Record],
    settings: FitSettings,
    out_dir: Path,
    logger: Logger | bool,
    callbacks: list[pl.Callback] | None = None,
) -> tuple[Objective, dict[str, Any]]:
    """Train ``student`` with the objective config ``objective`` (a ``_target_`` LightningModule) for
    ``max_steps``; restore the weights of the best validation accuracy. Whole problems are held out.
    ``callbacks``: more Lightning callbacks (the benchmark's clock)."""
    module = build_objective(objective, student, max_steps)
    assert isinstance(module, pl.LightningModule)  # an Objective is a LightningModule (core/contracts.py)
    if isinstance(module, OnlineObjective):  # it samples from the student and has the answerer score its samples
        if settings.dataset is None:
            raise ValueError("an online objective needs the data set its training problems come from")
        module.bind(student, settings.answerer, settings.dataset.load(TRAIN), settings.dataset)
    train, val = split_by_problem(records, settings.val_fraction, settings.seed)
    data = EpisodeDataModule(
        module.make_items(student, train), module.make_items(student, val), student.pad_id,
        batch_size=settings.batch_size, seed=settings.seed,
    )  # fmt: skip
    checkpoint = ModelCheckpoint(
        dirpath=out_dir / "checkpoints", monitor="val/accuracy", mode="max", save_top_k=1, save_weights_only=True,
        filename="best",
    )  # fmt: skip
    main_decoding = next(iter(module.scorers(student).values()))
    validation = GenerationValidation(
        student, settings.val_problems, settings.answerer, settings.decode_batch_size, scorer_factory=main_decoding
    )
    curve = TrainCurve()
    # the whole training state (weights, optimiser, schedule, loops, the best score so far) after every
    # validation: a killed run resumes from it when the same command runs again into the same folder
    trainer: pl.Trainer = instantiate(
        settings.trainer, max_steps=max_steps, logger=logger, plugins=[AtomicCheckpointIO()],
        callbacks=[validation, curve, checkpoint, ResumableCheckpoint(out_dir / "checkpoints"), *(callbacks or [])],
        default_root_dir=str(out_dir),
    )  # fmt: skip
    seconds = _fit_resumably(trainer, module, data, out_dir)
    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    best = checkpoint.best_model_score
    return module, {
        "seconds": seconds, "steps": trainer.global_step, "batch_size": settings.batch_size,
        "train_records": len(train), "val_records": len(val),
        "best_val_accuracy": float(best) if best is not None else None,
        "val_curve": validation.curve,  # [step, val accuracy]: is the run still improving at its last step?
        "val_loss_curve": validation.loss_curve,  # [step, held-out loss]: is it overfitting? (objectives with one)
        "train_curve": curve.curve,  # [step, train loss, gradient norm before clipping], means over 50 steps
    }  # fmt: skip


def _fit_resumably(trainer: pl.Trainer, module: pl.LightningModule, data: EpisodeDataModule, out_dir: Path) -> float:
    """``trainer.fit`` from the last resumable checkpoint if there is one; the seconds it took."""
    last = resume_point(out_dir / "checkpoints")
    module.train()  # pretrained weights load in eval mode; Lightning keeps submodules' modes as found
    start = time.perf_counter()
    if last:
        print(f"resuming from {last}")
    trainer.fit(module, datamodule=data, ckpt_path=last)
    if trainer.interrupted:
        written = out_dir / "checkpoints" / LAST
        raise KeyboardInterrupt(
            f"training interrupted; resume with the same command and hydra.run.dir "
            f"(checkpoint {written if written.exists() else 'not yet written'})"
        )
    return round(time.perf_counter() - start, 1)


def build_objective(objective: DictConfig, student: Student, total_steps: int) -> Objective:
    """The objective of a ``_target_`` config for ``student``, checked against the ``Objective`` contract: the one
    place an objective is built (training, and rebuilding a shared first stage's)."""
    return require(instantiate(objective, model=student.model, total_steps=total_steps), Objective, "algorithm.module")


def fresh_student(student_cfg: DictConfig, records: list[Record]) -> Student:
    """A newly initialised student, its tokenizer (scratch students) trained on the records' text."""
    corpus = [r.problem for r in records] + [q for r in records for q in r.subquestions]
    return instantiate(student_cfg)(corpus=corpus)
