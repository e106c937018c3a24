"""The main job: train a student on teacher decompositions, then measure it next to the teacher.

    python -m distill.train [+experiment=NAME] [student=...] [algorithm=...] [answerer=...] ...

Writes into the run's output folder: ``teacher_records.jsonl`` (the teacher run, unless
``data.records_path`` names one), ``student/`` (the best student, by validation accuracy),
``eval_records.jsonl`` and ``results.json``; prints the student next to the teacher.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from distill.core.errors import hydra_task
from distill.core.parts import build_parts
from distill.core.secrets import redact
from distill.measurement.results import evaluate_run, log_test, print_summary, write_results
from distill.measurement.selectors import Sampling
from distill.training.fitting import FitSettings
from distill.training.saved_run import save_trained
from distill.training.selection import training_data
from distill.training.spec import AlgorithmSpec
from distill.training.stages import stage_identity, train_student

SWEEP_OBJECTIVES = ("test_accuracy", "val_accuracy")


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    """Data -> train -> evaluate -> write: the run's ``results.json`` (returned), records and student."""
    if cfg.get("skip_done") and (out_dir / "results.json").exists():
        print(f"skipped: {out_dir} already has results.json (skip_done=true)")
        return json.loads((out_dir / "results.json").read_text())
    if cfg.sweep_objective not in SWEEP_OBJECTIVES:
        raise ValueError(f"sweep_objective={cfg.sweep_objective!r}; valid: {', '.join(SWEEP_OBJECTIVES)}")
    spec = AlgorithmSpec.from_config(cfg.algorithm)  # a bad algorithm config fails before any work
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.get("threads"):
        torch.set_num_threads(cfg.threads)
    parts = build_parts(cfg)
    data = training_data(cfg, parts, spec, out_dir / "teacher_records.jsonl")

    config = redact(OmegaConf.to_container(cfg, resolve=True))  # what the run writes and logs of its config
    logger = instantiate(cfg.logger, save_dir=str(out_dir)) if cfg.get("logger") else False
    if logger:
        logger.log_hyperparams(config)
    trained = train_student(
        spec,
        cfg.student,
        data.records,
        data.selected,
        FitSettings.from_config(cfg, parts),
        cfg.data.get("episodes"),
        out_dir,
        logger,
        stage_identity(cfg, data.review and data.review["digest"]),
        cfg.stage_cache,
    )
    if rank_zero_only.rank != 0:  # trainer.strategy=ddp: the other processes only train
        return {}
    save_trained(out_dir / "student", trained.student, trained.module)

    scorers = trained.module.scorers(trained.student, cfg.eval.betas)
    sampling = Sampling(cfg.eval.samples, cfg.eval.teacher_samples, cfg.eval.temperature, cfg.seed)
    results, student_records, teacher_records = evaluate_run(
        trained.student,
        parts,
        cfg.dataset.split,
        cfg.eval.also_splits,
        scorers,
        trained.module.critic(),
        cfg.eval.batch_size,
        sampling,
    )
    results["train"] = {**trained.training, "teacher_records": len(data.records)}
    results.update({k: v for k, v in (("pretrain", trained.first_stage), ("review", data.review)) if v})
    results["config"] = config
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    write_results(out_dir, results, student_records, teacher_records)
    log_test(logger, results, student_records)
    if isinstance(logger, WandbLogger):
        logger.experiment.finish()
    return results


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
@hydra_task
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        results = run(cfg, out_dir)
    except KeyboardInterrupt as stop:
        print(f"\nstopped: {stop or 'interrupted'}. Resume: the same command with hydra.run.dir={out_dir}")
        sys.exit(130)
    if not results:  # a data-parallel process other than the first
        return float("nan")
    print_summary(results, out_dir)
    # what a sweeper optimises: test accuracy, or (recipe searches) the best validation accuracy
    return (
        results["train"]["best_val_accuracy"]
        if cfg.get("sweep_objective") == "val_accuracy"
        else results["student"]["accuracy"]
    )


if __name__ == "__main__":
    main()
