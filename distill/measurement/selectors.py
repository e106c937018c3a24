"""Label-free ways to pick one answer from a decomposer's n samples of a problem, so that the teacher and the
student are compared like with like: a teacher that may sample four times and keep the first decomposition the
answerer could answer must meet a student given the same four tries.

- ``first`` (teacher@1 / the student's first sample): the first sample's answer;
- ``mean``: the mean accuracy over samples (what one random sample scores);
- ``best_of_n``: the first sample whose answer is a number (the answerer did not say "unknown");
- ``majority``: the most common number among the samples' answers (ties: the one answered first).

None looks at the true answer; with an answerer that only abstains, ``best_of_n`` is a perfect selector, with
one that can be wrong it is not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from distill.core.final_answer import extract_final_answer
from distill.core.records import Record
from distill.measurement.metrics import bootstrap_ci

SELECTORS = ("first", "mean", "best_of_n", "majority")


def select(samples: list[Record]) -> dict[str, float]:
    """Each selector's correctness on one problem's samples (in sample order)."""
    answers = [extract_final_answer(r.answerer_output or "") for r in samples]
    correct = [r.answer_correctness or 0.0 for r in samples]
    answered = [i for i, a in enumerate(answers) if a is not None]
    first_answered = answered[0] if answered else 0
    if answered:
        counts = Counter(answers[i] for i in answered)
        top = max(counts.values())
        vote = next(i for i in answered if counts[answers[i]] == top)  # ties: the one answered first
    else:
        vote = 0
    return {
        "first": correct[0],
        "mean": sum(correct) / len(correct),
        "best_of_n": correct[first_answered],
        "majority": correct[vote],
    }


def selector_rows(samples_per_problem: list[list[Record]]) -> dict[str, Any]:
    """Accuracy (95% bootstrap interval) of each selector over problems, and ``n`` (samples per problem)."""
    per_problem = [select(samples) for samples in samples_per_problem]
    out: dict[str, Any] = {"n": min((len(s) for s in samples_per_problem), default=0)}
    for name in SELECTORS:
        values = [p[name] for p in per_problem]
        out[name] = {
            "accuracy": sum(values) / len(values) if values else float("nan"),
            "accuracy_ci95": bootstrap_ci(values),
        }
    return out


@dataclass
class Sampling:
    """How many decompositions the selectors get per problem (``eval`` config): the student's, sampled at
    ``temperature`` (0: no student selectors), and the teacher's (its first is teacher@1)."""

    student: int
    teacher: int
    temperature: float
    seed: int
