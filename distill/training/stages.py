"""Where a run's student comes from and how it is trained: a fresh student, a saved one, or a first stage
trained here (or loaded from the stage cache), then the objective. The one place that decides what a first
stage is (its identity), whether a run is itself a shareable stage, and how runs share stages.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytorch_lightning as pl
from omegaconf import Container, DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger

from distill.core.contracts import Objective
from distill.core.records import Record, write_json
from distill.students import Student, student_folder
from distill.training.fitting import FitSettings, build_objective, fit, fresh_student
from distill.training.selection import select_records
from distill.training.spec import FIRST_STAGE, AlgorithmSpec


@dataclass
class TrainedStudent:
    student: Student
    module: Objective  # the objective, holding what it trained beside the student (ILQL's critic)
    training: dict[str, Any]  # the objective's fit: steps, seconds, best val accuracy, val curve
    first_stage: dict[str, Any] | None  # the first stage's fit, when the run trained or loaded one


def stage_identity(cfg: DictConfig, review_digest: str | None) -> dict[str, Any]:
    """Everything that determines a first stage besides its own config and its trainer (``train_student`` adds
    the trainer the stage trains with): the student, data, seed, data set (not the split evaluated on), roles,
    validation decoding and human review."""
    config = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    return dict(
        student=cfg.student,
        data=cfg.data,
        seed=cfg.seed,
        dataset={k: v for k, v in config["dataset"].items() if k != "split"},
        teacher=cfg.teacher,
        answerer=cfg.answerer,
        judge=cfg.get("judge"),
        decode_batch_size=cfg.eval.batch_size,
        review=review_digest,
    )


def train_student(
    spec: AlgorithmSpec,
    student_cfg: DictConfig,
    records: list[Record],
    selected: list[Record],
    settings: FitSettings,
    episodes: int | None,
    out_dir: Path,
    logger: Logger | bool,
    identity: dict[str, Any],
    cache_root: str | None,
) -> TrainedStudent:
    """Train the objective of ``spec`` on ``selected`` (``records``: the whole teacher run, for a fresh
    student's tokenizer and a first stage's own filter). ``episodes``: a budget in episodes that sets the
    objective's steps (recipe searches compare batch sizes at equal data; None: ``settings.trainer.max_steps``).
    First stages, and from-scratch runs of student-only objectives, go through the stage cache under
    ``cache_root`` (None: train each time, keep nothing)."""
    stage_settings = settings  # a first stage trains with the size's recipe batch
    if spec.batch_size:  # a fine-tuning objective's own batch (DPO), not the size's recipe
        settings = dataclasses.replace(settings, batch_size=spec.batch_size)
    steps = episodes // settings.batch_size if episodes else settings.trainer.max_steps
    # one process trains (not data-parallel): it may wait for another run training the same first stage
    wait = settings.trainer.get("devices", 1) == 1 and settings.trainer.get("num_nodes", 1) == 1

    if spec.shares_stage:

        def train_run() -> tuple[Student, dict[str, Any]]:
            student = fresh_student(student_cfg, records)
            return student, fit(spec.module, steps, student, selected, settings, out_dir, logger)[1]

        student, training = shared_stage(stage_cache(cache_root, identity, spec, steps, settings), train_run, wait)
        module = build_objective(spec.module, student, steps)
        return TrainedStudent(student, module, training, None)

    first_stage = None
    if spec.init_from == FIRST_STAGE:
        student, first_stage = train_first_stage(
            spec, student_cfg, records, stage_settings, out_dir, cache_root, identity, wait
        )
        # the objective starts from the same random state whether the first stage was trained or loaded
        pl.seed_everything(settings.seed, workers=True)
    elif spec.init_from:
        student = Student.load(student_folder(spec.init_from))
    else:
        student = fresh_student(student_cfg, records)
    module, training = fit(spec.module, steps, student, selected, settings, out_dir, logger)
    return TrainedStudent(student, module, training, first_stage)


def stage_cache(
    cache_root: str | None, identity: dict[str, Any], stage: AlgorithmSpec, steps: int, trained_with: FitSettings
) -> Path | None:
    """The cache folder of ``stage`` trained for ``steps`` with ``trained_with``'s trainer (not the objective's
    steps: a first stage with its own validation interval is the same stage as a from-scratch run validating at
    that interval)."""
    container = cast(dict[str, Any], OmegaConf.to_container(trained_with.trainer, resolve=True))
    trainer = {k: v for k, v in container.items() if k != "max_steps"}
    return stage_cache_dir(cache_root, stage=stage.stage_key(steps), trainer=trainer, **identity)


def train_first_stage(
    spec: AlgorithmSpec,
    student_cfg: DictConfig,
    records: list[Record],
    settings: FitSettings,
    out_dir: Path,
    cache_root: str | None,
    identity: dict[str, Any],
    wait: bool,
) -> tuple[Student, dict[str, Any]]:
    """The first stage of ``spec`` (its ``pretrain``), trained into ``out_dir/stage`` or loaded from the cache."""
    stage, stage_steps = spec.pretrain, spec.pretrain.steps if spec.pretrain else None
    assert stage is not None and stage_steps is not None  # AlgorithmSpec checks both for a first stage
    if stage.val_check_interval:
        trainer = OmegaConf.merge(settings.trainer, {"val_check_interval": stage.val_check_interval})
        settings = dataclasses.replace(settings, trainer=cast(DictConfig, trainer))

    def train_stage() -> tuple[Student, dict[str, Any]]:
        student = fresh_student(student_cfg, records)
        stage_records = select_records(
            records, stage.min_correctness, stage.min_usefulness, settings.keep_truncated, stage.min_question_usefulness
        )
        # no logger for this stage: its step counter restarts, which W&B would reject; results.json has it
        folder = out_dir / "stage"
        _, info = fit(stage.module, stage_steps, student, stage_records, settings, folder, False)
        student.save(folder / "student")
        write_json(folder / "stage.json", info)
        return student, info

    return shared_stage(stage_cache(cache_root, identity, stage, stage_steps, settings), train_stage, wait)


def shared_stage(
    cache: Path | None, train: Callable[[], tuple[Student, dict[str, Any]]], wait: bool = True
) -> tuple[Student, dict[str, Any]]:
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
        if cache.exists():
            kept = load_stage(cache)
            if kept is not None:
                return kept
        student, info = train()
        keep_stage(student, info, cache)
        return student, info


def load_stage(cache: Path) -> tuple[Student, dict[str, Any]] | None:
    """A kept stage, or None when the entry is damaged (named on stderr and set aside, so the stage trains afresh)."""
    try:
        info = {**json.loads((cache / "stage.json").read_text()), "reused_from": str(cache)}
        return Student.load(cache / "student"), info
    except Exception as error:  # noqa: BLE001  (any damage: unreadable JSON, truncated weights, missing files)
        aside = cache.with_name(f"{cache.name}.damaged-{int(time.time())}")
        print(
            f"warning: stage cache entry {cache} is damaged ({type(error).__name__}: {str(error).splitlines()[0]}); "
            f"set aside as {aside.name}, training the stage afresh",
            file=sys.stderr,
            flush=True,
        )
        cache.rename(aside)
        return None


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
