"""Print the online RL table from the committed runs: python experiments/online_rl/table.py"""

import json
from pathlib import Path

RUNS = Path(__file__).parent / "runs"
print(
    "| run | test accuracy [95% CI] | student best-of-4 | teacher@1 | teacher best-of-4 | garbled share | "
    "mean sub-questions | ood: student / teacher@1 | train seconds |"
)
print("|---|---|---|---|---|---|---|---|---|")
for path in sorted(RUNS.glob("*/results.json")):
    r = json.loads(path.read_text())
    s, t = r["student"], r["teacher"]
    lo, hi = s["accuracy_ci95"]
    best = lambda row: f"{row['selectors']['best_of_n']['accuracy']:.3f}" if "selectors" in row else "n/a"  # noqa: E731
    ood = r.get("splits", {}).get("ood")
    ood_text = f"{ood['student']['accuracy']:.3f} / {ood['teacher']['accuracy']:.3f}" if ood else "n/a"
    print(
        f"| {path.parent.name} | {s['accuracy']:.3f} [{lo:.3f}, {hi:.3f}] | {best(s)} | {t['accuracy']:.3f} | "
        f"{best(t)} | {s['garbled_rate']:.3f} | {s['mean_subquestions']:.2f} | {ood_text} | "
        f"{r['train']['seconds']:.0f} |"
    )

# the mean over seeds per world and objective (seeds 0, 1, 2 where all ran), with the reports' 95% interval
# (distill.measurement.metrics.accuracy_interval: seeds and each seed's test sample)
from collections import defaultdict  # noqa: E402

from distill.measurement.metrics import accuracy_interval  # noqa: E402

groups = defaultdict(list)
for path in sorted(RUNS.glob("*/results.json")):
    name, seed = path.parent.name.rsplit("_seed", 1)
    groups[name].append(json.loads(path.read_text()))
print("\n| world_objective | seeds | validation accuracy, best, mean | test accuracy, mean [95% CI] | teacher@1 | "
      "teacher best-of-4 | garbled share | ood: student / teacher@1 | train seconds |")  # fmt: skip
print("|---|---|---|---|---|---|---|---|---|")
mean = lambda values: sum(values) / len(values)  # noqa: E731
for name, runs in sorted(groups.items()):
    if len(runs) < 2:
        continue
    m = accuracy_interval([r["student"]["accuracy"] for r in runs], runs[0]["student"]["n_problems"])
    teacher = mean([r["teacher"]["accuracy"] for r in runs])
    best_of_4 = [r["teacher"]["selectors"]["best_of_n"]["accuracy"] for r in runs if "selectors" in r["teacher"]]
    oods = [r["splits"]["ood"] for r in runs if "ood" in r.get("splits", {})]
    ood = f"{mean([o['student']['accuracy'] for o in oods]):.3f} / {mean([o['teacher']['accuracy'] for o in oods]):.3f}"
    print(
        f"| {name} | {len(runs)} | {mean([r['train']['best_val_accuracy'] for r in runs]):.3f} | {m.text()} | {teacher:.3f} | {mean(best_of_4):.3f} | "
        f"{mean([r['student']['garbled_rate'] for r in runs]):.3f} | {ood if oods else 'n/a'} | "
        f"{mean([r['train']['seconds'] for r in runs]):.0f} |"
    )
