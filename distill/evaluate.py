"""Evaluate a saved student without training.

    python -m distill.evaluate ckpt_path=outputs/train/RUN [answerer=...] [dataset.split=...] [eval.betas=[0,1]]

``ckpt_path`` is a run folder (its ``student/`` is used) or a saved student folder. The objective that trained
it rebuilds its decoding (``objective.json`` beside the student): a value-guided student decodes once per beta
in ``eval.betas``. Writes the same
``results.json`` as the main job into this run's output folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from distill.core.errors import hydra_task
from distill.core.parts import build_parts
from distill.core.secrets import redact
from distill.measurement.results import evaluate_run, print_summary, write_results
from distill.measurement.selectors import Sampling
from distill.training.saved_run import check_same_setting, load_trained


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    student, scorers, critic, folder = load_trained(cfg.ckpt_path, list(cfg.eval.betas), cfg.eval.top_k)
    mismatch = check_same_setting(folder, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = build_parts(cfg)
    sampling = Sampling(cfg.eval.samples, cfg.eval.teacher_samples, cfg.eval.temperature, cfg.seed)
    results, student_records, teacher_records = evaluate_run(
        student, parts, cfg.dataset.split, [], scorers, critic, cfg.eval.batch_size, sampling
    )
    results.update(
        ckpt_path=str(folder), config=redact(OmegaConf.to_container(cfg, resolve=True)), setting_mismatch=mismatch
    )
    write_results(out_dir, results, student_records, teacher_records)
    return results


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
@hydra_task
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    results = run(cfg, out_dir)
    print_summary(results, out_dir)
    return results["student"]["accuracy"]


if __name__ == "__main__":
    main()
