"""The cascade's part of the gap report (runs with a ``cascade.json`` from ``distill.cascade``): accuracy against
dollars per student, its cascade and the LLM, and how well each confidence score ranks right answers."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from distill.measurement.cascade_curve import Point, apgr
from distill.measurement.metrics import Interval, mean_interval
from distill.report.runs import Run


def cascade_groups(runs: list[Run]) -> list[tuple[tuple[str, str], list[Run]]]:
    """Runs with a cascade.json, grouped by (answerer, student), by answerer then student size."""
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in runs:
        if r.cascade:
            groups[r.answerer, r.student].append(r)
    return sorted(groups.items(), key=lambda kv: (kv[0][0], kv[1][0].params))


def cascade_curve(run: Run, score: str | None = None) -> list[dict[str, Any]]:
    """The test curve of a score (default: the one the run's cascade chose), by validation deferral share."""
    score = score or run.cascade["target"]["score"]
    return sorted(
        (p for p in run.cascade["points"] if p["score"] == score and not p["chosen"]), key=lambda p: p["val_share"]
    )


def cascade_table(runs: list[Run], budget_share: float) -> tuple[list[str], list[list[str]]]:
    """Per answerer and student: the student alone, the chosen cascade, the LLM, and two operating points
    read off each seed's curve (mean [95% t-interval] over seeds; costs in dollars per 1,000 problems)."""
    header = [
        "answerer",
        "student",
        "score (val AUC)",
        "student alone",
        "cascade (chosen on validation)",
        "deferred",
        "LLM",
        "same accuracy as the LLM at",
        f"best accuracy at {budget_share:.0%} of the LLM's cost",
    ]

    def acc_cost(accuracies: list[float], costs: list[float]) -> str:
        return f"{mean_interval(accuracies).text()} at ${1000 * statistics.fmean(costs):.3g}"

    rows = []
    for (answerer, student), group in cascade_groups(runs):
        cs = [r.cascade for r in group]
        scores = sorted({c["target"]["score"] for c in cs})
        aucs = [a for c in cs if (a := c["confidence"][c["target"]["score"]]["val_roc_auc"]) is not None]
        match, under_budget, unmatched = [], [], 0
        for r in group:
            llm = r.cascade["llm"]
            reaching = [p["cost"] for p in cascade_curve(r) if p["accuracy"] >= llm["accuracy"]]
            if reaching:
                match.append(min(reaching) / llm["cost"])
            else:
                unmatched += 1
            affordable = [p["accuracy"] for p in cascade_curve(r) if p["cost"] <= budget_share * llm["cost"]]
            under_budget.append(max(affordable) if affordable else r.cascade["student"]["accuracy"])
        matched = f"{percent(mean_interval(match))} of its cost" if match else "never"
        if match and unmatched:
            matched += f" (never in {unmatched} of {len(group)} seeds)"
        rows.append(
            [
                answerer,
                student,
                f"{'/'.join(scores)} ({mean_interval(aucs).text() if aucs else 'n/a'})",
                acc_cost([c["student"]["accuracy"] for c in cs], [c["student"]["cost"] for c in cs]),
                acc_cost([c["chosen"]["accuracy"] for c in cs], [c["chosen"]["cost"] for c in cs]),
                mean_interval([c["chosen"]["deferred"] for c in cs]).text(),
                acc_cost([c["llm"]["accuracy"] for c in cs], [c["llm"]["cost"] for c in cs]),
                matched,
                mean_interval(under_budget).text(),
            ]
        )
    return header, rows


def percent(iv: Interval) -> str:
    """A share as a percentage with two significant digits (shares of a cost span orders of magnitude)."""
    text = f"{100 * iv.mean:.2g}%"
    return text if iv.low is None else f"{text} [{100 * max(iv.low, 0.0):.2g}%, {100 * iv.high:.2g}%]"


def confidence_table(runs: list[Run], shares: tuple[float, ...] = (0.1, 0.2, 0.3)) -> tuple[list[str], list[list[str]]]:
    """Per answerer, student and confidence score: ROC AUC for a right answer on test, and the cascade's test
    accuracy and deferred share at validation deferral shares ``shares`` (mean [95% t-interval] over seeds)."""
    header = [
        "answerer",
        "student",
        "score",
        "ROC AUC (test)",
        "APGR (test)",
        "LLM share for 95% of its accuracy",
        *[f"accuracy / deferred at {s:.0%} (validation)" for s in shares],
    ]
    rows = []
    for (answerer, student), group in cascade_groups(runs):
        for score in sorted({s for r in group for s in r.cascade["confidence"]}):
            aucs = [a for r in group if (a := r.cascade["confidence"].get(score, {}).get("roc_auc")) is not None]
            # APGR from each run's curve (so cascade.json files written before it was recorded have it too)
            apgrs = [
                a
                for r in group
                if (
                    a := apgr(
                        [
                            Point(p["threshold"] or math.inf, p["deferred"], p["accuracy"], p["cost"])
                            for p in r.cascade["points"]
                            if p["score"] == score and not p["chosen"]
                        ],
                        r.cascade["student"]["accuracy"],
                        r.cascade["llm"]["accuracy"],
                    )
                )
                is not None
            ]
            needed = [
                n["llm_share"] for r in group if (n := r.cascade["confidence"].get(score, {}).get("llm_share_for_95"))
            ]
            cells = [mean_interval(apgrs).text() if apgrs else "n/a", mean_interval(needed).text() if needed else "n/a"]
            for share in shares:
                points = [
                    p
                    for r in group
                    for p in r.cascade["points"]
                    if p["score"] == score and p["val_share"] is not None and abs(p["val_share"] - share) < 1e-9
                ]
                cells.append(
                    f"{mean_interval([p['accuracy'] for p in points]).text()} / "
                    f"{statistics.fmean(p['deferred'] for p in points):.3f}"
                    if points
                    else "n/a"
                )
            rows.append([answerer, student, score, mean_interval(aucs).text() if aucs else "n/a", *cells])
    return header, rows


def _other_scores(ax: Any, group: list[Run], colors: Any) -> None:
    """The cascade on each score but the chosen one: mean over seeds, dotted."""
    chosen = group[0].cascade["target"]["score"]
    for j, score in enumerate(sorted({s for r in group for s in r.cascade["confidence"]} - {chosen})):
        others = [cascade_curve(r, score) for r in group]
        n = min(len(c) for c in others)
        ax.plot(
            [1000 * statistics.fmean(c[k]["cost"] for c in others) for k in range(n)],
            [statistics.fmean(c[k]["accuracy"] for c in others) for k in range(n)],
            linestyle=":", marker=".", color=colors(j + 1), linewidth=1, label=f"cascade on {score}",
        )  # fmt: skip


def plot_cost(runs: list[Run], path: Path) -> None:
    """Accuracy against dollars per 1,000 problems: each student alone, its cascade curve (the chosen score,
    mean over seeds per validation deferral share, 95% intervals), and the LLM alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.get_cmap("tab10")
    ordered = cascade_groups(runs)
    for i, ((answerer, student), group) in enumerate(ordered):
        if len(ordered) == 1:  # one student: every score's curve, thin, beside the chosen one
            _other_scores(ax, group, colors)
        curves = [cascade_curve(r) for r in group]
        xs, ys, errs = [], [], [[], []]
        for j in range(min(len(c) for c in curves)):
            iv = mean_interval([c[j]["accuracy"] for c in curves])
            xs.append(1000 * statistics.fmean(c[j]["cost"] for c in curves))
            ys.append(iv.mean)
            errs[0].append(iv.mean - iv.low if iv.low is not None else 0.0)
            errs[1].append(iv.high - iv.mean if iv.high is not None else 0.0)
        label = f"{student}, {answerer}"
        score = group[0].cascade["target"]["score"]
        ax.errorbar(xs, ys, yerr=errs, color=colors(i), marker=".", capsize=2, label=f"cascade on {score}: {label}")
        student_iv = mean_interval([r.cascade["student"]["accuracy"] for r in group])
        ax.plot(
            1000 * statistics.fmean(r.cascade["student"]["cost"] for r in group), student_iv.mean, "o",
            color=colors(i), markersize=8, label=f"student alone: {label}",
        )  # fmt: skip
        llm = mean_interval([r.cascade["llm"]["accuracy"] for r in group])
        ax.plot(
            1000 * statistics.fmean(r.cascade["llm"]["cost"] for r in group),
            llm.mean,
            "*",
            color="black",
            markersize=12,
            label=f"LLM alone, {answerer}" if i == 0 or answerer != ordered[i - 1][0][0] else None,
        )
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlabel("dollars per 1,000 problems (symlog)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Student first, LLM when unsure (mean over seeds)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
