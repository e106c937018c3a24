"""The world-v2 recipe search's trials so far, one row each (every searched hyper-parameter, the best validation
accuracy the search maximises, and the test accuracy it never sees), per student size:

    python experiments/recipes_v2/table.py [experiments/recipes_v2/runs]
"""

import json
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else "experiments/recipes_v2/runs")
print("| size | trial | AdamW lr | Muon lr | batch | warm-up | prompt LM weight | steps | best val | test |")
print("|---|---|---|---|---|---|---|---|---|---|")
for size in sorted(p.name for p in root.iterdir() if p.is_dir()):
    trials = sorted((int(p.parent.name), p) for p in (root / size).glob("*/results.json"))
    for number, path in trials:
        r = json.loads(path.read_text())
        module, data = r["config"]["algorithm"]["module"], r["config"]["data"]
        print(
            f"| {size} | {number} | {module['lr']:.2e} | {module['muon_lr']:.2e} | {data['batch_size']} | "
            f"{module['warmup_steps']} | {module['prompt_loss_weight']} | {r['train']['steps']} | "
            f"{r['train']['best_val_accuracy']:.3f} | {r['student']['accuracy']:.3f} |"
        )
