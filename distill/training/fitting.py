"""One training stage with Lightning: an objective fitted for a number of steps, the checkpoint with the
best validation accuracy restored; and the student a run starts from (fresh, a first stage trained here, or saved)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import Container, DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import Logger

from distill.core.contracts import Answerer, Objective, Problem, require
from distill.core.records import Record, write_json
from distill.students import Student, student_folder
from distill.training.episodes import EpisodeDataModule
from distill.training.selection import select_records, split_by_problem
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


def fit(objective: DictConfig, max_steps: int, student: Student, records: list[Record], settings: FitSettings,
        out_dir: Path, logger: Logger | bool, callbacks: list[pl.Callback] | None = None) -> tuple[Objective, dict[str, Any]]:
    """Train ``student`` with the objective config ``objective`` (a ``_target_`` LightningModule) for
    ``max_steps``; restore the weights of the best validation accuracy. Whole problems are held out.
    ``callbacks``: more Lightning callbacks (the benchmark's clock)."""
    module = require(instantiate(objective, model=student.model, total_steps=max_steps), Objective,
                     "algorithm.module")
    train, val = split_by_problem(records, settings.val_fraction, settings.seed)
    data = EpisodeDataModule(module.make_items(student, train), module.make_items(student, val), student.pad_id,
                             batch_size=settings.batch_size, seed=settings.seed)
    checkpoint = ModelCheckpoint(dirpath=out_dir / "checkpoints", monitor="val/accuracy", mode="max",
                                 save_top_k=1, save_weights_only=True, filename="best")
    # the whole training state (weights, optimiser, schedule, loops, the best score so far) after every
    # validation: a killed run resumes from it when the same command runs again into the same folder
    resumable = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="last", save_top_k=1,
                                enable_version_counter=False)
    last = out_dir / "checkpoints" / "last.ckpt"
    main_decoding = next(iter(module.scorers(student).values()))
    validation = GenerationValidation(student, settings.val_problems, settings.answerer, settings.decode_batch_size,
                                      scorer_factory=main_decoding)
    trainer: pl.Trainer = instantiate(settings.trainer, max_steps=max_steps, logger=logger,
                                      callbacks=[validation, checkpoint, resumable, *(callbacks or [])],
                                      default_root_dir=str(out_dir))
    module.train()  # pretrained weights load in eval mode; Lightning keeps submodules' modes as found
    start = time.perf_counter()
    if last.exists():
        print(f"resuming from {last}")
    trainer.fit(module, datamodule=data, ckpt_path=last if last.exists() else None)
    if trainer.interrupted:
        raise KeyboardInterrupt(f"training interrupted; resume with the same command and hydra.run.dir "
                                f"(checkpoint {last if last.exists() else 'not yet written'})")
    seconds = time.perf_counter() - start
    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    best = checkpoint.best_model_score
    return module, {
        "seconds": round(seconds, 1),
        "steps": trainer.global_step,
        "batch_size": settings.batch_size,
        "train_records": len(train),
        "val_records": len(val),
        "best_val_accuracy": float(best) if best is not None else None,
        "val_curve": validation.curve,  # [step, val accuracy]: is the run still improving at its last step?
    }


def initial_student(init_from: str | None, student_cfg: DictConfig, records: list[Record],
                    stage: DictConfig | None, settings: FitSettings, out_dir: Path,
                    stage_cache: Path | None = None, wait: bool = True) -> tuple[Student, dict[str, Any] | None]:
    """The student before the objective's training, and the first stage's training info if there was one.

    ``init_from``: None (a fresh student from ``student_cfg``), ``"stage"`` (a fresh student trained first
    by the ``stage`` config: an algorithm config with ``steps``, e.g. BC as in the paper, or Filtered BC
    as the reference policy of DPO), or a saved student or run folder. ``stage_cache``: where the stage is
    shared with every other run that starts from the same first stage (same student, data, stage config and
    seed): see ``shared_stage`` (and ``wait``).
    """
    if init_from and init_from != "stage":
        return Student.load(student_folder(init_from)), None
    if init_from and stage is None:
        raise ValueError("init_from=stage needs the algorithm's `pretrain` stage config")
    if not init_from:
        return fresh_student(student_cfg, records), None

    def train_stage() -> tuple[Student, dict[str, Any]]:
        student = fresh_student(student_cfg, records)
        stage_records = select_records(records, stage.min_correctness, stage.min_usefulness, settings.keep_truncated)
        # no logger for this stage: its step counter restarts, which W&B would reject; results.json has it
        folder = out_dir / "stage"
        _, info = fit(stage.module, stage.steps, student, stage_records, settings, folder, False)
        student.save(folder / "student")
        write_json(folder / "stage.json", info)
        return student, info

    student, info = shared_stage(stage_cache, train_stage, wait)
    # the objective's stage starts from the same random state whether the first stage was trained or loaded
    pl.seed_everything(settings.seed, workers=True)
    return student, info


def fresh_student(student_cfg: DictConfig, records: list[Record]) -> Student:
    """A newly initialised student, its tokenizer (scratch students) trained on the records' text."""
    corpus = [r.problem for r in records] + [q for r in records for q in r.subquestions]
    return instantiate(student_cfg)(corpus=corpus)


def shared_stage(cache: Path | None, train: Callable[[], tuple[Student, dict[str, Any]]],
                 wait: bool = True) -> tuple[Student, dict[str, Any]]:
    """A first stage loaded from ``cache``, or trained by ``train()`` (the student and its training info) and
    kept there. Runs of the same stage that start together (a parallel sweep, a job array) train it once: the
    others wait on a lock beside the cache, which the system releases when its holder ends, crash included.
    ``wait=False`` for the processes of one data-parallel run, which must train together (they would wait
    on each other). A loaded stage's info says where it came from (``reused_from``); ``cache`` None: train,
    keep nothing."""
    if cache is None:
        return train()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / f".{cache.name}.lock", "w") as lock:
        if wait:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another run that is training this first stage ({cache})", flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
        if (cache / "stage.json").exists():
            info = {**json.loads((cache / "stage.json").read_text()), "reused_from": str(cache)}
            return Student.load(cache / "student"), info
        student, info = train()
        keep_stage(student, info, cache)
        return student, info


def keep_stage(student: Student, info: dict[str, Any], cache: Path) -> None:
    """Write a trained stage (``student/`` and ``stage.json``) into the cache atomically: a crash leaves a
    whole stage or none, and of two processes that trained it, the first one's stays."""
    tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=f".{cache.name}-"))
    student.save(tmp / "student")
    write_json(tmp / "stage.json", info)
    try:
        tmp.rename(cache)
    except OSError:  # kept first by another process
        shutil.rmtree(tmp)


def stage_cache_dir(root: str | None, **identity: Any) -> Path | None:
    """The cache folder of a first stage: ``root/stage-<hash of everything that determines the stage>``."""
    if not root:
        return None
    plain = {k: OmegaConf.to_container(v, resolve=True) if isinstance(v, Container) else v for k, v in identity.items()}
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(root) / f"stage-{digest}"
