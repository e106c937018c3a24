"""What the garbled sub-questions of a run get wrong: python experiments/v2_learnability/garbled.py RUN [RUN ...]

Each student sub-question on test (the run's eval_records.jsonl, kept on the machine that ran it) is one of:
matches a quantity of the problem; names a person the problem does not have; names a person and an item the
problem both have, but not together (the person holds another item); names an item the problem does not have;
other (person and item go together, the wording matches no question template)."""

import json
import sys
from collections import Counter
from pathlib import Path

from hydra.utils import instantiate

RUNS = Path(__file__).parent / "runs"

for name in sys.argv[1:]:
    results = json.loads((RUNS / name / "results.json").read_text())
    problems = {p.problem_id: p for p in instantiate(results["config"]["dataset"], _convert_="all").load("test")}
    counts: Counter = Counter()
    for line in (RUNS / name / "eval_records.jsonl").open():
        record = json.loads(line)
        world = problems[record["problem_id"]].world
        people, items = {q.person for q in world.quantities}, {q.item for q in world.quantities}
        for question in record["subquestions"]:
            words = set(question.replace("?", " ").split())
            if world.match(question) is not None:
                counts["matches a quantity"] += 1
            elif not people & words:
                counts["person not in the problem"] += 1
            elif not items & words:
                counts["item not in the problem"] += 1
            elif any(q.person in words and q.item in words for q in world.quantities):
                counts["other wording"] += 1
            else:
                counts["person and item in the problem, not together"] += 1
    total = sum(counts.values())
    print(f"{name}: {total} sub-questions; " + ", ".join(f"{k} {v / total:.3f}" for k, v in counts.most_common()))
