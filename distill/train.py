"""The main job: train a student on teacher decompositions, then measure it next to the teacher.

    python -m distill.train [+experiment=NAME] [student=...] [algorithm=...] [answerer=...] ...

Writes into the run's output folder: ``teacher_records.jsonl`` (the teacher run, unless
``data.records_path`` names one), ``student/`` (the best student, by validation accuracy),
``eval_records.jsonl`` and ``results.json``; prints the student next to the teacher.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from distill.core.parts import build_parts
from distill.core.secrets import redact
from distill.core.teacher_runs import TeacherRunStopped
from distill.review.apply import human_review
from distill.measurement.results import log_test, print_summary, side_by_side, write_results
from distill.algorithms.bc import DecodesAlone
from distill.students import Student
from distill.training.fitting import (FitSettings, fit, fresh_student, initial_student, shared_stage,
                                     stage_cache_dir)
from distill.training.selection import select_records, training_records


SWEEP_OBJECTIVES = ("test_accuracy", "val_accuracy")


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    if cfg.get("skip_done") and (out_dir / "results.json").exists():
        print(f"skipped: {out_dir} already has results.json (skip_done=true)")
        return json.loads((out_dir / "results.json").read_text())
    if cfg.sweep_objective not in SWEEP_OBJECTIVES:
        raise ValueError(f"sweep_objective={cfg.sweep_objective!r}; valid: {', '.join(SWEEP_OBJECTIVES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.get("threads"):
        torch.set_num_threads(cfg.threads)
    parts = build_parts(cfg)

    records = training_records(cfg.data.records_path, parts, cfg.data.samples_per_problem,
                               out_dir / "teacher_records.jsonl")
    records, review = human_review(records, parts, cfg.data.review_path, cfg.data.records_path, cfg.reward)
    selected = select_records(records, cfg.algorithm.min_correctness, cfg.algorithm.min_usefulness,
                              cfg.data.keep_truncated)
    if not selected:
        raise ValueError(f"algorithm={cfg.algorithm.name} kept none of {len(records)} records: loosen its filter")

    config = redact(OmegaConf.to_container(cfg, resolve=True))  # what the run writes and logs of its config
    logger = instantiate(cfg.logger, save_dir=str(out_dir)) if cfg.get("logger") else False
    if logger:
        logger.log_hyperparams(config)
    settings = FitSettings(
        batch_size=cfg.data.batch_size, val_fraction=cfg.data.val_fraction, seed=cfg.seed,
        val_problems=parts.dataset.load("validation")[: cfg.data.max_val_problems], answerer=parts.answerer,
        decode_batch_size=cfg.eval.batch_size, trainer=cfg.trainer, keep_truncated=cfg.data.keep_truncated,
    )
    # everything that determines a first stage besides its own config (not the split evaluated on, nor the
    # steps of the objective that follows it)
    identity = dict(student=cfg.student, data=cfg.data, seed=cfg.seed,
                    dataset={k: v for k, v in config["dataset"].items() if k != "split"},
                    teacher=cfg.teacher, answerer=cfg.answerer, judge=cfg.get("judge"),
                    trainer={k: v for k, v in config["trainer"].items() if k != "max_steps"},
                    decode_batch_size=cfg.eval.batch_size, review=review and review["digest"])
    stage_settings = settings  # a first stage trains with the size's recipe batch
    if cfg.algorithm.get("batch_size"):  # a fine-tuning objective's own batch (DPO), not the size's recipe
        settings = dataclasses.replace(settings, batch_size=cfg.algorithm.batch_size)
    # a budget in episodes (recipe searches compare batch sizes at equal data) sets the steps
    steps = cfg.data.episodes // settings.batch_size if cfg.data.get("episodes") else cfg.trainer.max_steps
    # one process trains (not data-parallel): it may wait for another run training the same first stage
    wait = cfg.trainer.get("devices", 1) == 1 and cfg.trainer.get("num_nodes", 1) == 1
    if cfg.algorithm.init_from or not issubclass(get_class(cfg.algorithm.module._target_), DecodesAlone):
        stage = cfg.algorithm.get("pretrain")
        cache = stage_cache_dir(cfg.stage_cache, stage=stage, **identity) if stage is not None else None
        student, pretrain = initial_student(cfg.algorithm.init_from, cfg.student, records, stage, stage_settings,
                                            out_dir, cache, wait)
        module, training = fit(cfg.algorithm.module, steps, student, selected, settings, out_dir, logger)
    else:
        # A from-scratch run whose student is all it trains (BC, Filtered BC, AWR) is the same training as a
        # first stage of its config and steps (bitwise the same student): it shares the stage cache with the
        # runs that start from such a stage, so a sweep trains it once.
        as_stage = {**OmegaConf.to_container(cfg.algorithm, resolve=True), "steps": steps}
        cache = stage_cache_dir(cfg.stage_cache, stage=as_stage, **identity)
        pretrain = None

        def train_run() -> tuple[Student, dict[str, Any]]:
            student = fresh_student(cfg.student, records)
            return student, fit(cfg.algorithm.module, steps, student, selected, settings, out_dir, logger)[1]

        student, training = shared_stage(cache, train_run, wait)
        module = instantiate(cfg.algorithm.module, model=student.model, total_steps=steps)
    if rank_zero_only.rank != 0:  # trainer.strategy=ddp: the other processes only train
        return {}
    student.save(out_dir / "student")
    module.save_extras(out_dir / "student")

    problems = parts.dataset.load(cfg.dataset.split)
    scorers = module.scorers(student, cfg.eval.betas)
    results, student_records, teacher_records = side_by_side(
        student, problems, parts.teacher, parts.answerer, parts.judge, parts.dataset.records(cfg.dataset.split),
        scorers, cfg.eval.batch_size, module.value_model())
    results.update(split=cfg.dataset.split, train={**training, "teacher_records": len(records)})
    for split in cfg.eval.also_splits:  # e.g. ood: generalisation beyond the training chains (main decoding only)
        main = next(iter(scorers))
        extra, _, _ = side_by_side(student, parts.dataset.load(split), parts.teacher, parts.answerer, parts.judge,
                                   parts.dataset.records(split), {main: scorers[main]}, cfg.eval.batch_size)
        results.setdefault("splits", {})[split] = {k: extra[k] for k in ("student", "teacher", "gap")}
    if pretrain:
        results["pretrain"] = pretrain
    if review:
        results["review"] = review
    results["config"] = config
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    write_results(out_dir, results, student_records, teacher_records)
    log_test(logger, results, student_records)
    if isinstance(logger, WandbLogger):
        logger.experiment.finish()
    return results


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        results = run(cfg, out_dir)
    except KeyboardInterrupt as stop:
        print(f"\nstopped: {stop or 'interrupted'}. Resume: the same command with hydra.run.dir={out_dir}")
        sys.exit(130)
    except TeacherRunStopped as stop:  # one line, not a traceback (HYDRA_FULL_ERROR=1 shows it)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {stop}")
        sys.exit(1)
    if not results:  # a data-parallel process other than the first
        return float("nan")
    print_summary(results, out_dir)
    # what a sweeper optimises: test accuracy, or (recipe searches) the best validation accuracy
    return results["train"]["best_val_accuracy"] if cfg.get("sweep_objective") == "val_accuracy" \
        else results["student"]["accuracy"]


if __name__ == "__main__":
    main()
