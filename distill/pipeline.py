"""Teacher runs: decompose, answer and judge a list of problems into records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from tqdm import tqdm

from distill.problems import Problem
from distill.records import Record, append_record, read_records
from distill.roles import Answerer, Decomposition, Judge, Teacher
from distill.scoring import is_correct


def annotate(
    problems: list[Problem],
    teacher: Teacher,
    answerer: Answerer,
    judge: Judge | None,
    n_samples: int,
    records_path: Path,
    batch_size: int = 64,
) -> list[Record]:
    """Records for every (problem, sample), appended to ``records_path`` batch by batch.

    Problems whose records are already in the file are skipped, so re-running after a crash or
    Ctrl-C redoes only what was not finished.
    """
    done = read_records(records_path) if records_path.exists() else []
    done_ids = {r.problem_id for r in done}
    todo = [p for p in problems if p.problem_id not in done_ids]
    with records_path.open("a") as fh, tqdm(total=len(problems), initial=len(problems) - len(todo),
                                             desc=f"teacher {teacher.name}", unit="problem") as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            for record in annotate_batch(batch, teacher, answerer, judge, n_samples):
                append_record(fh, record)
                done.append(record)
            bar.update(len(batch))
    wanted = {p.problem_id for p in problems}
    return [r for r in done if r.problem_id in wanted]


def annotate_batch(
    problems: list[Problem], teacher: Teacher, answerer: Answerer, judge: Judge | None, n_samples: int
) -> list[Record]:
    samples = teacher.decompose(problems, n_samples)
    flat = [(p, i, d) for p, ds in zip(problems, samples) for i, d in enumerate(ds)]
    return judged_records([p for p, _, _ in flat], [d.subquestions for _, _, d in flat], answerer, judge,
                          teacher.name, sample_indices=[i for _, i, _ in flat],
                          decompositions=[d for _, _, d in flat])


def judged_records(
    problems: list[Problem],
    subquestions: list[list[str]],
    answerer: Answerer,
    judge: Judge | None,
    source: str,
    sample_indices: list[int] | None = None,
    decompositions: list[Decomposition] | None = None,
) -> list[Record]:
    """Answer and judge each problem's sub-questions; one record each, with usage per role."""
    answers = answerer.answer(problems, subquestions)
    judgements = judge.judge(problems, subquestions) if judge is not None else [None] * len(problems)
    records = []
    for i, (problem, questions, answer, judgement) in enumerate(zip(problems, subquestions, answers, judgements)):
        decomposition = decompositions[i] if decompositions else None
        usage = {
            "teacher": decomposition.usage if decomposition else {},
            "answerer": answer.usage,
            "judge": judgement.usage if judgement is not None else {},
        }
        records.append(
            Record(
                problem_id=problem.problem_id,
                problem=problem.text,
                subquestions=questions,
                true_answer=problem.true_answer,
                answer_correctness=float(is_correct(answer.text, problem.true_answer)),
                usefulness=judgement.usefulness if judgement is not None else None,
                answerer_output=answer.text,
                teacher=source,
                sample_index=sample_indices[i] if sample_indices else 0,
                usage={k: v for k, v in usage.items() if v},
                meta={**(decomposition.meta if decomposition else {}), "answerer": answerer.name},
            )
        )
    return records


def summarize(records: Iterable[Record]) -> dict[str, Any]:
    """Headline statistics of a teacher run."""
    records = list(records)
    by_problem: dict[str, list[Record]] = {}
    for r in records:
        by_problem.setdefault(r.problem_id, []).append(r)
    scores = [u for r in records for u in (r.usefulness or [])]
    errors = Counter(e for r in records for e in r.meta.get("errors", []))
    n = max(len(records), 1)
    return {
        "n_problems": len(by_problem),
        "n_records": len(records),
        # share of decompositions whose final answer is right
        "teacher_accuracy": sum(bool(r.answer_correctness) for r in records) / n,
        # share of problems with at least one right decomposition (what filtering can keep)
        "problems_with_correct_sample": sum(
            any(r.answer_correctness for r in group) for group in by_problem.values()
        ) / max(len(by_problem), 1),
        "mean_subquestions": sum(len(r.subquestions) for r in records) / n,
        "usefulness_rate": sum(scores) / len(scores) if scores else None,
        "teacher_errors_per_record": {k: v / n for k, v in sorted(errors.items())},
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
