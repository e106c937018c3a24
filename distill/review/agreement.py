"""How far the AI judge agrees with people, and how much of the teacher's data is wrong or useless.

On every sub-question a person labelled: the judge says "useful" when most of its votes did; the person
when most reviewers did. From those pairs: Cohen's kappa, the confusion matrix, and the precision and
recall of the judge's "not useful". From the queue's uniform random stratum only (unbiased): the share
of records that are wrong (a wrong final answer) or useless (a person marked a sub-question not useful),
with a 95% Wilson interval. Between people: Cohen's kappa for each pair of reviewers and Krippendorff's alpha
over all of them (any number of reviewers per item), on usefulness labels and on decisions.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Hashable
from itertools import combinations
from typing import Any

from distill.core.records import Record
from distill.review.store import LabelStore, record_keys


def cohens_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Agreement of two raters beyond chance; None when chance agreement is total (one label only)."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def krippendorff_alpha(units: list[list[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal labels: each unit is the labels its raters gave (any number, missing ones
    left out). 1 is perfect agreement, 0 chance level; None when fewer than two paired labels or one value only."""
    pairable = [u for u in units if len(u) >= 2]
    coincidence: Counter = Counter()  # o_ck: ordered pairs of values within a unit, each unit weighted 1/(m-1)
    for unit in pairable:
        counts = Counter(unit)
        for c in counts:
            for k in counts:
                pairs = counts[c] * (counts[k] - (c == k))
                coincidence[c, k] += pairs / (len(unit) - 1)
    totals: Counter = Counter()
    for (c, _), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n < 2 or expected == 0:
        return None
    observed = sum(o for (c, k), o in coincidence.items() if c != k)
    return 1.0 - (n - 1) * observed / expected


def between_reviewers(labels: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Agreement between people: Cohen's kappa per pair, on the items both labelled, and Krippendorff's alpha
    over everyone; on usefulness (each labelled sub-question) and on decisions (each decided record)."""
    useful: dict[tuple[str, int], dict[str, int]] = {}
    decision: dict[str, dict[str, str]] = {}
    for (key, reviewer), label in labels.items():
        for position, value in label["useful"].items():
            useful.setdefault((key, position), {})[reviewer] = value
        if label["decision"]:
            decision.setdefault(key, {})[reviewer] = label["decision"]
    reviewers = sorted({reviewer for _, reviewer in labels})
    out: dict[str, Any] = {"pairs": {}}
    for x, y in combinations(reviewers, 2):
        row = {}
        for name, items, positive in (("useful", useful, 1), ("decision", decision, "reject")):
            both = [
                (votes[x] == positive, votes[y] == positive) for votes in items.values() if x in votes and y in votes
            ]
            row[name] = {"n": len(both), "kappa": cohens_kappa([a for a, _ in both], [b for _, b in both])}
        out["pairs"][f"{x} vs {y}"] = row
    out["alpha"] = {
        name: krippendorff_alpha([list(votes.values()) for votes in items.values()])
        for name, items in (("useful", useful), ("decision", decision))
    }
    return out


def wilson_interval(successes: int, n: int, z: float = 1.96) -> list[float] | None:
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def review_stats(records: list[Record], store: LabelStore) -> dict[str, Any]:
    by_key = dict(zip(record_keys(records), records))
    reviews = store.reviews()
    judge, human = [], []
    for key, review in reviews.items():
        record = by_key.get(key)
        if record is None or not record.usefulness:
            continue
        for position, share in review.useful.items():
            if position < len(record.usefulness):
                judge.append(record.usefulness[position] >= 0.5)
                human.append(share >= 0.5)
    pairs = list(zip(judge, human))
    confusion = {
        "judge useful, human useful": sum(j and h for j, h in pairs),
        "judge useful, human not": sum(j and not h for j, h in pairs),
        "judge not, human useful": sum(not j and h for j, h in pairs),
        "judge not, human not": sum(not j and not h for j, h in pairs),
    }
    flagged = confusion["judge not, human useful"] + confusion["judge not, human not"]
    useless = confusion["judge useful, human not"] + confusion["judge not, human not"]

    # the random stratum: records shown from it, whatever reviewer labelled them
    random_keys = {(a["record_key"]) for a in store.actions() if a["stratum"] == "random"}
    sampled = [(by_key[k], reviews[k]) for k in sorted(random_keys) if k in by_key and k in reviews]
    bad = [not r.answer_correctness or any(share < 0.5 for share in review.useful.values()) for r, review in sampled]
    rejected = [review.decision == "reject" for _, review in sampled]

    labels = store.labels()
    reviewers = sorted({reviewer for _, reviewer in labels})
    return {
        "reviewers": reviewers,
        "records_reviewed": len(reviews),
        "records_rejected": sum(r.decision == "reject" for r in reviews.values()),
        "records_edited": sum(r.edit is not None for r in reviews.values()),
        "subquestions_labelled": len(pairs),
        "kappa": cohens_kappa(judge, human),
        "confusion": confusion,
        "judge_not_useful_precision": confusion["judge not, human not"] / flagged if flagged else None,
        "judge_not_useful_recall": confusion["judge not, human not"] / useless if useless else None,
        "random_stratum": {
            "n": len(sampled),
            "wrong_or_useless_share": sum(bad) / len(sampled) if sampled else None,
            "wrong_or_useless_ci95": wilson_interval(sum(bad), len(sampled)),
            "rejected_share": sum(rejected) / len(sampled) if sampled else None,
            "rejected_ci95": wilson_interval(sum(rejected), len(sampled)),
        },
        "between_reviewers": between_reviewers(labels),
        "seconds_per_record": seconds_per_record(store.actions()),
    }


BREAK_SECONDS = 600.0  # a gap longer than this between two decisions is a pause, not time spent on a record


def seconds_per_record(actions: list[dict[str, Any]]) -> dict[str, float | None]:
    """Each reviewer's median seconds between consecutive decisions, pauses left out: the app's own timing of a
    record's review (None for fewer than two decisions)."""
    times: dict[str, list[float]] = {}
    for a in actions:
        if a["kind"] == "decision":
            times.setdefault(a["reviewer"], []).append(a["created"])
    out: dict[str, float | None] = {}
    for reviewer, when in sorted(times.items()):
        gaps = [b - a for a, b in zip(sorted(when), sorted(when)[1:]) if 0 < b - a <= BREAK_SECONDS]
        out[reviewer] = statistics.median(gaps) if gaps else None
    return out
