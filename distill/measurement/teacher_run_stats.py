"""What a teacher run's records say: its headline statistics, and how well the judge's doubt predicts a wrong
answer (the paper's feedback check)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from distill.core.records import Record, group_by_problem
from distill.core.teacher_runs import usage_totals
from distill.measurement.metrics import roc_auc


def judge_doubt(record: Record) -> float | None:
    """How strongly the judge doubts a decomposition: 1 - the usefulness of its least useful sub-question,
    or the share of votes that a needed step is missing (judges that check it), whichever is larger."""
    parts = [1 - min(record.usefulness)] if record.usefulness else []
    if "missing_step" in record.meta:
        parts.append(record.meta["missing_step"])
    return max(parts) if parts else None


def feedback_analysis(records: Iterable[Record]) -> dict[str, Any] | None:
    """How well the judge's negative votes predict a wrong final answer (the paper's feedback check).

    Prediction: the judge's doubt is above one half (some sub-question got a majority of "No" votes, or
    a majority says a needed step is missing). ROC AUC ranks records by their doubt.
    """
    scored = [(r, d) for r in records if (d := judge_doubt(r)) is not None and r.answer_correctness is not None]
    if not scored:
        return None
    wrong = [not r.answer_correctness for r, _ in scored]
    flagged = [d > 0.5 for _, d in scored]
    hits = sum(f and w for f, w in zip(flagged, wrong))
    return {
        "n_records": len(scored),
        "wrong_rate": sum(wrong) / len(scored),
        "flagged_rate": sum(flagged) / len(scored),
        "precision": hits / sum(flagged) if any(flagged) else None,
        "recall": hits / sum(wrong) if any(wrong) else None,
        "roc_auc": roc_auc([d for _, d in scored], wrong),
    }


def summarize(records: Iterable[Record]) -> dict[str, Any]:
    """Headline statistics of a teacher run."""
    records = list(records)
    by_problem = group_by_problem(records)
    scores = [u for r in records for u in (r.usefulness or [])]
    errors = Counter(e for r in records for e in r.meta.get("errors", []))
    n = max(len(records), 1)
    return {
        "n_problems": len(by_problem),
        "n_records": len(records),
        # share of decompositions whose final answer is right
        "teacher_accuracy": sum(bool(r.answer_correctness) for r in records) / n,
        # share of problems with at least one right decomposition (what filtering can keep)
        "problems_with_correct_sample": sum(any(r.answer_correctness for r in group) for group in by_problem.values())
        / max(len(by_problem), 1),
        "mean_subquestions": sum(len(r.subquestions) for r in records) / n,
        "usefulness_rate": sum(scores) / len(scores) if scores else None,
        "teacher_errors_per_record": {k: v / n for k, v in sorted(errors.items())},
        "unparsed_decompositions": sum("unparsed_decomposition" in r.meta for r in records),
        # records with a reply cut at max_tokens, per role (training leaves out cut decompositions)
        "truncated": dict(Counter(role for r in records for role in r.meta.get("truncated", []))),
        "answers_without_final_answer": sum(bool(r.meta.get("no_final_answer")) for r in records),
        "usage": usage_totals(records),
        "feedback": feedback_analysis(records),
    }
