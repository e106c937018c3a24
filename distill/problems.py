"""The problem type shared by every data set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.synthetic.world import WorldProblem


@dataclass
class Problem:
    problem_id: str
    text: str
    true_answer: float | None
    # the exact structure of a synthetic problem, which the synthetic roles read; None elsewhere
    world: "WorldProblem | None" = None
