"""The judge filter's table from the committed runs: python experiments/judge_filter/table.py"""

import json
from collections import defaultdict
from pathlib import Path

from distill.measurement.metrics import accuracy_interval

RUNS = Path(__file__).parent / "runs"
groups = defaultdict(list)
print("| run | test accuracy [95% CI] | records trained on | teacher@1 | garbled share | mean sub-questions |")
print("|---|---|---|---|---|---|")
for path in sorted(RUNS.glob("*/results.json")):
    r = json.loads(path.read_text())
    s = r["student"]
    groups[path.parent.name.rsplit("_seed", 1)[0]].append(r)
    print(
        f"| {path.parent.name} | {s['accuracy']:.3f} [{s['accuracy_ci95'][0]:.3f}, {s['accuracy_ci95'][1]:.3f}] | "
        f"{r['train']['train_records']} | {r['teacher']['accuracy']:.3f} | {s['garbled_rate']:.3f} | "
        f"{s['mean_subquestions']:.2f} |"
    )
print("\n| world_variant | seeds | test accuracy, mean [95% CI] |")
print("|---|---|---|")
for name, runs in sorted(groups.items()):
    m = accuracy_interval([r["student"]["accuracy"] for r in runs], runs[0]["student"]["n_problems"])
    print(f"| {name} | {len(runs)} | {m.text()} |")
