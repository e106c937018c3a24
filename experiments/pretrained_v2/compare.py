"""The pretrained student against from-scratch ones on the same world-v2 test problems (the first 200 of the test
split, those the pretrained run decoded), with a paired bootstrap of each difference. Reads each run's
eval_records.jsonl, which stays on the machine that ran it.

    python experiments/pretrained_v2/compare.py [PRETRAINED_RUN] [SCRATCH_RUN ...]
"""

import json
import sys
from pathlib import Path

from distill.measurement.metrics import bootstrap_ci

DEFAULT = [
    "experiments/pretrained_v2/runs/smollm2_fbc",
    "experiments/recipes_v2/runs/small/0",
    "experiments/learnability_v2/runs/names_320",
    "experiments/learnability_v2/runs/muon",
]


def correct_by_problem(run: str) -> dict[str, float]:
    """The greedy decomposition's correctness per test problem (the first record of each problem)."""
    out: dict[str, float] = {}
    for line in (Path(run) / "eval_records.jsonl").open():
        record = json.loads(line)
        if record.get("sample_index", 0) == 0:
            out.setdefault(record["problem_id"], record["answer_correctness"])
    return out


def main(runs: list[str]) -> None:
    pretrained, *others = runs
    mine = correct_by_problem(pretrained)
    ids = list(mine)
    print(
        f"{len(ids)} test problems decoded by {pretrained}: accuracy {sum(mine.values()) / len(ids):.3f} "
        f"{[round(x, 3) for x in bootstrap_ci(list(mine.values()))]}"
    )
    print("| run | its accuracy on them [95% CI] | pretrained minus it [paired 95% CI] |\n|---|---|---|")
    for run in others:
        theirs = correct_by_problem(run)
        values = [theirs[i] for i in ids]
        diffs = [mine[i] - theirs[i] for i in ids]
        print(
            f"| {run} | {sum(values) / len(ids):.3f} {[round(x, 3) for x in bootstrap_ci(values)]} | "
            f"{sum(diffs) / len(ids):+.3f} {[round(x, 3) for x in bootstrap_ci(diffs)]} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
