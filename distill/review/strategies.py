"""Where a person's label budget goes: the review queue's order by strategy.

Each strategy orders every record of a run and says, for each, why it is where it is (the reason the app shows
before a person labels it). None reads the world's gold.

- ``uniform``: a random order; the baseline every other strategy must beat.
- ``strata``: the queue's strata (``distill.review.queue``): a random share, split votes, liked but wrong, the
  teacher's frequent errors, the rest.
- ``disputed``: the AI judge against the outcome. A record's automatic label is its outcome (the answer came out
  right or wrong); first come the records whose judge votes contradict it most: right answers the judge doubts
  (``distill.measurement.teacher_run_stats.judge_doubt``), wrong answers it does not doubt. Reads the records only.
- ``unstable``: the answerer against itself. Each decomposition is answered again ``reasks`` times by independent
  draws of the answerer (``redrawn``, a fallible synthetic answerer's); first come the records whose re-asked
  outcomes most often differ from their label (ties: the more disputed first). Costs ``reasks`` answerer calls per
  record, counted.
"""

from __future__ import annotations

import random

from distill.core.contracts import Answerer, Problem
from distill.core.errors import UsageError
from distill.core.final_answer import is_correct
from distill.core.records import Record
from distill.measurement.teacher_run_stats import judge_doubt
from distill.review.queue import QueueItem, build_queue

STRATEGIES = ("uniform", "strata", "disputed", "unstable")


def review_queue(
    records: list[Record],
    strategy: str,
    *,
    random_share: float = 0.2,
    seed: int = 0,
    problems: dict[str, Problem] | None = None,
    answerer: Answerer | None = None,
    reasks: int = 4,
) -> tuple[list[QueueItem], int]:
    """Every record once, in ``strategy``'s order with its reason; and the answerer calls the order cost.
    ``problems`` (by id) and ``answerer``: what ``unstable`` re-asks with."""
    if strategy not in STRATEGIES:
        raise UsageError(f"review strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    if strategy == "strata":
        return build_queue(records, random_share, seed=seed), 0
    order = uniform_order(len(records), seed)  # also every other strategy's tie-break
    if strategy == "uniform":
        # stratum "random": a uniform sample, which review stats reads as the unbiased estimate of error rates
        return [
            QueueItem(i, "random", "drawn at random: its label estimates the run's error rates without bias")
            for i in order
        ], 0
    if strategy == "disputed":
        order.sort(key=lambda i: -contradiction(records[i]))  # stable: ties keep the random order
        return [QueueItem(i, "disputed", disputed_reason(records[i])) for i in order], 0
    if answerer is None or problems is None:
        raise UsageError("review strategy 'unstable' re-asks the answerer: it needs the run's problems and answerer")
    outcomes = reask_outcomes(records, problems, answerer, reasks)
    flips = [sum(o != bool(r.answer_correctness) for o in os) for r, os in zip(records, outcomes)]
    order.sort(key=lambda i: (-flips[i], -contradiction(records[i])))
    reason = "re-asked {} times, the answerer's outcome differed from the label {} times"
    return [QueueItem(i, "unstable", reason.format(reasks, flips[i])) for i in order], reasks * len(records)


def uniform_order(n: int, seed: int) -> list[int]:
    """A uniform random order of ``n`` records, drawn index by index without repeats: its first k are the
    sample ``random.Random(seed).sample(range(n), k)`` draws where n is large against k (the set-based branch,
    n above about 4 x 3k), which is how ``review simulate --order random`` drew the world-v1 study's records."""
    rng, seen, order = random.Random(seed), set(), []
    while len(order) < n:
        if (j := rng.randrange(n)) not in seen:
            seen.add(j)
            order.append(j)
    return order


def contradiction(record: Record) -> float:
    """How strongly the AI judge contradicts the record's outcome, in [0, 1]: its doubt on a right answer, one
    minus its doubt on a wrong one; 0.5 where the judge said nothing."""
    doubt = judge_doubt(record)
    if doubt is None:
        return 0.5
    return doubt if record.answer_correctness else 1.0 - doubt


def disputed_reason(record: Record) -> str:
    doubt = judge_doubt(record)
    if doubt is None:
        return "the AI judge gave no votes to weigh against the outcome"
    if record.answer_correctness:
        return f"the answer came out right, but the AI judge doubts the decomposition (doubt {doubt:.2f})"
    return f"the answer came out wrong, but the AI judge doubts the decomposition little (doubt {doubt:.2f})"


def reask_outcomes(
    records: list[Record], problems: dict[str, Problem], answerer: Answerer, reasks: int
) -> list[list[bool]]:
    """Per record, whether each of ``reasks`` independent draws of the answerer answers its decomposition right
    (draws 1, 2, ...: draw 0 is the one that labelled the record)."""
    if reasks < 1:
        raise UsageError(f"re-asking needs at least one draw, got {reasks}")
    if not hasattr(answerer, "redrawn"):
        raise UsageError(f"re-asking needs an answerer that can draw again (redrawn); {answerer.name} cannot")
    owners = [problems.get(r.problem_id) or Problem(r.problem_id, r.problem, r.true_answer) for r in records]
    draws = [
        answerer.redrawn(m).answer(owners, [r.subquestions for r in records])  # type: ignore[attr-defined]
        for m in range(1, reasks + 1)
    ]
    return [[is_correct(d[n].text, p.true_answer) for d in draws] for n, p in enumerate(owners)]
