"""The recipe search's history in the report: each trial's hyper-parameters and validation accuracy.

Trials are runs of ``conf/sweep_recipe.yaml`` (``sweep_group=recipe``); ``distill.report`` keeps them
out of its accuracy tables and shows them here: a table of each size's best trial (its recipe, as
``conf/recipe/<size>.yaml`` should hold it) and ``search_history.png``, validation accuracy against each
searched hyper-parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # runs.py reads a trial with search_trial below
    from distill.report.runs import Run

# what the search varies: (label, where it sits in a run's config)
SEARCHED = [
    ("learning rate", ("algorithm", "module", "lr")),
    ("batch size", ("data", "batch_size")),
    ("warm-up steps", ("algorithm", "module", "warmup_steps")),
]


def _sizes(runs: list[Run]) -> list[str]:
    """The student sizes of the trials, smallest first."""
    return sorted({r.student for r in runs}, key=lambda s: next(r.params for r in runs if r.student == s))


def search_trial(results: dict[str, Any]) -> dict[str, Any]:
    """A trial's searched hyper-parameters, its step budget and its best validation accuracy."""
    config = results["config"]
    trial = {}
    for label, keys in SEARCHED:
        value = config
        for key in keys:
            value = value[key]
        trial[label] = value
    trial["steps"] = results["train"]["steps"]
    trial["val_accuracy"] = results["train"]["best_val_accuracy"]
    curve = results["train"].get("val_curve")  # runs since the curve was recorded
    # the best validation came at the last one: the budget may have stopped a run that was still improving
    trial["best_at_end"] = curve[-1][1] >= max(a for _, a in curve) if curve else None
    return trial


def search_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Per student size (smallest first): the number of trials, how many reached 0.5 on validation, and the
    best trial's recipe with its validation and test accuracy."""
    header = [
        "student",
        "parameters",
        "trials",
        "trials >= 0.5 (validation)",
        "best validation accuracy",
        *[label for label, _ in SEARCHED],
        "steps",
        "its test accuracy",
        "best at its last validation",
    ]
    rows = []
    for student in _sizes(runs):
        trials = [r for r in runs if r.student == student]
        best = max(trials, key=lambda r: r.trial["val_accuracy"])
        rows.append(
            [
                student,
                f"{best.params:,}",
                str(len(trials)),
                str(sum(r.trial["val_accuracy"] >= 0.5 for r in trials)),
                f"{best.trial['val_accuracy']:.3f}",
                f"{best.trial['learning rate']:.3g}",
                str(best.trial["batch size"]),
                str(best.trial["warm-up steps"]),
                str(best.trial["steps"]),
                f"{best.accuracy:.3f}",
                {True: "yes", False: "no", None: "not recorded"}[best.trial["best_at_end"]],
            ]
        )
    return header, rows


def shared_settings_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """The settings every size tried (a seeded search's first trials are the same for every size): validation
    accuracy per size side by side, best setting first, so that size is compared at equal recipes too."""
    students = _sizes(runs)
    score: dict[tuple, dict[str, float]] = {}
    for r in runs:
        setting = tuple(r.trial[label] for label, _ in SEARCHED)
        score.setdefault(setting, {})[r.student] = r.trial["val_accuracy"]
    shared = [(setting, s) for setting, s in score.items() if len(s) == len(students)]
    shared.sort(key=lambda item: -max(item[1].values()))
    header = [label for label, _ in SEARCHED] + [f"{s} (validation)" for s in students]
    return header, [
        [f"{setting[0]:.3g}", *map(str, setting[1:]), *[f"{s[st]:.3f}" for st in students]] for setting, s in shared
    ]


def plot_search(runs: list[Run], path: Path) -> None:
    """Validation accuracy against each searched hyper-parameter, one colour per student size; the best trial
    of each size is a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = _sizes(runs)
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(SEARCHED), figsize=(4 * len(SEARCHED), 3.8), sharey=True)
    for ax, (label, _) in zip(axes, SEARCHED):
        for i, student in enumerate(students):
            trials = [r.trial for r in runs if r.student == student]
            # categorical values side by side per size, so that the sizes' points do not hide each other
            shift = 1 + 0.04 * (i - (len(students) - 1) / 2) if label != "learning rate" else 1
            offset = 0 if label != "warm-up steps" else 6 * (i - (len(students) - 1) / 2)
            xs = [t[label] * shift + offset for t in trials]
            ax.scatter(
                xs,
                [t["val_accuracy"] for t in trials],
                color=colors(i),
                s=18,
                alpha=0.7,
                label=f"{student} ({len(trials)} trials)",
            )
            best = max(trials, key=lambda t: t["val_accuracy"])
            ax.scatter(
                best[label] * shift + offset,
                best["val_accuracy"],
                color=colors(i),
                marker="*",
                s=160,
                edgecolors="black",
                linewidths=0.6,
            )
        if label == "learning rate":
            ax.set_xscale("log")
        if label == "batch size":
            ax.set_xscale("log", base=2)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("best validation accuracy")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Recipe search: Filtered BC from scratch at a fixed episode budget (stars: each size's best)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
