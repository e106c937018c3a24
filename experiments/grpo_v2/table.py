"""Print the GRPO runs on world v2 and their training curves: python experiments/grpo_v2/table.py"""

import csv
import json
from pathlib import Path

RUNS = Path(__file__).parent / "runs"
for run in sorted(p for p in RUNS.iterdir() if (p / "results.json").exists()):
    r = json.loads((run / "results.json").read_text())
    s, module = r["student"], r["config"]["algorithm"]["module"]
    print(
        f"{run.name}: test {s['accuracy']:.3f} {s['accuracy_ci95']}, garbled {s['garbled_rate']:.3f}, "
        f"sub-questions {s['mean_subquestions']:.2f}, val curve {r['train']['val_curve']}, "
        f"{r['config']['algorithm']['name']}, subquestion_cost {module.get('subquestion_cost')}, beta {module['beta']}, lr {module['lr']}"
    )
    for metrics in run.glob("logs/**/metrics.csv"):  # the CSV logger's per-step rows (not committed: rerun to see)
        for row in csv.DictReader(metrics.open()):
            if row.get("train/reward_mean"):
                print(
                    f"  step {row['step']}: reward {float(row['train/reward_mean']):.4f}, dropped groups "
                    f"{float(row['train/dropped_groups']):.3f}, sub-questions {float(row['train/mean_subquestions']):.2f}"
                    + (
                        f", garbled samples {float(row['train/garbled_share']):.3f}"
                        if row.get("train/garbled_share")
                        else ""
                    )
                )
