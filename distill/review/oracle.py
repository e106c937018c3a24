"""A simulated reviewer for the synthetic world: the exact oracle, with optional noise, labelling through
the same store as a person would.

Usefulness: the world's exact verdict per sub-question (it asks for a needed quantity not yet known).
Decision: reject a decomposition that asks anything not useful (a habit, a garbled name, a repeat);
a decomposition that only stops short is kept, since its wrong answer already tells the objectives.
Outcome: right when a faithful answerer of the run's strength (no distraction, misreading, slip or guess) gets the
answer from the sub-questions, else wrong: what the record's correctness would be without the answerer's luck.
``noise`` flips each label, decision and outcome with that probability.
"""

from __future__ import annotations

import random

from distill.core.contracts import Problem
from distill.core.final_answer import is_correct
from distill.core.records import Record
from distill.review.queue import QueueItem
from distill.review.store import LabelStore, record_keys
from distill.synthetic.answerer import SyntheticAnswerer
from distill.synthetic.judge import useful_flags
from distill.synthetic.world import world_of


def oracle_labels(problem: Problem, record: Record) -> tuple[list[int], str]:
    """The exact usefulness of each sub-question and the decision."""
    flags = useful_flags(world_of(problem), record.subquestions)
    return [int(f) for f in flags], "accept" if all(flags) else "reject"


def faithful_outcomes(problems: list[Problem], records: list[Record], k: int) -> list[bool]:
    """Whether a never-wrong answerer of strength ``k`` answers each record's sub-questions right."""
    faithful = SyntheticAnswerer(k, distraction=0.0, misread=0.0, slip=0.0, guess=0.0, seed=0)
    answers = faithful.answer(problems, [r.subquestions for r in records])
    return [is_correct(a.text, p.true_answer) for a, p in zip(answers, problems)]


def simulate_review(
    store: LabelStore,
    records: list[Record],
    items: list[QueueItem],
    problems: dict[str, Problem],
    reviewer: str = "oracle",
    noise: float = 0.0,
    seed: int = 0,
    k: int = 1,
) -> int:
    """Label ``items`` (in order) as the oracle, whose faithful answerer has strength ``k`` (the run's answerer's);
    the number of records labelled."""
    rng = random.Random(seed)
    keys = record_keys(records)
    chosen = [records[item.index] for item in items]
    outcomes = faithful_outcomes([problems[r.problem_id] for r in chosen], chosen, k)
    for item, right in zip(items, outcomes):
        record, key = records[item.index], keys[item.index]
        flags, decision = oracle_labels(problems[record.problem_id], record)
        for position, flag in enumerate(flags):
            store.add(key, reviewer, "useful", flag ^ (rng.random() < noise), position=position, stratum=item.stratum)
        if rng.random() < noise:
            decision = "accept" if decision == "reject" else "reject"
        store.add(key, reviewer, "decision", decision, stratum=item.stratum)
        outcome = "right" if right != (rng.random() < noise) else "wrong"
        store.add(key, reviewer, "outcome", outcome, stratum=item.stratum)
    return len(items)
