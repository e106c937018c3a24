"""People have the final say on what a student learns from: reviews applied to a run's records.

A rejected record is left out; an edited one is replaced by the edit, answered and judged as a new record
of teacher ``human``; a record whose outcome people labelled (right: a faithful answerer gets the answer from
these sub-questions; wrong: it does not) takes that label as its correctness, whatever the answerer got; with
``human_usefulness`` (``reward=human``) a sub-question's usefulness is the reviewers' label where there is one and
the AI judge's votes elsewhere; with ``human_only`` only reviewed records are kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from distill.core.contracts import Answerer, Judge, Problem
from distill.core.errors import UsageError
from distill.core.parts import Parts
from distill.core.records import Record
from distill.core.teacher_runs import judged_records
from distill.review.store import LabelStore, Review, record_keys, store_file


def store_path(review_path: str | None, records_path: str | None) -> Path | None:
    """The label store a run reads: the one named, else the records file's own (:func:`store_file`)."""
    if review_path:
        if not Path(review_path).exists():
            raise FileNotFoundError(f"data.review_path={review_path}: no such label store")
        return Path(review_path)
    if records_path and store_file(records_path).exists():
        return store_file(records_path)
    return None


def apply_reviews(
    records: list[Record],
    reviews: dict[str, Review],
    problems: dict[str, Problem],
    answerer: Answerer,
    judge: Judge | None,
    human_usefulness: bool = False,
    human_only: bool = False,
) -> tuple[list[Record], dict[str, int]]:
    """The records to train on after the reviews, and counts of what the reviews changed."""
    kept, edits = [], []
    counts = {"reviewed": 0, "rejected": 0, "edited": 0, "human_usefulness_labels": 0, "left_unreviewed": 0,
              "outcome_labels": 0, "outcomes_changed": 0}  # fmt: skip
    for r, key in zip(records, record_keys(records)):
        review = reviews.get(key)
        if review is None:
            if human_only:
                counts["left_unreviewed"] += 1
            else:
                kept.append(r)
            continue
        counts["reviewed"] += 1
        if review.decision == "reject":
            counts["rejected"] += 1
        elif review.edit is not None:
            edits.append((r, review.edit, key))
        else:
            if human_usefulness and r.usefulness is not None:
                labels = {i: u for i, u in review.useful.items() if i < len(r.usefulness)}
                counts["human_usefulness_labels"] += len(labels)
                r = replace(r, usefulness=[labels.get(i, u) for i, u in enumerate(r.usefulness)])
            if review.outcome is not None:
                counts["outcome_labels"] += 1
                correctness = 1.0 if review.outcome == "right" else 0.0
                counts["outcomes_changed"] += correctness != r.answer_correctness
                r = replace(
                    r, answer_correctness=correctness, meta={**r.meta, "answerer_correctness": r.answer_correctness}
                )
            kept.append(r)
    if edits:
        originals = [r for r, _, _ in edits]
        # records of data sets without problem objects (the paper's files) answer from the record's text
        edit_problems = [
            problems.get(r.problem_id) or Problem(r.problem_id, r.problem, r.true_answer) for r in originals
        ]
        for (_, _, key), new in zip(
            edits,
            judged_records(
                edit_problems,
                [e for _, e, _ in edits],
                answerer,
                judge,
                "human",
                sample_indices=[r.sample_index for r in originals],
            ),
        ):
            new.meta["edited_from"] = key
            kept.append(new)
        counts["edited"] = len(edits)
    return kept, counts


def human_review(
    records: list[Record], parts: Parts, review_path: str | None, records_path: str | None, reward: DictConfig
) -> tuple[list[Record], dict[str, Any] | None]:
    """A run's records after its label store's reviews (if it has one), and what they changed (with a
    digest of the reviews, part of a cached first stage's identity)."""
    path = store_path(review_path, records_path)
    human_usefulness, human_only = reward.get("human_usefulness", False), reward.get("human_only", False)
    if human_usefulness and path is None:
        raise UsageError(
            f"reward={reward.name} needs human labels: no {store_file(records_path or 'records').name} beside "
            f"data.records_path={records_path} and no data.review_path (label a run with python -m distill.review)"
        )
    if path is None:
        return records, None
    store = LabelStore(path)
    try:
        reviews = store.reviews()
    finally:
        store.close()
    if not reviews:
        return records, None
    problems = {p.problem_id: p for p in parts.dataset.load("train")}
    records, counts = apply_reviews(
        records, reviews, problems, parts.answerer, parts.judge, human_usefulness, human_only
    )
    print(f"human review ({path}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    plain = [
        human_usefulness,
        human_only,
        {
            k: [sorted(v.useful.items()), v.decision, v.edit, *([v.outcome] if v.outcome else [])]
            for k, v in sorted(reviews.items())
        },
    ]
    digest = hashlib.sha256(json.dumps(plain).encode()).hexdigest()[:16]
    return records, {"store": str(path), "digest": digest, **counts}
