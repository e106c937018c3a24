"""A trained student as a run leaves it, and as evaluation rebuilds it: the student, what its objective saved
beside it, and which objective that was (``objective.json``: its class), so that ``distill.evaluate`` and
``distill.cascade`` rebuild the decoding through the objective contract without knowing any objective."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import yaml
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from distill.core.contracts import Critic, Objective, ScorerFactories
from distill.core.errors import UsageError
from distill.core.records import write_json
from distill.measurement.decoding import LMScorer
from distill.students import Student, student_folder

OBJECTIVE_FILE = "objective.json"


def save_trained(folder: Path, student: Student, module: Objective) -> None:
    """The student, the objective's extras and the objective's class, into ``folder``."""
    student.save(folder)
    module.save_extras(folder)
    write_json(folder / OBJECTIVE_FILE, {"_target_": f"{type(module).__module__}.{type(module).__qualname__}"})


def load_trained(
    path: str | Path, betas: list[float] | None = None, top_k: int | None = None
) -> tuple[Student, ScorerFactories, Critic | None, Path]:
    """A saved student (a run folder or a student folder), its decodings (the main one first; ``betas`` and
    ``top_k`` for value-guided objectives), its critic if it has one, and the folder it was read from. A
    student saved without ``objective.json`` (a first stage) decodes greedily."""
    folder = student_folder(path)
    student = Student.load(folder)
    saved = folder / OBJECTIVE_FILE
    if not saved.exists():
        return student, {"greedy": lambda: LMScorer(student.model)}, None, folder
    objective: type[Objective] = get_class(json.loads(saved.read_text())["_target_"])
    scorers, critic = objective.saved_decoding(folder, student, betas, top_k)
    return student, scorers, critic, folder


# what a run's student was trained and measured on; evaluating it on other settings is a different experiment
SETTING_KEYS = ("dataset", "answerer")
# keys of those groups that change where, how fast or how many, not what: the split is the command's own choice,
# and a split's problems do not depend on the sizes of the others and its first n are the same for any size
FREE_KEYS = {
    "split",
    "limit",
    "sizes",
    "cache_path",
    "concurrency",
    "adaptive_concurrency",
    "max_retries",
    "timeout",
    "poll_seconds",
    "batch_size",
    "api_key",
    "base_url",
}


def run_config(student_dir: Path) -> dict[str, Any] | None:
    """The resolved config of the training run a saved student came from (``results.json`` or ``.hydra/``),
    or None for a student saved outside a run."""
    for run in (student_dir.parent, student_dir):
        if (run / "results.json").exists():
            return json.loads((run / "results.json").read_text()).get("config")
        if (run / ".hydra" / "config.yaml").exists():
            return yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    return None


def setting_differences(trained: dict[str, Any], cfg: DictConfig) -> list[str]:
    """``key: run value -> this value`` for each data set or answerer setting that differs from the run's."""
    now = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    differences: list[str] = []

    def compare(a: Any, b: Any, key: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if k not in FREE_KEYS:
                    compare(a.get(k), b.get(k), f"{key}.{k}")
        elif a != b and not (isinstance(a, str) and "${" in a):  # an unresolved .hydra value: not comparable
            differences.append(f"{key}: {a!r} -> {b!r}")

    for key in SETTING_KEYS:
        if key in trained:
            compare(trained[key], now.get(key), key)
    return differences


def check_same_setting(student_dir: Path, cfg: DictConfig) -> list[str]:
    """Refuse (UsageError) a data set or answerer that differs from the run's, unless ``allow_mismatch``; the
    differences allowed (for results.json)."""
    trained = run_config(student_dir)
    if trained is None:
        print(f"note: no run config beside {student_dir}; its data set and answerer are not checked")
        return []
    differences = setting_differences(trained, cfg)
    if differences and not cfg.get("allow_mismatch"):
        raise UsageError(
            f"{student_dir.parent}: this command's settings differ from the run's ({'; '.join(differences)})"
            f"; pass the run's settings, or allow_mismatch=true to measure it anyway (recorded in results)"
        )
    return differences
