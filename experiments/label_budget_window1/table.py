"""The label-budget curves from the committed runs: python experiments/label_budget_window1/table.py

Writes budget.csv (one row per run: strategy, budget, seed, test accuracy, the records Filtered BC trained on, and
what the labels cost) and budget.png
(test accuracy against spend in dollars, a line per strategy through the no-label and the label-everything runs,
the mean over seeds with its 95% t-interval), and prints the mean per strategy and budget."""

import csv
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from distill.measurement.metrics import mean_interval  # noqa: E402

HERE = Path(__file__).parent
COLUMNS = ("strategy", "budget", "seed", "accuracy", "train_records", "labelled", "reviewer_hours", "reviewer_usd",
           "answerer_calls", "llm_usd")  # fmt: skip


def rows() -> list[dict]:
    out = []
    for path in sorted(HERE.glob("runs/*_seed*/results.json")):
        name, seed = path.parent.name.rsplit("_seed", 1)
        strategy, budget = name.rsplit("_", 1)
        labels = path.parent / "labels.json"
        cost = json.loads(labels.read_text()) if labels.exists() else {}
        result = json.loads(path.read_text())
        out.append({"strategy": strategy, "budget": budget, "seed": int(seed), "accuracy": result["student"]["accuracy"],
                    "train_records": result["train"]["train_records"], **{k: cost.get(k, 0) for k in COLUMNS[5:]}})  # fmt: skip
    return out


def main() -> None:
    found = rows()
    with (HERE / "budget.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(found)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in found:
        groups[r["strategy"], r["budget"]].append(r)
    print("| strategy | budget | seeds | test accuracy, mean [95% CI] | records trained on, mean | spend, mean USD |")
    print("|---|---|---|---|---|---|")
    points: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    for (strategy, budget), runs in sorted(groups.items(), key=lambda g: (g[0][0], budget_order(g[0][1]))):
        m = mean_interval([r["accuracy"] for r in runs])
        spend = sum(r["reviewer_usd"] + r["llm_usd"] for r in runs) / len(runs)
        kept = sum(r["train_records"] for r in runs) / len(runs)
        print(f"| {strategy} | {budget} | {len(runs)} | {m.text()} | {kept:.0f} | {spend:.2f} |")
        lines = [strategy] if strategy not in ("none", "person") else []
        if strategy == "none":  # no labels: every labelling line starts there (judge: a point of its own, no labels)
            lines = [s for s, _ in groups if s not in ("none", "person", "judge")]
        if strategy == "person":  # every record labelled by a person: every person strategy ends there
            lines = [s for s, _ in groups if s not in ("none", "person", "ask", "judge")]
        for line in lines:
            points[line].append((spend, m.mean, m.mean - (m.low or m.mean), (m.high or m.mean) - m.mean))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for line, pts in sorted(points.items()):
        pts.sort()
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[[p[2] for p in pts], [p[3] for p in pts]],
                    marker="o", capsize=3, label=line)  # fmt: skip
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("spend on labels, USD (reviewers at $30/h, 30 s a record; re-asks at Claude's prices)")
    ax.set_ylabel("student test accuracy")
    ax.set_title("Label budget, world window1 (Filtered BC, small student)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "budget.png", dpi=120)


def budget_order(budget: str) -> float:
    return float("inf") if budget == "all" else float(budget)


if __name__ == "__main__":
    main()
