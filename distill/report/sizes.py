"""The report's picture of student size: accuracy against parameters beside the money each costs.

Left: test accuracy (mean over seeds, a 95% interval inside [0, 1]) against student parameters on a log axis
whose ticks are the sizes themselves, with the teacher's first sample (teacher@1) and its label-free best-of-n
as lines. Right: dollars per 1,000 problems for one decomposition each: the student's decode time at a price
per compute hour, against the LLM's calls (recorded prices where an LLM ran, nominal ones otherwise, marked).
The legend sits below both panels, off the data.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import yaml

from distill.measurement.metrics import accuracy_interval
from distill.report.runs import Run

CASCADE_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "cascade.yaml"


def nominal_prices() -> dict[str, float]:
    """The nominal prices of ``conf/cascade.yaml`` (``cascade.prices``), their one source."""
    return dict(yaml.safe_load(CASCADE_CONFIG.read_text())["cascade"]["prices"])


def size_label(student: str, params: int) -> str:
    """A size's tick: its name without the ``scratch-`` prefix, and its parameters (``small\\n582k``)."""
    short = student.removeprefix("scratch-")
    return f"{short}\n{params / 1e6:.1f}M" if params >= 1e6 else f"{short}\n{params / 1e3:.0f}k"


def student_cost_per_1000(latency_ms: float, prices: dict[str, float]) -> float:
    """Dollars to decode 1,000 problems at ``latency_ms`` each, at the compute price per hour."""
    return latency_ms * prices["student_hour_usd"] / 3600


def llm_cost_per_1000(runs: list[Run], prices: dict[str, float]) -> tuple[float, str]:
    """Dollars for 1,000 LLM decompositions: the recorded ones where the teacher's usage has dollars, else the
    nominal price of a call; and which of the two ("recorded" or "nominal")."""
    recorded = [r.teacher_usage["cost_usd"] for r in runs if "cost_usd" in r.teacher_usage]
    if recorded:
        return 1000 * statistics.fmean(recorded), "recorded"
    return 1000 * prices["llm_call_usd"], "nominal"


def plot_sizes(runs: list[Run], path: Path, prices: dict[str, float] | None = None) -> None:
    """Both panels for ``runs``, one colour per algorithm, one marker per answerer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prices = prices or nominal_prices()
    sizes = {r.student: r.params for r in runs}
    fig, (acc_ax, cost_ax) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    _accuracy_panel(acc_ax, runs, sizes, plt.get_cmap("tab10"))
    ticks = sorted(sizes.values())
    for ax in (acc_ax, cost_ax):
        ax.set_xscale("log")
        ax.set_xticks(ticks, [size_label(s, sizes[s]) for s in sorted(sizes, key=sizes.get)])
        ax.minorticks_off()
        ax.set_xlim(ticks[0] / 1.6, ticks[-1] * 1.6)
        ax.set_xlabel("student parameters (log scale)")
    acc_ax.set_ylim(0, 1)
    acc_ax.set_ylabel("test accuracy (mean over seeds, 95% interval)")
    acc_ax.set_title("Students against the LLM's decompositions")

    _cost_panel(cost_ax, runs, sizes, prices)
    handles = [h for ax in (acc_ax, cost_ax) for h in ax.get_legend_handles_labels()[0]]
    labels = [lab for ax in (acc_ax, cost_ax) for lab in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) + 2) // 3), 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _accuracy_panel(acc_ax: Any, runs: list[Run], sizes: dict[str, int], colors: Any) -> None:
    """Accuracy per algorithm, size and answerer, with teacher@1 and the teacher's best-of-n as lines."""
    answerers, algorithms = sorted({r.answerer for r in runs}), sorted({r.algorithm for r in runs})
    markers, dashes = "osD^v", ["--", ":", "-."]
    for ai, answerer in enumerate(answerers):
        mine = [r for r in runs if r.answerer == answerer]
        for ci, algorithm in enumerate(algorithms):
            points = []
            for student in sorted(sizes, key=sizes.get):
                group = [r for r in mine if r.algorithm == algorithm and r.student == student]
                if group:
                    iv = accuracy_interval([r.accuracy for r in group], group[0].n_problems)
                    points.append((sizes[student], iv.mean, [[iv.mean - iv.low], [iv.high - iv.mean]]))
            # algorithms side by side around each size, so that their points do not hide each other
            shift = 1 + 0.04 * (ci - (len(algorithms) - 1) / 2)
            for i, (x, y, err) in enumerate(points):
                acc_ax.errorbar(
                    x * shift,
                    y,
                    yerr=err,
                    fmt=markers[ai % len(markers)],
                    color=colors(ci),
                    capsize=3,
                    label=f"{algorithm}, {answerer}" if i == 0 else None,
                )
            if len(points) > 1:
                acc_ax.plot([x * shift for x, _, _ in points], [y for _, y, _ in points], color=colors(ci), alpha=0.4)
        by_seed = list({r.seed: r for r in mine}.values())  # the teacher's rows are the same for every run of a seed
        style = dashes[ai % len(dashes)]
        acc_ax.axhline(
            statistics.fmean(r.teacher_accuracy for r in by_seed),
            color="black",
            linestyle=style,
            linewidth=1,
            label=f"teacher@1, {answerer}",
        )
        best = [r.honest["teacher_best_of_n"] for r in by_seed if r.honest and "teacher_best_of_n" in r.honest]
        if best:
            acc_ax.axhline(
                statistics.fmean(best),
                color="tab:red",
                linestyle=style,
                linewidth=1,
                label=f"teacher best-of-{by_seed[0].teacher_n}, {answerer}",
            )


def _cost_panel(cost_ax: Any, runs: list[Run], sizes: dict[str, int], prices: dict[str, float]) -> None:
    """Dollars per 1,000 problems: the student's decode at a compute price against the LLM's calls."""
    ticks = sorted(sizes.values())
    per_size = [
        statistics.fmean(student_cost_per_1000(r.latency_ms, prices) for r in runs if r.student == s)
        for s in sorted(sizes, key=sizes.get)
    ]
    cost_ax.plot(
        ticks,
        per_size,
        "o-",
        color="tab:blue",
        label=f"student: one decode (compute at ${prices['student_hour_usd']}/hour)",
    )
    llm, source = llm_cost_per_1000(runs, prices)
    cost_ax.axhline(llm, color="black", linestyle="--", linewidth=1, label=f"LLM: one decomposition ({source} price)")
    n = max((r.teacher_n or 0 for r in runs), default=0)
    if n > 1:
        cost_ax.axhline(
            n * llm,
            color="tab:red",
            linestyle="--",
            linewidth=1,
            label=f"LLM best-of-{n}: {n} decompositions ({source} price)",
        )
    cost_ax.set_yscale("log")
    cost_ax.set_ylabel("dollars per 1,000 problems (log)")
    cost_ax.set_title("What a decomposition costs")
