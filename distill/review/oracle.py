"""A simulated reviewer for the synthetic world: the exact oracle, with optional noise, labelling through
the same store as a person would.

Usefulness: the world's exact verdict per sub-question (it asks for a needed quantity not yet known).
Decision: reject a decomposition that asks anything not useful (a habit, a garbled name, a repeat);
a decomposition that only stops short is kept, since its wrong answer already tells the objectives.
``noise`` flips each label and decision with that probability.
"""

from __future__ import annotations

import random

from distill.core.contracts import Problem
from distill.core.records import Record
from distill.review.queue import QueueItem
from distill.review.store import LabelStore, record_keys
from distill.synthetic.judge import useful_flags
from distill.synthetic.world import world_of


def oracle_labels(problem: Problem, record: Record) -> tuple[list[int], str]:
    """The exact usefulness of each sub-question and the decision."""
    flags = useful_flags(world_of(problem), record.subquestions)
    return [int(f) for f in flags], "accept" if all(flags) else "reject"


def simulate_review(
    store: LabelStore,
    records: list[Record],
    items: list[QueueItem],
    problems: dict[str, Problem],
    reviewer: str = "oracle",
    noise: float = 0.0,
    seed: int = 0,
) -> int:
    """Label ``items`` (in order) as the oracle; the number of records labelled."""
    rng = random.Random(seed)
    keys = record_keys(records)
    for item in items:
        record, key = records[item.index], keys[item.index]
        flags, decision = oracle_labels(problems[record.problem_id], record)
        for position, flag in enumerate(flags):
            store.add(key, reviewer, "useful", flag ^ (rng.random() < noise), position=position, stratum=item.stratum)
        if rng.random() < noise:
            decision = "accept" if decision == "reject" else "reject"
        store.add(key, reviewer, "decision", decision, stratum=item.stratum)
    return len(items)
