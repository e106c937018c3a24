"""Which records a student learns from: the training records of a run, an objective's filter, and the
problems held out for the validation loss."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from distill.core.contracts import TRAIN
from distill.core.errors import UsageError
from distill.core.parts import Parts
from distill.core.records import Record, read_records
from distill.core.teacher_runs import TeacherRunStopped, annotate
from distill.measurement.step_credit import credit_as_usefulness
from distill.review.apply import human_review
from distill.training.spec import AlgorithmSpec


@dataclass
class TrainingData:
    records: list[Record]  # the run's training records (teacher run or file), after human review
    selected: list[Record]  # those the objective trains on (its filter)
    review: dict[str, Any] | None  # the human review applied (labels' digest and counts), if any


def training_data(cfg: DictConfig, parts: Parts, spec: AlgorithmSpec, teacher_run_path: Path) -> TrainingData:
    """The records of a run (``data`` config), reviewed by people where labels exist, and the objective's
    selection of them; refuses a selection that keeps nothing."""
    records = training_records(cfg.data.records_path, parts, cfg.data.samples_per_problem, teacher_run_path)
    records, review = human_review(records, parts, cfg.data.review_path, cfg.data.records_path, cfg.reward)
    if cfg.reward.get("counterfactual_usefulness", False):
        problems = {p.problem_id: p for p in parts.dataset.load(TRAIN)}
        records, calls = credit_as_usefulness(records, problems, parts.answerer, cfg.reward.get("credit_draws", 1))
        print(
            f"reward={cfg.reward.name}: usefulness from removal credit, {calls} extra answerer calls "
            f"({calls / max(len(records), 1):.2f} per record)"
        )
    selected = select_records(
        records, spec.min_correctness, spec.min_usefulness, cfg.data.keep_truncated, spec.min_question_usefulness
    )
    if not selected:
        raise UsageError(f"algorithm={spec.name} kept none of {len(records)} records: loosen its filter")
    return TrainingData(records, selected, review)


def training_records(
    records_path: str | None, parts: Parts, samples_per_problem: int, teacher_run_path: Path
) -> list[Record]:
    """A records file if one is given, the data set's own decompositions if it has them (the paper's
    files), else a teacher run on the training split (written to ``teacher_run_path``, resumable)."""
    if records_path:
        return read_records(records_path)
    given = parts.dataset.records(TRAIN)
    if given is not None:
        return given
    problems = parts.dataset.load(TRAIN)
    run = annotate(problems, parts.teacher, parts.answerer, parts.judge, samples_per_problem, teacher_run_path)
    if run.stopped:
        raise TeacherRunStopped(
            f"the teacher run stopped: {run.stopped}. Finished problems are kept in "
            f"{teacher_run_path}: re-run the same command with the same hydra.run.dir to resume"
        )
    if run.failed:
        print(f"{len(run.failed)} problems failed in the teacher run (re-run into the same folder to retry)")
    return run.records


def select_records(
    records: list[Record],
    min_correctness: float | None,
    min_usefulness: float | None,
    keep_truncated: bool = False,
    min_question_usefulness: float | None = None,
) -> list[Record]:
    """The records an objective trains on: all (BC), or those passing its filter (Filtered BC): answer
    correctness, the mean of the judge's usefulness scores, and the least useful sub-question's score; a
    decomposition cut at the teacher's max_tokens (``meta.truncated``) is left out unless ``keep_truncated``."""
    kept = []
    for r in records:
        if not keep_truncated and "teacher" in r.meta.get("truncated", []):
            continue
        if min_correctness is not None and (r.answer_correctness or 0.0) < min_correctness:
            continue
        if min_usefulness is not None:
            scores = r.usefulness or []
            if not scores or sum(scores) / len(scores) < min_usefulness:
                continue
        if min_question_usefulness is not None and (not r.usefulness or min(r.usefulness) < min_question_usefulness):
            continue
        kept.append(r)
    return kept


def split_by_problem(records: list[Record], val_fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """Hold out whole problems (all their samples) for the validation loss."""
    ids = sorted({r.problem_id for r in records})
    random.Random(seed).shuffle(ids)
    held = set(ids[: int(round(len(ids) * val_fraction))])
    return [r for r in records if r.problem_id not in held], [r for r in records if r.problem_id in held]
