"""A cascade: the student answers every problem, and those whose confidence is below a threshold go to
the LLM. Thresholds are chosen on a validation split and applied unchanged on test.

Costs are per problem, in dollars: the student's (decoding and scoring, paid on every problem), the
LLM's (paid on deferred problems only; one value per problem when its usage was recorded), and what a
kept problem still pays (answering the student's decomposition, unless the score already paid it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGETS = ("deferred", "budget", "accuracy")


@dataclass
class Split:
    """One split's per-problem ingredients of a cascade."""

    scores: np.ndarray  # the student's confidence (higher = surer)
    student_correct: np.ndarray  # 0/1
    llm_correct: np.ndarray  # 0/1: the LLM's own decomposition of the same problem, same answerer
    llm_cost: np.ndarray  # dollars for the LLM to decompose each problem
    student_cost: float  # dollars per problem for the student and its confidence score
    kept_cost: float = 0.0  # dollars per problem the cascade keeps (answering the student's decomposition)

    def __post_init__(self) -> None:
        n = len(self.scores)
        for name in ("student_correct", "llm_correct", "llm_cost"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {n} scores")


@dataclass
class Point:
    threshold: float  # problems scoring below it are deferred
    deferred: float  # share of problems deferred
    accuracy: float
    cost: float  # dollars per problem


def apply(split: Split, threshold: float) -> Point:
    """The cascade on ``split`` when problems scoring below ``threshold`` go to the LLM."""
    deferred = split.scores < threshold
    correct = np.where(deferred, split.llm_correct, split.student_correct)
    cost = split.student_cost + float(np.where(deferred, split.llm_cost, split.kept_cost).mean())
    return Point(threshold, float(deferred.mean()), float(correct.mean()), cost)


def candidate_thresholds(scores: np.ndarray) -> list[float]:
    """Every distinct cut of ``scores``: each distinct value (defer what is below it) and +inf (defer all)."""
    return [*np.unique(scores).tolist(), math.inf]


def threshold_for_share(scores: np.ndarray, share: float) -> float:
    """The largest threshold that defers at most ``share`` of ``scores``."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a deferral share is in [0, 1], got {share}")
    allowed = [t for t in candidate_thresholds(scores) if np.mean(scores < t) <= share + 1e-12]
    return max(allowed)


def choose_threshold(split: Split, kind: str, value: float) -> tuple[float, bool]:
    """The threshold meeting a target on ``split`` (validation), and whether the target was reachable.

    - ``deferred``: defer as many problems as allowed, at most ``value`` of them;
    - ``budget``: the most accurate cascade costing at most ``value`` dollars per problem (ties: cheaper);
    - ``accuracy``: the cheapest cascade with accuracy at least ``value`` (unreachable: defer everything).
    """
    if kind not in TARGETS:
        raise ValueError(f"unknown cascade target {kind!r}; valid: {', '.join(TARGETS)}")
    if kind == "deferred":
        return threshold_for_share(split.scores, value), True
    points = [apply(split, t) for t in candidate_thresholds(split.scores)]
    if kind == "budget":
        affordable = [p for p in points if p.cost <= value + 1e-12]
        if not affordable:
            return min(points, key=lambda p: p.cost).threshold, False
        return max(affordable, key=lambda p: (p.accuracy, -p.cost)).threshold, True
    reaching = [p for p in points if p.accuracy >= value - 1e-12]
    if not reaching:
        return math.inf, False
    return min(reaching, key=lambda p: (p.cost, p.deferred)).threshold, True


def curve(validation: Split, test: Split, shares: list[float]) -> list[tuple[float, Point]]:
    """For each deferral share, the threshold that defers it on validation, applied on test."""
    return [(share, apply(test, threshold_for_share(validation.scores, share))) for share in shares]


def apgr(points: list[Point], student_accuracy: float, llm_accuracy: float) -> float | None:
    """RouteLLM's average performance gap recovered: the area under PGR(share) = (accuracy - student alone) /
    (LLM alone - student alone) against the share of problems sent to the LLM, from 0 (student alone) to 1
    (LLM alone), by the trapezoid rule over ``points`` (their own deferred shares) and the two ends. 0.5 is
    what deferring at random recovers; None when the LLM is no better than the student (no gap)."""
    gap = llm_accuracy - student_accuracy
    if gap <= 0:
        return None
    curve = sorted({(0.0, student_accuracy), (1.0, llm_accuracy), *((p.deferred, p.accuracy) for p in points)})
    area = 0.0
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        area += (x1 - x0) * ((y0 + y1) / 2 - student_accuracy) / gap
    return area


def share_for_llm_fraction(validation: Split, test: Split, fraction: float = 0.95) -> dict[str, float | bool]:
    """The cheapest cascade reaching ``fraction`` of the LLM's accuracy on validation, applied on test: the
    share of problems it sends to the LLM there, and the accuracy it reaches (a validation-chosen point)."""
    threshold, reached = choose_threshold(validation, "accuracy", fraction * float(validation.llm_correct.mean()))
    point = apply(test, threshold)
    return {
        "fraction": fraction,
        "llm_share": point.deferred,
        "accuracy": point.accuracy,
        "llm_accuracy": float(test.llm_correct.mean()),
        "reached_on_validation": reached,
    }
