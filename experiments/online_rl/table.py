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
