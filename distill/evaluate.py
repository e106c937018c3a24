"""Evaluate a saved student without training.

    python -m distill.evaluate ckpt_path=outputs/train/RUN [answerer=...] [dataset.split=...] [betas=[0,1]]

``ckpt_path`` is a run folder (its ``student/`` is used) or a saved student folder. An ILQL student
(with its value model saved beside it) decodes value-guided, once per beta in ``betas``. Writes the same
``results.json`` as the main job into this run's output folder.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from distill.algorithms.ilql import ILQLScorer, load_value_model
from distill.components import build_parts
from distill.students import Student, student_folder
from distill.train import evaluate_and_write, print_summary


def run(cfg: DictConfig, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = student_folder(cfg.ckpt_path)
    student = Student.load(folder)
    value_model = load_value_model(folder, student.model)
    scorers = None
    if value_model is not None:
        trunk, heads = value_model
        scorers = {f"beta={b:g}": (lambda b=b: ILQLScorer(student.model, trunk, heads, b, cfg.top_k))
                   for b in cfg.betas}
    return evaluate_and_write(cfg, student, build_parts(cfg), out_dir, extra={"ckpt_path": str(folder)},
                              scorers=scorers)


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    results = run(cfg, out_dir)
    print_summary(results, out_dir)
    return results["student"]["accuracy"]


if __name__ == "__main__":
    main()
