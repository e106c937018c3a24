"""The main job: train a student on teacher decompositions, then measure it next to the teacher.

    python -m distill.train [+experiment=NAME] [student=...] [algorithm=...] [answerer=...] ...

Writes into the run's output folder: ``teacher_records.jsonl`` (the teacher run, unless
``data.records_path`` names one), ``student/`` (the best student, by validation accuracy),
``eval_records.jsonl`` and ``results.json``; prints the student next to the teacher.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Callable

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import WandbLogger

from distill.callbacks import GenerationValidation
from distill.components import Parts, build_parts
from distill.data import EpisodeDataModule
from distill.decoding import Scorer
from distill.evaluation import evaluate_student, evaluate_teacher
from distill.pipeline import annotate, write_json
from distill.records import Record, read_records, write_records
from distill.students import Student, student_folder

def teacher_records(cfg: DictConfig, parts: Parts, out_dir: Path) -> list[Record]:
    """The training data: a records file if configured, the data set's own decompositions if it has
    them (the paper's files), else a teacher run on the training split."""
    if cfg.data.records_path:
        return read_records(cfg.data.records_path)
    if hasattr(parts.dataset, "records"):
        return parts.dataset.records("train")
    problems = parts.dataset.load("train")
    run = annotate(problems, parts.teacher, parts.answerer, parts.judge, cfg.data.samples_per_problem,
                   out_dir / "teacher_records.jsonl")
    if run.failed:
        print(f"{len(run.failed)} problems failed in the teacher run (re-run into the same folder to retry)")
    return run.records


def select_records(records: list[Record], min_correctness: float | None,
                   min_usefulness: float | None) -> list[Record]:
    """The records an algorithm trains on: all (BC), or the filtered ones (Filtered BC)."""
    kept = []
    for r in records:
        if min_correctness is not None and (r.answer_correctness or 0.0) < min_correctness:
            continue
        if min_usefulness is not None:
            scores = r.usefulness or []
            if not scores or sum(scores) / len(scores) < min_usefulness:
                continue
        kept.append(r)
    return kept


def split_by_problem(records: list[Record], val_fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """Hold out whole problems (all their samples) for the validation loss."""
    ids = sorted({r.problem_id for r in records})
    random.Random(seed).shuffle(ids)
    held = set(ids[: int(round(len(ids) * val_fraction))])
    return [r for r in records if r.problem_id not in held], [r for r in records if r.problem_id in held]


def make_logger(cfg: DictConfig, out_dir: Path):
    if not cfg.get("logger"):
        return False
    return instantiate(cfg.logger, save_dir=str(out_dir))


def fit(cfg: DictConfig, module_cfg: DictConfig, max_steps: int, student: Student, train: list[Record],
        val: list[Record], parts: Parts, out_dir: Path, logger) -> tuple[pl.LightningModule, dict[str, Any]]:
    """Train with one objective for ``max_steps``; restore the weights of the best validation accuracy."""
    module = instantiate(module_cfg, model=student.model)
    data = EpisodeDataModule(module.make_items(student, train), module.make_items(student, val), student.pad_id,
                             batch_size=cfg.data.batch_size, seed=cfg.seed)
    val_problems = parts.dataset.load("validation")[: cfg.data.max_val_problems]
    checkpoint = ModelCheckpoint(dirpath=out_dir / "checkpoints", monitor="val/accuracy", mode="max",
                                 save_top_k=1, save_weights_only=True, filename="best")
    validation = GenerationValidation(student, val_problems, parts.answerer, cfg.eval.batch_size,
                                      scorer_factory=module.scorer_factory(student))
    trainer: pl.Trainer = instantiate(cfg.trainer, max_steps=max_steps, logger=logger,
                                      callbacks=[validation, checkpoint], default_root_dir=str(out_dir))
    module.train()  # pretrained weights load in eval mode; Lightning keeps submodules' modes as found
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - start
    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    best = checkpoint.best_model_score
    return module, {
        "seconds": round(seconds, 1),
        "steps": trainer.global_step,
        "train_records": len(train),
        "val_records": len(val),
        "best_val_accuracy": float(best) if best is not None else None,
    }


def initial_student(cfg: DictConfig, records: list[Record], parts: Parts,
                    out_dir: Path) -> tuple[Student, dict[str, Any] | None]:
    """The student before the objective's training: fresh, a BC stage trained here, or a saved one."""
    init = cfg.algorithm.get("init_from")
    if init and init != "bc":
        return Student.load(student_folder(init)), None
    corpus = [r.problem for r in records] + [q for r in records for q in r.subquestions]
    student: Student = instantiate(cfg.student)(corpus=corpus)
    if not init:
        return student, None
    # the paper's recipe: behaviour cloning on every record first, then the objective from there
    stage = cfg.algorithm.pretrain
    train, val = split_by_problem(records, cfg.data.val_fraction, cfg.seed)
    # no logger for this stage: its step counter restarts, which W&B would reject; results.json has it
    _, info = fit(cfg, stage.module, stage.steps, student, train, val, parts, out_dir / "bc", False)
    student.save(out_dir / "bc" / "student")
    return student, info


def evaluate_and_write(cfg: DictConfig, student: Student, parts: Parts, out_dir: Path, logger=None,
                       extra: dict[str, Any] | None = None,
                       scorers: dict[str, Callable[[], Scorer]] | None = None) -> dict[str, Any]:
    """Student and teacher rows on the evaluation split; writes results.json and eval_records.jsonl.

    ``scorers`` maps a label (e.g. "beta=1.0") to a decoding scorer; the first one is the student's
    main row, the others are reported under ``student_variants``.
    """
    problems = parts.dataset.load(cfg.dataset.split)
    scorers = scorers or {"greedy": None}
    variants = {}
    for label, factory in scorers.items():
        metrics, records = evaluate_student(student, problems, parts.answerer, parts.judge,
                                            batch_size=cfg.eval.batch_size, scorer_factory=factory)
        variants[label] = metrics
        if len(variants) == 1:
            student_metrics, student_records = metrics, records
    given = parts.dataset.records(cfg.dataset.split) if hasattr(parts.dataset, "records") else None
    teacher_metrics, teacher_eval = evaluate_teacher(parts.teacher, problems, parts.answerer, parts.judge, given)
    write_records(out_dir / "eval_records.jsonl", student_records)
    write_records(out_dir / "teacher_eval_records.jsonl", teacher_eval)
    results = {
        "student": student_metrics,
        "teacher": teacher_metrics,
        "gap": teacher_metrics["accuracy"] - student_metrics["accuracy"],
        "split": cfg.dataset.split,
        "answerer": parts.answerer.name,
        "decoding": next(iter(scorers)),
        **({"student_variants": variants} if len(variants) > 1 else {}),
        **(extra or {}),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    write_json(out_dir / "results.json", results)
    if logger:
        logger.log_metrics({f"test/student_{k}": v for k, v in student_metrics.items() if isinstance(v, float)})
        logger.log_metrics({f"test/teacher_{k}": v for k, v in teacher_metrics.items() if isinstance(v, float)})
        log_samples(logger, student_records)
    return results


def log_samples(logger, records: list[Record], n: int = 50) -> None:
    """A table of sample decompositions with their rewards, where the logger shows tables (W&B)."""
    if not hasattr(logger, "log_table"):
        return
    rows = [[r.problem, "\n".join(r.subquestions), r.answer_correctness, str(r.usefulness), r.answerer_output]
            for r in records[:n]]
    logger.log_table(key="test/samples", columns=["problem", "subquestions", "correct", "usefulness",
                                                  "answerer_output"], data=rows)


def print_summary(results: dict[str, Any], out_dir: Path) -> None:
    s, t = results["student"], results["teacher"]
    lo, hi = s["accuracy_ci95"]
    print(f"\n{'':10s} {'accuracy':>9s} {'95% CI':>15s} {'sub-q':>6s} {'useful':>7s}")
    print(f"{'student':10s} {s['accuracy']:9.3f} {f'[{lo:.3f}, {hi:.3f}]':>15s} {s['mean_subquestions']:6.2f} "
          f"{s['usefulness_rate'] if s['usefulness_rate'] is not None else float('nan'):7.3f}")
    print(f"{'teacher':10s} {t['accuracy']:9.3f} {'':>15s} {t['mean_subquestions']:6.2f} "
          f"{t['usefulness_rate'] if t['usefulness_rate'] is not None else float('nan'):7.3f}")
    print(f"gap (teacher - student) {results['gap']:.3f} on {s['n_problems']} {results['split']} problems, "
          f"answerer {results['answerer']}")
    print(f"student: {s['params']:,} parameters, {s['latency_ms_per_problem']:.1f} ms/problem "
          f"(batch {s['decode_batch_size']}), {s['peak_memory_mb']:.0f} MB")
    print(f"results in {out_dir / 'results.json'}")


def decoding_scorers(cfg: DictConfig, module, student: Student) -> dict[str, Callable[[], Scorer]]:
    """One scorer per evaluation beta for value-guided objectives; plain greedy otherwise."""
    betas = cfg.algorithm.get("eval_betas")
    if not betas:
        return {"greedy": module.scorer_factory(student)}
    main = cfg.algorithm.module.beta
    ordered = [main] + [b for b in betas if b != main]
    return {f"beta={b:g}": module.scorer_factory(student, beta=b) for b in ordered}


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.get("threads"):
        torch.set_num_threads(cfg.threads)
    parts = build_parts(cfg)
    records = teacher_records(cfg, parts, out_dir)
    selected = select_records(records, cfg.algorithm.min_correctness, cfg.algorithm.min_usefulness)
    if not selected:
        raise ValueError(f"algorithm={cfg.algorithm.name} kept none of {len(records)} records: loosen its filter")
    logger = make_logger(cfg, out_dir)
    if logger:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    student, pretrain = initial_student(cfg, records, parts, out_dir)
    train, val = split_by_problem(selected, cfg.data.val_fraction, cfg.seed)
    module, training = fit(cfg, cfg.algorithm.module, cfg.trainer.max_steps, student, train, val, parts,
                           out_dir, logger)
    student.save(out_dir / "student")
    module.save_extras(out_dir / "student")
    extra = {"train": {**training, "teacher_records": len(records)}}
    if pretrain:
        extra["pretrain"] = pretrain
    results = evaluate_and_write(cfg, student, parts, out_dir, logger, extra=extra,
                                 scorers=decoding_scorers(cfg, module, student))
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    write_json(out_dir / "results.json", results)
    if isinstance(logger, WandbLogger):
        logger.experiment.finish()
    return results


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    results = run(cfg, out_dir)
    print_summary(results, out_dir)
    return results["student"]["accuracy"]


if __name__ == "__main__":
    main()
