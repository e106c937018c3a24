"""The gap report's runs: each ``results.json`` below the given folders, read into one typed ``Run``."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from distill.report.search import search_trial


@dataclass
class Run:
    path: Path
    answerer: str
    algorithm: str
    student: str
    seed: int
    accuracy: float
    teacher_accuracy: float
    n_problems: int  # test problems behind each accuracy (its interval is that of a proportion)
    params: int
    latency_ms: float
    memory_mb: float
    teacher_usage: dict[str, float]
    variants: dict[str, float]  # other decodings of the same student (ILQL's betas): label -> accuracy
    mean_subquestions: float
    # synthetic world only: per habit's decision point the gold-branch rate and its problems, the garbled share,
    # and per chain length the accuracy and its problems (None in runs made before that count was recorded)
    decisions: dict[str, tuple[float, int]]
    garbled_rate: float | None
    accuracy_by_steps: dict[str, tuple[float, int | None]]
    cascade: dict[str, Any] | None = None  # the run's cascade.json (distill.cascade), if it has one
    ood: tuple[float, float] | None = None  # (student, LLM) accuracy on the ood split (eval.also_splits)
    trial: dict[str, Any] | None = None  # a recipe-search trial (sweep_group=recipe): its recipe and score
    # the honest rows (world v2's results): teacher and student selectors over n samples, the data set's baselines
    honest: dict[str, float] | None = None
    teacher_n: int | None = None  # teacher samples per problem behind its selectors (best-of-n), if it has them


def algorithm_label(config: dict[str, Any]) -> str:
    """The objective's name, with the reward's when the objective's rewards are token-level values that the
    reward group sets (``usefulness_baseline``): there the reward is part of the method (full or sparse)."""
    name = config["algorithm"]["name"]
    reads_reward = "usefulness_baseline" in (config["algorithm"].get("module") or {})
    return f"{name}-{config['reward']['name']}" if reads_reward else name


def honest_rows(results: dict[str, Any]) -> dict[str, float] | None:
    """The selectors of both rows and the baselines of a run that has them (``<row>_<selector>``, ``rule``,
    ``gold``), else None."""
    out = {
        f"{row}_{name}": sel[name]["accuracy"]
        for row in ("teacher", "student")
        if (sel := results[row].get("selectors"))
        for name in ("mean", "best_of_n", "majority")
    }
    out.update(results.get("baselines") or {})
    return out or None


def read_run(path: Path) -> Run:
    results = json.loads(path.read_text())
    config, student, teacher = results["config"], results["student"], results["teacher"]
    return Run(
        path=path.parent,
        answerer=results["answerer"],
        algorithm=algorithm_label(config),
        student=config["student"].get("name") or student.get("name") or "student",
        seed=config["seed"],
        accuracy=student["accuracy"],
        teacher_accuracy=teacher["accuracy"],
        n_problems=student["n_problems"],
        params=student["params"],
        latency_ms=student["latency_ms_per_problem"],
        memory_mb=student["peak_memory_mb"],
        teacher_usage=teacher.get("usage_per_problem") or {},
        variants={k: v["accuracy"] for k, v in (results.get("student_variants") or {}).items()},
        mean_subquestions=student["mean_subquestions"],
        decisions={h: (d["gold_rate"], d["n"]) for h, d in (student.get("decisions") or {}).items()},
        garbled_rate=student.get("garbled_rate"),
        accuracy_by_steps={
            n: (a, (student.get("problems_by_steps") or {}).get(n))
            for n, a in (student.get("accuracy_by_steps") or {}).items()
        },
        cascade=json.loads((path.parent / "cascade.json").read_text())
        if (path.parent / "cascade.json").exists()
        else None,
        ood=(ood["student"]["accuracy"], ood["teacher"]["accuracy"])
        if (ood := results.get("splits", {}).get("ood"))
        else None,
        # a recipe search's trial (conf/sweep_recipe.yaml); every run now returns validation accuracy to sweepers
        trial=search_trial(results) if config.get("sweep_group") == "recipe" else None,
        honest=honest_rows(results),
        teacher_n=(teacher.get("selectors") or {}).get("n"),
    )


def find_runs(folders: list[Path]) -> tuple[list[Run], list[str]]:
    """Finished runs, and the Hydra run folders below ``folders`` that have no results (failed or running)."""
    runs, missing, seen = [], [], set()
    for folder in folders:
        for path in sorted(folder.glob("**/results.json")):
            if path.resolve() in seen:  # folders that overlap
                continue
            seen.add(path.resolve())
            try:
                runs.append(read_run(path))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
                why = (
                    f"not valid JSON ({error.msg}, line {error.lineno})"
                    if isinstance(error, json.JSONDecodeError)
                    else f"not a results file ({type(error).__name__}: {error})"
                )
                print(f"skipped {path}: {why}", file=sys.stderr)
                missing.append(f"{path}: skipped, {why}")
        for hydra_dir in sorted(folder.glob("**/.hydra")):
            run_dir = hydra_dir.parent
            if not (run_dir / "results.json").exists():
                overrides = (
                    yaml.safe_load((hydra_dir / "overrides.yaml").read_text())
                    if (hydra_dir / "overrides.yaml").exists()
                    else []
                )
                missing.append(
                    f"{run_dir}: no results.json (failed or unfinished; overrides: {' '.join(overrides) or 'none'})"
                )
    return runs, missing
