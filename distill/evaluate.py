"""Evaluate a saved student without training.

    python -m distill.evaluate ckpt_path=outputs/train/RUN [answerer=...] [dataset.split=...] [eval.betas=[0,1]]

``ckpt_path`` is a run folder (its ``student/`` is used) or a saved student folder. A student with an ILQL
value model saved beside it decodes value-guided, once per beta in ``eval.betas``. Writes the same
``results.json`` as the main job into this run's output folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from distill.algorithms.ilql import load_value_model, value_guided_scorers
from distill.core.parts import build_parts
from distill.core.secrets import redact
from distill.measurement.decoding import LMScorer
from distill.measurement.results import print_summary, side_by_side, write_results
from distill.students import Student, student_folder


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = student_folder(cfg.ckpt_path)
    student = Student.load(folder)
    value_model = load_value_model(folder, student.model)
    if value_model is not None:
        trunk, heads, trained = value_model
        top_k = cfg.eval.top_k if cfg.eval.top_k is not None else trained.get("top_k")
        scorers = value_guided_scorers(student.model, trunk, heads, list(cfg.eval.betas), top_k,
                                       trained.get("normalize_advantage", False))
    else:
        scorers = {"greedy": lambda: LMScorer(student.model)}
    parts = build_parts(cfg)
    problems = parts.dataset.load(cfg.dataset.split)
    results, student_records, teacher_records = side_by_side(
        student, problems, parts.teacher, parts.answerer, parts.judge, parts.dataset.records(cfg.dataset.split),
        scorers, cfg.eval.batch_size, (trunk, heads) if value_model is not None else None)
    results.update(split=cfg.dataset.split, ckpt_path=str(folder), config=redact(OmegaConf.to_container(cfg, resolve=True)))
    write_results(out_dir, results, student_records, teacher_records)
    return results


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    results = run(cfg, out_dir)
    print_summary(results, out_dir)
    return results["student"]["accuracy"]


if __name__ == "__main__":
    main()
