"""Print test accuracy per algorithm (mean, standard deviation and seeds) from a multirun folder.

    python experiments/synthetic_algorithms/table.py outputs/multirun/synthetic_algorithms
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def main(folder: str) -> None:
    rows = defaultdict(list)
    teacher = []
    for path in sorted(Path(folder).glob("**/results.json")):
        results = json.loads(path.read_text())
        config = results["config"]
        name = config["algorithm"]["name"] + ("" if config["algorithm"]["name"] != "ilql" else f"-{config['reward']['name']}")
        rows[name].append((config["seed"], results["student"]["accuracy"]))
        teacher.append(results["teacher"]["accuracy"])
    print(f"{'algorithm':18s} {'mean':>6s} {'std':>6s}  seeds: accuracy")
    for name, values in sorted(rows.items()):
        accs = [a for _, a in values]
        std = statistics.stdev(accs) if len(accs) > 1 else float("nan")
        print(f"{name:18s} {statistics.mean(accs):6.3f} {std:6.3f}  "
              + ", ".join(f"{s}: {a:.3f}" for s, a in sorted(values)))
    if teacher:
        print(f"{'teacher':18s} {statistics.mean(teacher):6.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
