"""What a run's student gets wrong on test: python experiments/learnability_v2/failures.py RUN_FOLDER [...]

Reads the run's results.json (its world) and eval_records.jsonl (kept on the machine that ran it).
1. Each sub-question: matches a quantity of the problem; names a person the problem does not have; names a
   person and an item the problem both have, but not together (the person holds another item); names an item
   the problem does not have; other wording.
2. Each problem, by the number of operations its answer needs: right; garbled (a sub-question that matches no
   quantity); missing (a quantity the answer needs is never asked); out of order (the needed ones asked in
   another order than they are computed); other (wrong all the same: a distraction, a slip, a guess)."""

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from hydra.utils import instantiate


def shares(counts: Counter) -> str:
    total = sum(counts.values())
    return f"{total}: " + ", ".join(f"{k} {v / total:.3f}" for k, v in counts.most_common())


for folder in map(Path, sys.argv[1:]):
    results = json.loads((folder / "results.json").read_text())
    problems = {p.problem_id: p for p in instantiate(results["config"]["dataset"], _convert_="all").load("test")}
    questions: Counter = Counter()
    by_steps: dict[int, Counter] = defaultdict(Counter)
    for line in (folder / "eval_records.jsonl").open():
        record = json.loads(line)
        world = problems[record["problem_id"]].world
        people, items = {q.person for q in world.quantities}, {q.item for q in world.quantities}
        for question in record["subquestions"]:
            words = set(question.replace("?", " ").split())
            if world.match(question) is not None:
                questions["matches a quantity"] += 1
            elif not people & words:
                questions["person not in the problem"] += 1
            elif not items & words:
                questions["item not in the problem"] += 1
            elif any(q.person in words and q.item in words for q in world.quantities):
                questions["other wording"] += 1
            else:
                questions["person and item in the problem, not together"] += 1
        asked = [world.match(q) for q in record["subquestions"]]
        needed = world.gold_order()
        kind = (
            "right"
            if record["answer_correctness"]
            else "garbled"
            if None in asked
            else "missing"
            if not set(needed) <= set(asked)
            else "out of order"
            if [a for a in dict.fromkeys(asked) if a in needed] != needed
            else "other"
        )
        by_steps[world.n_steps][kind] += 1
    print(f"{folder}\n  sub-questions {shares(questions)}")
    for steps in sorted(by_steps):
        print(f"  problems needing {steps} operations {shares(by_steps[steps])}")
