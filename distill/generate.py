"""Teacher run: decompose, answer and judge a data set split; write records and a summary.

    python -m distill.generate [dataset=...] [teacher=...] [answerer=...] [judge=...]

Writes ``records.jsonl`` and ``summary.json`` into the run's output folder. Re-running with the same
``hydra.run.dir`` resumes: problems already in ``records.jsonl`` are skipped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from distill.core.errors import hydra_task
from distill.core.parts import build_parts
from distill.core.records import write_json
from distill.core.secrets import redact
from distill.core.teacher_runs import annotate
from distill.measurement.teacher_run_stats import summarize


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    parts = build_parts(cfg)
    problems = parts.dataset.load(cfg.dataset.split)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run = annotate(
        problems,
        parts.teacher,
        parts.answerer,
        parts.judge,
        cfg.samples_per_problem,
        out_dir / "records.jsonl",
        batch_size=cfg.batch_size,
        max_usd=cfg.budget.max_usd,
        max_tokens=cfg.budget.max_tokens,
        max_consecutive_failures=cfg.max_consecutive_failures,
    )
    summary = {
        **summarize(run.records),
        "n_requested": len(problems),
        # problems left undone: failed calls (retried by re-running) or a spent budget
        "failed": run.failed,
        "stopped": run.stopped,
        # every requested problem has all its samples on disk
        "complete": len({r.problem_id for r in run.records}) == len(problems),
        "split": cfg.dataset.split,
        "seconds": round(time.perf_counter() - start, 2),
        **redact(
            {
                "teacher": OmegaConf.to_container(cfg.teacher, resolve=True),
                "answerer": OmegaConf.to_container(cfg.answerer, resolve=True),
                "judge": OmegaConf.to_container(cfg.judge, resolve=True) if cfg.get("judge") else None,
                "dataset": OmegaConf.to_container(cfg.dataset, resolve=True),
            }
        ),
    }
    write_json(out_dir / "summary.json", summary)
    return summary


@hydra.main(config_path="../conf", config_name="generate", version_base="1.3")
@hydra_task
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    summary = run(cfg, out_dir)
    keys = [
        "n_requested",
        "n_problems",
        "n_records",
        "teacher_accuracy",
        "problems_with_correct_sample",
        "mean_subquestions",
        "usefulness_rate",
        "seconds",
    ]
    for key in keys:
        value = summary[key]
        print(f"{key:30s} {value:.3f}" if isinstance(value, float) else f"{key:30s} {value}")
    cost = summary["usage"]["all"].get("cost_usd")
    if cost is not None:
        print(f"{'cost_usd':30s} {cost:.4f}")
    if summary["failed"]:
        print(f"{len(summary['failed'])} problems failed (first: {next(iter(summary['failed'].values()))})")
    if summary["stopped"]:
        print(f"stopped early: {summary['stopped']}")
    print(f"records and summary in {out_dir}")
    if not summary["complete"]:
        # finished problems are on disk and every paid reply is cached: re-running pays for none of them again
        print(
            f"incomplete: {summary['n_problems']} of {summary['n_requested']} problems done; resume with the same "
            f"command and hydra.run.dir={out_dir}"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
