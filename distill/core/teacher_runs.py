"""Teacher runs: decompose, answer and judge a list of problems into records."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from distill.core.contracts import Answerer, Decomposition, Judge, Problem, Teacher
from distill.core.errors import FatalCallError, UsageError
from distill.core.final_answer import is_correct
from distill.core.records import Record, add_usage, append_records, group_by_problem, records_from_line


class TeacherRunStopped(UsageError):
    """A teacher run inside a training run stopped early (budget, circuit breaker, a call no retry can fix)."""


@dataclass
class TeacherRun:
    records: list[Record]
    # problem id -> why it stayed undone (an API call failed after its retries); re-running retries them
    failed: dict[str, str] = field(default_factory=dict)
    # why the run stopped before the end (the budget), or None
    stopped: str | None = None


def annotate(
    problems: list[Problem], teacher: Teacher, answerer: Answerer, judge: Judge | None, n_samples: int,
    records_path: Path, batch_size: int = 64, max_usd: float | None = None, max_tokens: int | None = None,
    max_consecutive_failures: int | None = 20,
) -> TeacherRun:  # fmt: skip
    """Records for every (problem, sample), appended durably to ``records_path``, a problem at a time.

    Problems whose samples are all in the file are skipped, so re-running after a crash or Ctrl-C redoes
    only what was not finished (a problem cut off mid-write is removed and done again). A problem is
    written only when every call for it succeeded. The run stops early, with ``stopped`` saying why:
    ``max_usd`` / ``max_tokens`` cap the spending of the whole records file (earlier runs included; a cap
    overshoots by at most one batch); ``max_consecutive_failures`` problems failing in a row, or a whole
    batch failing to connect, end it (a circuit breaker); a call no retry can fix (wrong key or model) ends
    it at once; Ctrl-C ends it after the problems already written.
    """
    if bad := [
        f"{k} must be at least 1, got {v}" for k, v in (("n_samples", n_samples), ("batch_size", batch_size)) if v < 1
    ]:
        raise ValueError(bad[0])
    done = resume_records(records_path, n_samples)
    done_ids = {r.problem_id for r in done}
    todo = [p for p in problems if p.problem_id not in done_ids]
    spent = usage_totals(done)["all"]
    run = TeacherRun(done)
    streak = 0  # problems failed in a row
    bar = tqdm(total=len(problems), initial=len(problems) - len(todo), desc=f"teacher {teacher.name}", unit="problem")
    with records_path.open("a") as fh, bar:
        for start in range(0, len(todo), batch_size):
            run.stopped = _over_budget(spent, max_usd, max_tokens)
            if run.stopped:
                break
            batch = todo[start : start + batch_size]
            try:
                records, failed = annotate_batch(batch, teacher, answerer, judge, n_samples)
            except FatalCallError as err:
                run.stopped = str(err)
                break
            except KeyboardInterrupt:
                run.stopped = "interrupted (Ctrl-C)"
                break
            for problem_records in group_by_problem(records).values():
                append_records(fh, problem_records)
            add_usage(spent, usage_totals(records)["all"])
            run.records.extend(records)
            run.failed.update(failed)
            bar.update(len(batch))
            bar.set_postfix(cost=f"${spent.get('cost_usd', 0.0):.4f}", failed=len(run.failed))
            for problem in batch:
                streak = streak + 1 if problem.problem_id in failed else 0
            run.stopped = _breaker(batch, failed, streak, max_consecutive_failures)
            if run.stopped:
                break
    wanted = {p.problem_id for p in problems}
    run.records = [r for r in run.records if r.problem_id in wanted]
    return run


def _breaker(batch: list[Problem], failed: dict[str, str], streak: int, max_failures: int | None) -> str | None:
    """Why the run stops after ``batch`` (a whole batch that could not connect, or ``streak`` problems failed in a
    row), or None."""
    if failed and len(failed) == len(batch) and all(e.startswith("APIConnectionError") for e in failed.values()):
        return (
            f"endpoint unreachable: every call of the last {len(batch)} problems failed to connect "
            f"({next(iter(failed.values()))})"
        )
    if max_failures is not None and streak >= max_failures:  # a streak reaching the end of the batch: its last failed
        return f"circuit breaker: {streak} problems failed in a row (last: {failed[batch[-1].problem_id]})"
    return None


def resume_records(records_path: Path, n_samples: int) -> list[Record]:
    """The finished problems' records of an earlier run into ``records_path``.

    What a crash can leave is repaired first: a torn last line and the records of a problem that has fewer
    than ``n_samples`` samples on disk are removed (the file is rewritten atomically), so that problem is
    done again.
    """
    if not records_path.exists():
        return []
    lines = records_path.read_text().splitlines(keepends=True)
    torn = bool(lines) and not lines[-1].endswith("\n")
    if torn:
        lines = lines[:-1]  # a write cut off by the crash; earlier torn lines are real corruption
    records = [
        (line, record)
        for number, line in enumerate(lines, 1)
        if line.strip()
        for record in records_from_line(line, records_path, number)
    ]
    samples: dict[str, set[int]] = {}
    for _, r in records:
        samples.setdefault(r.problem_id, set()).add(r.sample_index)
    complete = {pid for pid, s in samples.items() if len(s) >= n_samples}
    kept = [(line, r) for line, r in records if r.problem_id in complete]
    if torn or len(kept) < len(records):
        partial = sorted(set(samples) - complete)
        print(
            f"{records_path}: removed {'a torn last line and ' if torn else ''}{len(records) - len(kept)} records "
            f"of {len(partial)} unfinished problems; they are done again"
        )
        tmp = records_path.with_suffix(records_path.suffix + ".tmp")
        tmp.write_text("".join(line for line, _ in kept))
        os.replace(tmp, records_path)
    return [r for _, r in kept]


def _over_budget(spent: dict[str, Any], max_usd: float | None, max_tokens: int | None) -> str | None:
    if max_usd is not None and spent.get("cost_usd", 0.0) >= max_usd:
        return f"budget: ${spent.get('cost_usd', 0.0):.4f} spent >= max_usd {max_usd}"
    tokens = spent.get("input_tokens", 0) + spent.get("output_tokens", 0)
    if max_tokens is not None and tokens >= max_tokens:
        return f"budget: {tokens} tokens >= max_tokens {max_tokens}"
    return None


def annotate_batch(
    problems: list[Problem], teacher: Teacher, answerer: Answerer, judge: Judge | None, n_samples: int
) -> tuple[list[Record], dict[str, str]]:
    """Records of the problems whose every call succeeded, and the failed problems' errors."""
    samples = teacher.decompose(problems, n_samples)
    failed = {p.problem_id: d.error for p, ds in zip(problems, samples) for d in ds if d.error}
    flat = [(p, i, d) for p, ds in zip(problems, samples) for i, d in enumerate(ds) if p.problem_id not in failed]
    records = judged_records(
        [p for p, _, _ in flat],
        [d.subquestions for _, _, d in flat],
        answerer,
        judge,
        teacher.name,
        sample_indices=[i for _, i, _ in flat],
        decompositions=[d for _, _, d in flat],
    )
    failed.update({r.problem_id: r.meta["call_error"] for r in records if "call_error" in r.meta})
    return [r for r in records if r.problem_id not in failed], failed


def judged_records(
    problems: list[Problem],
    subquestions: list[list[str]],
    answerer: Answerer,
    judge: Judge | None,
    source: str,
    sample_indices: list[int] | None = None,
    decompositions: list[Decomposition] | None = None,
) -> list[Record]:
    """Answer and judge each problem's sub-questions; one record each, with usage per role.

    A failed answerer or judge call leaves ``meta["call_error"]`` and ``answer_correctness`` None.
    """
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
        parts = [
            decomposition.meta if decomposition else {},
            answer.meta,
            judgement.meta if judgement is not None else {},
        ]
        meta = {k: v for part in parts for k, v in part.items()}
        meta["answerer"] = answerer.name
        # the roles whose reply stopped at max_tokens
        truncated = [role for part in parts for role in part.get("truncated", [])]
        meta.pop("truncated", None)
        if truncated:
            meta["truncated"] = truncated
        error = answer.error or (judgement.error if judgement is not None else None)
        if error:
            meta["call_error"] = error
        records.append(
            Record(
                problem_id=problem.problem_id,
                problem=problem.text,
                subquestions=questions,
                true_answer=problem.true_answer,
                answer_correctness=None if error else float(is_correct(answer.text, problem.true_answer)),
                usefulness=judgement.usefulness if judgement is not None and not error else None,
                answerer_output=answer.text,
                teacher=source,
                sample_index=sample_indices[i] if sample_indices else 0,
                usage={k: v for k, v in usage.items() if v},
                meta=meta,
            )
        )
    return records


def usage_totals(records: Iterable[Record]) -> dict[str, dict[str, Any]]:
    """Token counts and cost per role and over all roles ("all")."""
    totals: dict[str, dict[str, Any]] = {"all": {}}
    for record in records:
        for role, role_usage in record.usage.items():
            add_usage(totals.setdefault(role, {}), role_usage)
            add_usage(totals["all"], role_usage)
    return totals
