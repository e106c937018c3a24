"""Issue 29's checks on the size grid, from its results.json files: per answerer and objective, the mean test accuracy
of each size and its change to the next larger size; the seed furthest below its cell's mean; the teacher's rows; the
mean run wall time per size and objective.

    python experiments/size_grid_v2/done_when.py [RUNS_FOLDER]
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

SIZES = ("tiny", "small", "medium")
runs = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "runs")
cells: dict[tuple[str, str, str], list[float]] = defaultdict(list)
teacher: dict[str, dict[str, tuple[float, float, float]]] = defaultdict(dict)
wall: dict[tuple[str, str], list[float]] = defaultdict(list)
for path in sorted(runs.glob("*/results.json")):
    r, name = json.loads(path.read_text()), path.parent.name
    k, seed = re.search(r"answerer\.k=(\d)", name)[1], re.search(r"seed=(\d)", name)[1]
    objective, size = re.search(r"synthetic_(\w+?),", name)[1], re.search(r"student=(\w+)", name)[1]
    cells[k, objective, size].append(r["student"]["accuracy"])
    wall[size, objective].append(r["wall_seconds"])
    teacher[k][seed] = (
        r["teacher"]["accuracy"],
        r["teacher"]["selectors"]["best_of_n"]["accuracy"],
        r["baselines"]["rule"],
    )
print(
    f"{sum(map(len, cells.values()))} runs in {len(cells)} cells, seeds per cell: {sorted({len(v) for v in cells.values()})}"
)
for k in sorted(teacher):
    rows = list(teacher[k].values())
    print(
        f"k={k}: teacher@1 {statistics.mean(r[0] for r in rows):.3f}, teacher best-of-4 "
        f"{statistics.mean(r[1] for r in rows):.3f}, text rule {statistics.mean(r[2] for r in rows):.3f} (means over seeds)"
    )
    for objective in sorted({o for kk, o, _ in cells if kk == k}):
        means = {s: statistics.mean(cells[k, objective, s]) for s in SIZES if cells.get((k, objective, s))}
        steps = ", ".join(
            f"{a}->{b} {means[b] - means[a]:+.3f}" for a, b in zip(SIZES, SIZES[1:]) if a in means and b in means
        )  # (a grid still running: the cells it has)
        print(f"  {objective:12s} " + "  ".join(f"{s} {m:.3f}" for s, m in means.items()) + f"   ({steps})")
worst = max((statistics.mean(v) - x, key) for key, v in cells.items() for x in v)
print(f"the seed furthest below its cell's mean: {worst[0]:.3f} below, cell {worst[1]}")
for size in SIZES:
    print(
        f"{size} mean run wall: "
        + ", ".join(f"{o} {statistics.mean(v):.0f} s" for (s, o), v in sorted(wall.items()) if s == size)
    )
print(f"summed run wall {sum(map(sum, wall.values())) / 3600:.2f} hours")
