"""Print the learnability table from the committed runs: python experiments/learnability_v2/table.py"""

import json
from pathlib import Path

RUNS = Path(__file__).parent / "runs"
print("| variant | student test accuracy [95% CI] | teacher@1 | garbled share | mean sub-questions | best val |")
print("|---|---|---|---|---|---|")
for name in (
    "names_320",
    "names_40",
    "in_order",
    "one_template",
    "muon",
    "muon_4layers",
    "more_data",
    "same_item",
    "fewer_steps",
    "fewer_distractors",
):
    path = RUNS / name / "results.json"
    if not path.exists():
        print(f"| {name} | not run | | | | |")
        continue
    r = json.loads(path.read_text())
    s, t = r["student"], r["teacher"]
    lo, hi = s["accuracy_ci95"]
    print(
        f"| {name} | {s['accuracy']:.3f} [{lo:.3f}, {hi:.3f}] | {t['accuracy']:.3f} | {s['garbled_rate']:.3f} | "
        f"{s['mean_subquestions']:.2f} | {r['train']['best_val_accuracy']:.3f} |"
    )
