"""The calibration map: one row per ladder level, from experiments/calibration/runs (bash run.sh makes them).

    python experiments/calibration/map.py [--runs DIR] [--out DIR]

Per level: every surface rule and their best, the answerer asked nothing, gold, gold plus two irrelevant
questions, teacher@1, the teacher's label-free best-of-4 and majority, P(correct | answered) over the training
teacher run (all from calibration.json), and the main job's Filtered BC student over its seeds (mean [95%
interval], accuracy by number of operations, and the share of its test decompositions that equal the best rule's,
computed once per run into rule_match.json). Then the conditions of issue 41 that these figures decide; the fourth
(objectives apart) needs the offline block and is not read here. Writes map.csv, map.md and map.png into --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

from hydra.utils import instantiate

from distill.core.records import read_records
from distill.measurement.metrics import accuracy_interval
from distill.synthetic.teacher import RuleTeacher

HERE = Path(__file__).resolve().parent
LEVELS = ["v1", "ordered", "window1", "window2", "interleaved", "shuffled", "v2"]


def rule_match(run: Path, best_rules: list[str]) -> float:
    """Share of the student's test decompositions that are exactly those of a best surface rule (any of those tied
    for best; cached per run)."""
    cached = run / "rule_match.json"
    if cached.exists() and json.loads(cached.read_text()).get("rules") == best_rules:
        return json.loads(cached.read_text())["share"]
    config = json.loads((run / "results.json").read_text())["config"]
    dataset = instantiate(config["dataset"])
    problems = dataset.load(config["dataset"]["split"])
    asked = {p.problem_id: [] for p in problems}
    for name in best_rules:
        for p, d in zip(problems, RuleTeacher(name).decompose(problems, 1)):
            asked[p.problem_id].append(d[0].subquestions)
    records = read_records(run / "eval_records.jsonl")
    share = sum(r.subquestions in asked[r.problem_id] for r in records) / len(records)
    cached.write_text(json.dumps({"rules": best_rules, "share": share}) + "\n")
    return share


def level_row(level: str, folder: Path) -> dict[str, object]:
    cal = json.loads((folder / "calibration.json").read_text())
    rules = {k[len("rule_") :]: v for k, v in cal.items() if k.startswith("rule_")}
    best_rules = [name for name, v in rules.items() if v == cal["rule"]]
    teacher = cal["teacher"]
    row: dict[str, object] = {
        "level": level, **{f"rule {k}": v for k, v in rules.items()}, "best rule": cal["rule"],
        "best rule name": " = ".join(best_rules), "none": cal["none"], "gold": cal["gold"],
        "gold + 2 irrelevant": cal["gold_plus_2_irrelevant"], "teacher@1": teacher["first"]["accuracy"],
        f"teacher best-of-{teacher['n']}": teacher["best_of_n"]["accuracy"],
        "teacher majority": teacher["majority"]["accuracy"],
        "P(correct given answered)": cal["train_run"]["p_correct_given_answered"],
    }  # fmt: skip
    runs = sorted(p.parent for p in folder.glob("seed*/results.json"))
    if runs:
        results = [json.loads((r / "results.json").read_text()) for r in runs]
        accuracies = [r["student"]["accuracy"] for r in results]
        interval = accuracy_interval(accuracies, results[0]["student"]["n_problems"])
        steps = sorted({n for r in results for n in r["student"]["accuracy_by_steps"]}, key=int)
        row.update({
            "student seeds": len(runs), "student": interval.mean, "student ci95": f"[{interval.low:.3f}, {interval.high:.3f}]",
            **{f"student, {n} ops": statistics.fmean(r["student"]["accuracy_by_steps"].get(n, 0.0) for r in results)
               for n in steps},
            "student = best rule": statistics.fmean(rule_match(r, best_rules) for r in runs),
        })  # fmt: skip
    return row | conditions(row, teacher["n"])


def conditions(row: dict, n: int) -> dict[str, str]:
    """Issue 41's bars that one level's figures decide: yes / no, or n/a without a student."""
    t1, best, rule = row["teacher@1"], row[f"teacher best-of-{n}"], row["best rule"]
    out = {
        "teacher@1 in [0.50, 0.75]": 0.50 <= t1 <= 0.75,
        "best-of-4 >= teacher@1 + 0.10": best >= t1 + 0.10,
        "P(correct given answered) <= 0.95": row["P(correct given answered)"] <= 0.95,
        "best rule <= teacher@1 - 0.05": rule <= t1 - 0.05,
    }
    if "student" in row:
        out["student >= 0.45"] = row["student"] >= 0.45
        out["student >= best rule + 0.10"] = row["student"] >= rule + 0.10
    return {k: "yes" if v else "no" for k, v in out.items()}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for key, style in [("best rule", "s--"), ("teacher@1", "o-"), ("teacher best-of-4", "^:"), ("none", "x:")]:
        ax.plot(x, [r[key] for r in rows], style, label=key)
    with_student = [(i, r) for i, r in enumerate(rows) if "student" in r]
    lows = [float(r["student ci95"].strip("[]").split(",")[0]) for _, r in with_student]
    highs = [float(r["student ci95"].strip("[]").split(",")[1]) for _, r in with_student]
    ys = [r["student"] for _, r in with_student]
    ax.errorbar([i for i, _ in with_student], ys, yerr=[[y - lo for y, lo in zip(ys, lows)], [h - y for y, h in zip(ys, highs)]],
                fmt="D-", color="black", capsize=3, label="Filtered BC student (main job, 3 seeds)")  # fmt: skip
    ax.set_xticks(x, [r["level"] for r in rows])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("test accuracy (k = 1 answerer of each level)")
    ax.set_title("The ladder of worlds: surface rule, teacher and student")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=HERE / "runs")
    parser.add_argument("--out", type=Path, default=HERE / "report")
    args = parser.parse_args()
    rows = [
        level_row(level, args.runs / level) for level in LEVELS if (args.runs / level / "calibration.json").exists()
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with (args.out / "map.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows({k: f"{v:.3f}" if isinstance(v, float) else v for k, v in r.items()} for r in rows)
    lines = ["| " + " | ".join(["", *[r["level"] for r in rows]]) + " |", "|---" * (len(rows) + 1) + "|"]
    for key in columns[1:]:
        cells = [r.get(key, "") for r in rows]
        lines.append("| " + " | ".join([key, *(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells)]) + " |")
    (args.out / "map.md").write_text("\n".join(lines) + "\n")
    plot(rows, args.out / "map.png")
    print((args.out / "map.md").read_text())


if __name__ == "__main__":
    main()
