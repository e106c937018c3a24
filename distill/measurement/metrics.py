"""Statistics over per-problem outcomes: intervals of a mean and the ranking quality of a score."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

# two-sided 95% quantiles of Student's t for 1..30 degrees of freedom; the normal 1.96 beyond
T95 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def bootstrap_ci(values: list[float], n_resamples: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile-bootstrap interval of the mean."""
    if not values:
        return [float("nan"), float("nan")]
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(n_resamples, len(data)))].mean(axis=1)
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def roc_auc(scores: list[float], labels: list[bool]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half).

    Computed from ranks (Mann-Whitney U), O(n log n): teacher runs hold tens of thousands of records.
    """
    n_pos = sum(bool(y) for y in labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    order = sorted(range(len(scores)), key=scores.__getitem__)
    rank_sum, start = 0.0, 0
    while start < len(order):
        end = start  # [start, end] is a run of tied scores; each gets their average rank
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        rank_sum += sum(1 for i in order[start : end + 1] if labels[i]) * ((start + end) / 2 + 1)
        start = end + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass
class Interval:
    mean: float
    low: float | None
    high: float | None
    n: int

    def text(self) -> str:
        if self.low is None:
            return f"{self.mean:.3f} (n={self.n})"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def mean_interval(values: list[float]) -> Interval:
    """Mean and 95% t-interval over seeds (no interval from one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Interval(mean, None, None, len(values))
    df = len(values) - 1
    half = (T95[df - 1] if df <= len(T95) else 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half, len(values))


def accuracy_interval(accuracies: list[float], n_problems: int, n_resamples: int = 4000, seed: int = 0) -> Interval:
    """Mean accuracy over seeds and a 95% interval that stays inside [0, 1]: a two-level bootstrap that draws
    the seeds with replacement, then each drawn seed's accuracy anew as Binomial(n_problems, its accuracy) /
    n_problems, so the interval holds the seeds' spread and each seed's sampling error of a proportion (a
    t-interval on three proportions near 0 or 1 crosses the bounds). One seed gives the binomial part alone."""
    rates = np.asarray(accuracies, dtype=float)
    rng = np.random.default_rng(seed)
    drawn = rates[rng.integers(0, len(rates), size=(n_resamples, len(rates)))]
    means = (rng.binomial(n_problems, drawn) / n_problems).mean(axis=1)
    return Interval(float(rates.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)), len(rates))
