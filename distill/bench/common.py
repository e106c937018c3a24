"""What every benchmark group shares: the run's config (composed in this one place), rows of results, the
best of several timed runs, and the problems and student that decoding and training are timed on."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from distill.core.contracts import TRAIN, Answerer, Problem
from distill.core.parts import build_parts
from distill.core.records import Record
from distill.core.teacher_runs import annotate_batch
from distill.students import Student, student_folder
from distill.training.fitting import fresh_student

CONF = Path(__file__).resolve().parents[2] / "conf"
# The benchmarks' problems are world v1's, as every figure in docs/performance.md: speed depends on the lengths
# of problems and decompositions, so comparisons across sessions need the same world.
WORLD = ["world=v1"]


def train_config(overrides: list[str]) -> DictConfig:
    """``distill.train``'s config on the benchmarks' world with ``overrides``, as its command line would compose it."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=[*WORLD, *overrides])


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()``'s output and its wall time in seconds."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by other work on the machine); infinite
    for none."""
    return min((timed(fn)[1] for _ in range(repeats)), default=float("inf"))


def row(benchmark: str, ours: float, baseline: float, unit: str, setting: str, higher_is_better: bool = True) -> dict:
    """One result; ``ratio`` > 1 means ours is better."""
    ratio = ours / baseline if higher_is_better else baseline / ours
    return {
        "benchmark": benchmark,
        "ours": round(ours, 3),
        "baseline": round(baseline, 3),
        "unit": unit,
        "ratio": round(ratio, 2),
        "setting": setting,
    }


@dataclass
class BenchInputs:
    make_student: Callable[[], Student]  # a new copy each call (training benchmarks change it)
    records: list[Record]  # one teacher sample per training problem
    train_problems: list[Problem]
    test_problems: list[Problem]
    answerer: Answerer  # the configured one (online RL scores its rollouts with it)


def bench_inputs(student_path: str | None, n_train: int, n_test: int, train_steps: int) -> BenchInputs:
    """A student factory, training records (one teacher sample per problem), the problems and the answerer.
    The student is the saved one at ``student_path``; else the main job's small student trained here for ``train_steps``
    steps of Filtered BC with its configured recipe (what decoding is timed on should decode like a trained
    student, not run to the token cap as an untrained one does); ``train_steps`` 0: a fresh, untrained one
    (``--quick``). The factory gives a new copy each call (training benchmarks change it)."""
    cfg = train_config([f"dataset.sizes.train={n_train}", f"dataset.sizes.test={n_test}"])
    parts = build_parts(cfg)
    train_problems = parts.dataset.load(TRAIN)
    records, _ = annotate_batch(train_problems, parts.teacher, parts.answerer, parts.judge, 1)
    if student_path is None and train_steps:
        student_path = str(train_small_student(train_steps))

    def make_student() -> Student:
        torch.manual_seed(0)
        return Student.load(student_folder(student_path)) if student_path else fresh_student(cfg.student, records)

    return BenchInputs(make_student, records, train_problems, parts.dataset.load(cfg.dataset.split), parts.answerer)


def train_small_student(steps: int) -> Path:
    """The main job's data and student size, trained for ``steps`` steps by Filtered BC with the size's recipe
    into a temporary folder; its path. (Not the Muon speedrun recipe: on a CPU without fast bfloat16 its
    Newton-Schulz products dominate the step.)"""
    from distill import train  # the whole training entry point; imported here, where a student is trained

    out = Path(tempfile.mkdtemp(prefix="distill-bench-student-"))
    print(f"training a small student for the benchmarks ({steps} Filtered BC steps) into {out}", flush=True)
    cfg = train_config(
        [
            "algorithm=filtered_bc",
            f"trainer.max_steps={steps}",
            f"trainer.val_check_interval={steps}",
            "logger=none",
            "stage_cache=null",
            "trainer.enable_progress_bar=false",
            "dataset.sizes.test=50",
        ]
    )
    train.run(cfg, out)
    return out
