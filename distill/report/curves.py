"""Training curves of runs as one picture: a panel per metric, a colour per configuration, a line per seed.

    python -m distill.report.curves RUN [RUN ...] --out curves.png [--metrics val/accuracy train/reward_mean ...]

It reads each run's CSV log (``logger=csv``: ``RUN/logs/version_*/metrics.csv``; the versions of a resumed run
are joined by step). Runs whose folder names differ only in ``_seed<N>`` share a colour. A metric no run logged
gets no panel.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

DEFAULT_METRICS = (
    "val/accuracy",
    "train/reward_mean",
    "train/garbled_share",
    "train/mean_subquestions",
    "train/kl",
    "train/sampled_entropy",
    "train/loss",
)


def read_curves(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Each metric's (step, value) points, sorted by step, from every CSV log version of ``run``."""
    files = sorted((run / "logs").glob("version_*/metrics.csv"))
    if not files:
        raise FileNotFoundError(f"{run}: no logs/version_*/metrics.csv (train with logger=csv)")
    points: dict[str, dict[int, float]] = {}
    for file in files:  # a later version (a resumed run) overwrites an earlier one's values at the same step
        with file.open() as f:
            for row in csv.DictReader(f):
                for name, value in row.items():
                    if name not in ("epoch", "step") and value not in ("", None):
                        points.setdefault(name, {})[int(row["step"])] = float(value)
    return {name: sorted(values.items()) for name, values in points.items()}


def configuration(run: Path) -> str:
    """A run's configuration: its folder name without ``_seed<N>``."""
    return re.sub(r"_seed\d+", "", run.name)


def plot_curves(runs: list[Path], out: Path, metrics: tuple[str, ...] = DEFAULT_METRICS) -> list[str]:
    """Write the picture to ``out``; the metrics it has panels for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {run: read_curves(run) for run in runs}
    shown = [m for m in metrics if any(m in c for c in curves.values())]
    if not shown:
        raise ValueError(f"none of the runs logged any of {', '.join(metrics)}")
    configs = list(dict.fromkeys(configuration(run) for run in runs))
    colours = {c: f"C{i % 10}" for i, c in enumerate(configs)}
    columns = min(3, len(shown))
    rows = -(-len(shown) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, shown):
        for run, curve in curves.items():
            if metric in curve:
                steps, values = zip(*curve[metric])
                ax.plot(
                    steps, values, color=colours[configuration(run)], alpha=0.8, marker="." if len(steps) < 12 else None
                )
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colours[c], label=c) for c in configs]
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(configs)), frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(configs) > 4), 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return shown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m distill.report.curves", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders trained with logger=csv")
    parser.add_argument("--out", type=Path, required=True, help="the picture to write (.png)")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), help="logged metric names")
    args = parser.parse_args(argv)
    try:
        shown = plot_curves(args.runs, args.out, tuple(args.metrics))
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    print(f"{args.out}: {', '.join(shown)} for {len(args.runs)} runs")


if __name__ == "__main__":
    main()
