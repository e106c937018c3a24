"""A trained student as a run leaves it, and as evaluation rebuilds it: the student, what its objective saved
beside it, and which objective that was (``objective.json``: its class), so that ``distill.evaluate`` and
``distill.cascade`` rebuild the decoding through the objective contract without knowing any objective."""

from __future__ import annotations

import json
from pathlib import Path

from hydra.utils import get_class

from distill.core.contracts import Critic, Objective, ScorerFactories
from distill.core.records import write_json
from distill.measurement.decoding import LMScorer
from distill.students import Student, student_folder

OBJECTIVE_FILE = "objective.json"


def save_trained(folder: Path, student: Student, module: Objective) -> None:
    """The student, the objective's extras and the objective's class, into ``folder``."""
    student.save(folder)
    module.save_extras(folder)
    write_json(folder / OBJECTIVE_FILE, {"_target_": f"{type(module).__module__}.{type(module).__qualname__}"})


def load_trained(path: str | Path, betas: list[float] | None = None,
                 top_k: int | None = None) -> tuple[Student, ScorerFactories, Critic | None, Path]:
    """A saved student (a run folder or a student folder), its decodings (the main one first; ``betas`` and
    ``top_k`` for value-guided objectives), its critic if it has one, and the folder it was read from. A
    student saved without ``objective.json`` (a first stage) decodes greedily."""
    folder = student_folder(path)
    student = Student.load(folder)
    saved = folder / OBJECTIVE_FILE
    if not saved.exists():
        return student, {"greedy": lambda: LMScorer(student.model)}, None, folder
    objective = get_class(json.loads(saved.read_text())["_target_"])
    scorers, critic = objective.saved_decoding(folder, student, betas, top_k)
    return student, scorers, critic, folder
