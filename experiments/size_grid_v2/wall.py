"""The ``grid_wall`` row: the measured wall time of a size grid run from a fresh folder, against the old grid's
(experiments/size_grid_v1, world v1, 54 runs) summed run time taken two runs at a time, both from results.json.

    python experiments/size_grid_v2/wall.py RUNS_FOLDER WALL_SECONDS "OVERRIDES"   (experiments/size_grid_v2/run.sh calls it)
"""

import json
import os
import platform
import sys
from pathlib import Path

OLD = Path(__file__).resolve().parents[1] / "synthetic_gap" / "runs"


def run_seconds(folder: Path) -> list[float]:
    return [json.loads(p.read_text())["wall_seconds"] for p in sorted(folder.glob("*/results.json"))]


runs, wall, overrides = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""
ours, old = run_seconds(runs), run_seconds(OLD)
print(
    json.dumps(
        {
            "row": "grid_wall",
            "command": f"bash experiments/size_grid_v2/run.sh {overrides}".strip(),
            "runs": len(ours),
            "wall_hours": round(wall / 3600, 3),
            "summed_run_hours": round(sum(ours) / 3600, 3),
            "old_grid": {
                "folder": "experiments/size_grid_v1/runs",
                "runs": len(old),
                "summed_run_hours": round(sum(old) / 3600, 3),
                "two_at_a_time_hours": round(sum(old) / 3600 / 2, 3),
            },
            "old_two_at_a_time_over_ours": round(sum(old) / 2 / wall, 2),
            "machine": {"cores": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        },
        indent=2,
    )
)
