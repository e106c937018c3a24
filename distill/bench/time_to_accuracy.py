"""Time to accuracy: training time until the main job's first stage reaches the validation accuracy that the
old recipe ends with, the old recipe against new ones (the configured recipe, ``recipe=small_speedrun``, or any
changes to them)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import OmegaConf

from distill.bench.common import row, train_config
from distill.core.contracts import TRAIN, VALIDATION
from distill.core.parts import build_parts
from distill.core.teacher_runs import annotate_batch
from distill.measurement.rows import evaluate_student
from distill.training.fitting import FitSettings, fit, fresh_student
from distill.training.selection import select_records


class TrainClock(pl.Callback):
    """Training seconds (validation excluded) and val/accuracy at each validation."""

    def __init__(self) -> None:
        self.curve: list[tuple[int, float, float]] = []  # (step, training seconds, val/accuracy)

    def on_train_start(self, trainer, module) -> None:
        self.start, self.paused = time.perf_counter(), 0.0

    def on_validation_start(self, trainer, module) -> None:
        self.pause_at = time.perf_counter()

    def on_validation_end(self, trainer, module) -> None:
        elapsed = self.pause_at - self.start - self.paused
        self.paused += time.perf_counter() - self.pause_at
        accuracy = trainer.callback_metrics.get("val/accuracy")
        if accuracy is not None:
            self.curve.append((trainer.global_step, elapsed, float(accuracy)))


OLD_RECIPE = {
    "batch_size": 16,
    "lr": 3e-4,
    "warmup_steps": 100,
    "steps": 1500,
    "precision": "32-true",
    "prompt_loss_weight": 0.0,
    "muon_lr": None,
}


# DPO's first stage is the Filtered BC stage from scratch: the main job's first stage on world v1 (where these
# figures are measured), and the whole main job since; ``algorithm.pretrain`` below is that stage
STAGE = ["algorithm=dpo"]


def default_recipe(recipe: str | None = None) -> dict[str, Any]:
    """The main job's first stage as configured (``conf/``): what ``python -m distill.train`` trains first;
    with ``recipe``, what it trains with ``recipe=<that>``."""
    cfg = train_config(STAGE + ([f"recipe={recipe}"] if recipe else []))
    stage = cfg.algorithm.pretrain
    return {
        "batch_size": cfg.data.batch_size,
        "lr": stage.module.lr,
        "warmup_steps": stage.module.warmup_steps,
        "steps": stage.steps,
        "precision": cfg.trainer.precision,
        "prompt_loss_weight": stage.module.prompt_loss_weight,
        "muon_lr": stage.module.muon_lr,
    }


def first_stage_inputs(overrides: list[str]) -> tuple[Any, Any, list, list]:
    """The main job's first stage (with ``overrides`` to ``distill.train``'s config): the config, its parts, the
    default teacher run's records (a fresh student's tokenizer is trained on them) and those the stage trains on
    (filtered as the stage says)."""
    cfg = train_config(STAGE + overrides)
    parts = build_parts(cfg)
    records, _ = annotate_batch(
        parts.dataset.load(TRAIN), parts.teacher, parts.answerer, parts.judge, cfg.data.samples_per_problem
    )
    stage = cfg.algorithm.pretrain
    selected = select_records(
        records, stage.min_correctness, stage.min_usefulness, min_question_usefulness=stage.min_question_usefulness
    )
    return cfg, parts, records, selected


def time_to_accuracy_rows(news: list[dict[str, Any]], quick: bool, probe_every: int, seed: int = 0) -> Iterator[dict]:
    """Training time until the main job's first stage (Filtered BC on the default teacher run) first reaches
    the validation accuracy that the old recipe ends with: the old recipe against each of ``news`` (one row
    each). Validation decodes (every ``probe_every`` steps, all validation problems) are not counted; the test
    accuracy of each recipe's best checkpoint is reported beside. ``seed``: the run's seed (teacher run, student
    initialisation, held-out problems, batch order), as ``seed=`` of ``distill.train``."""
    sizes = ["dataset.sizes.train=100", "dataset.sizes.validation=20", "dataset.sizes.test=20"] if quick else []
    cfg, parts, records, selected = first_stage_inputs([*sizes, f"seed={seed}"])
    stage = cfg.algorithm.pretrain
    val_problems, test_problems = parts.dataset.load(VALIDATION), parts.dataset.load(cfg.dataset.split)

    curves, tests = {}, {}
    old = {**OLD_RECIPE, **({"steps": 20} if quick else {})}
    for name, recipe in [("old", old), *enumerate(news)]:
        pl.seed_everything(seed, workers=True)
        student = fresh_student(cfg.student, records)
        trainer = OmegaConf.merge(
            cfg.trainer,
            {"val_check_interval": probe_every, "precision": recipe["precision"], "enable_progress_bar": False},
        )
        settings = FitSettings(
            batch_size=recipe["batch_size"], val_fraction=cfg.data.val_fraction, seed=seed, val_problems=val_problems,
            answerer=parts.answerer, decode_batch_size=cfg.eval.batch_size, trainer=trainer,
        )  # fmt: skip
        objective = OmegaConf.merge(
            stage.module, {k: recipe[k] for k in ("lr", "warmup_steps", "prompt_loss_weight", "muon_lr")}
        )
        clock = TrainClock()
        with tempfile.TemporaryDirectory() as tmp:
            fit(objective, recipe["steps"], student, selected, settings, Path(tmp), False, callbacks=[clock])
        curves[name] = clock.curve
        tests[name] = evaluate_student(student, test_problems, parts.answerer, None)[0]["accuracy"]
    target = curves["old"][-1][2]
    old_time = next(t for _, t, a in curves["old"] if a >= target)
    for i, new in enumerate(news):
        new_time = next((t for _, t, a in curves[i] if a >= target), None)
        setting = (
            f"seed {seed}; first stage to val accuracy {target:.3f} (the old recipe's final, "
            f"{len(val_problems)} problems); "
            f"old: {', '.join(f'{k} {v}' for k, v in old.items())}; "
            f"new: {', '.join(f'{k} {v}' for k, v in new.items())}; "
            f"test accuracy old {tests['old']:.3f}, new {tests[i]:.3f}; curves (step, s, acc): "
            f"old {[(s, round(t, 1), a) for s, t, a in curves['old']]}, "
            f"new {[(s, round(t, 1), a) for s, t, a in curves[i]]}"
        )
        if new_time is None:
            yield {"benchmark": "time_to_accuracy", "ours": None, "baseline": round(old_time, 1), "unit": "s",
                   "ratio": 0.0, "setting": "the new recipe never reached the target; " + setting}  # fmt: skip
        else:
            yield row("time_to_accuracy", new_time, old_time, "s", setting, higher_is_better=False)


def new_recipes(changes_per_recipe: list[list[str]] | None, quick: bool) -> list[dict[str, Any]]:
    """The recipes to time against the old one, each as ``KEY=VALUE`` changes to the configured recipe
    (``recipe=NAME`` starts from ``conf/recipe/NAME.yaml``); by default the configured recipe and the speedrun
    recipe. ``quick``: 20 steps each."""
    news = []
    for changes in changes_per_recipe or [[], ["recipe=small_speedrun"]]:
        new = default_recipe(next((c.partition("=")[2] for c in changes if c.startswith("recipe=")), None))
        for item in (c for c in changes if not c.startswith("recipe=")):
            key, _, value = item.partition("=")
            if key not in OLD_RECIPE:
                raise SystemExit(f"--new-recipe {item}: unknown key; valid: {', '.join(OLD_RECIPE)}")
            new[key] = None if value == "null" else (float if key == "muon_lr" else type(OLD_RECIPE[key]))(value)
        news.append({**new, **({"steps": 20} if quick else {})})
    return news
