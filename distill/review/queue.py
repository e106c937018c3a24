"""The review queue: the records of a run in the order they most need a person.

Strata (each record is in one):
- ``random``: a uniform sample of the run, drawn first and regardless of the other strata, so that its
  labels estimate error rates without bias;
- ``split_votes``: the AI judge's votes disagree on some sub-question (or on a missing step), most
  evenly split first;
- ``liked_but_wrong``: the judge found nothing to doubt, but the answer was wrong;
- ``frequent_errors``: the record shows one of the teacher's most frequent error patterns;
- ``rest``: everything else.
The queue takes one record of each of the first four strata in turn, then the rest.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from distill.core.records import Record
from distill.measurement.teacher_run_stats import judge_doubt

STRATA = ("random", "split_votes", "liked_but_wrong", "frequent_errors", "rest")
# meta flags that mark a record's reply as broken (LLM teacher runs)
_FLAGS = ("unparsed_decomposition", "no_final_answer", "truncated", "call_error")


@dataclass
class QueueItem:
    index: int  # into the run's records
    stratum: str
    reason: str = ""  # why the record is in the queue where it is: what the reviewer reads before labelling


def error_patterns(record: Record) -> list[str]:
    """The teacher's errors a record shows: its habits' errors (synthetic teacher) and broken-reply flags."""
    return [*record.meta.get("errors", []), *(flag for flag in _FLAGS if record.meta.get(flag))]


def vote_split(record: Record) -> float:
    """How evenly the judge's votes split on the record's most disputed question: 1 at 50/50, 0 if unanimous."""
    shares = [*(record.usefulness or []), *([record.meta["missing_step"]] if "missing_step" in record.meta else [])]
    return max((1 - abs(2 * s - 1) for s in shares), default=0.0)


def build_queue(
    records: list[Record], random_share: float = 0.2, top_patterns: int = 3, seed: int = 0
) -> list[QueueItem]:
    """Every record once, in review order (see the module's docstring)."""
    if not 0.0 <= random_share <= 1.0:
        raise ValueError(f"random_share is a share of the records in [0, 1], got {random_share}")
    rng = random.Random(seed)
    order = list(range(len(records)))
    sampled = set(rng.sample(order, round(random_share * len(records))))
    strata: dict[str, list[int]] = {s: [] for s in STRATA}
    strata["random"] = sorted(sampled, key=lambda i: rng.random())
    counts = Counter(p for r in records for p in error_patterns(r))
    frequent = {p for p, _ in counts.most_common(top_patterns)}
    for i in order:
        if i in sampled:
            continue
        r = records[i]
        doubt = judge_doubt(r)
        if vote_split(r) > 0:
            strata["split_votes"].append(i)
        elif doubt is not None and doubt <= 0.5 and r.answer_correctness == 0.0:
            strata["liked_but_wrong"].append(i)
        elif frequent & set(error_patterns(r)):
            strata["frequent_errors"].append(i)
        else:
            strata["rest"].append(i)
    strata["split_votes"].sort(key=lambda i: -vote_split(records[i]))  # stable: ties keep the run's order
    rng.shuffle(strata["rest"])
    queue: list[QueueItem] = []
    leading = STRATA[:-1]
    item = lambda i, s: QueueItem(i, s, stratum_reason(records[i], s, frequent))  # noqa: E731
    for turn in range(max(len(strata[s]) for s in leading)):
        queue += [item(strata[s][turn], s) for s in leading if turn < len(strata[s])]
    return queue + [item(i, "rest") for i in strata["rest"]]


def stratum_reason(record: Record, stratum: str, frequent: set[str]) -> str:
    """Why a record is in its stratum, in a sentence a reviewer reads."""
    if stratum == "random":
        return "drawn at random: its label estimates the run's error rates without bias"
    if stratum == "split_votes":
        return f"the AI judge's votes split (evenness {vote_split(record):.2f}; 1 is a 50/50 split)"
    if stratum == "liked_but_wrong":
        return "the AI judge found nothing to doubt, but the answer came out wrong"
    if stratum == "frequent_errors":
        shown = ", ".join(sorted(frequent & set(error_patterns(record))))
        return f"shows one of the teacher's most frequent errors: {shown}"
    return "nothing flagged it"
