"""The record type and its file formats.

One record is one decomposition of one problem: the problem, the sub-questions, and the feedback on
them. Our own files are JSONL with the field names of :class:`Record`. The paper's released files
(``DT6A/GSM8K-AI-SubQ``) load unchanged through :func:`read_records`, which recognises:

- ``qg_*_dataset.jsonl``: one line holding a JSON list of
  ``{"question", "answers" (the sub-questions), "rewards": {"answer_correctness", "usefulness"}, "true_answer"}``;
- ``*_raw.jsonl``: one problem per line, ``questions`` and ``answers`` are lists with one
  "Q1: ...\\nQ2: ..." / "A1: ...\\n\\nFinal answer: N" string per sample, ``answer`` is "#### N",
  and an optional ``feedback`` (per sample, per judge vote, one Yes/No line per sub-question);
- evaluation files (``eval_*.jsonl``, ``test_chat.jsonl``): ``problem``, ``questions`` as one string,
  ``answers`` as the answerer's text, ``answer`` as a number; one object per line or one JSON list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.core.atomic import atomic_write
from distill.core.errors import UsageError
from distill.core.final_answer import is_correct, parse_true_answer


@dataclass
class Record:
    problem_id: str
    problem: str
    subquestions: list[str]
    true_answer: float | None = None
    # 1.0 if the answerer, working through the sub-questions, reached the true answer.
    answer_correctness: float | None = None
    # per sub-question, the share of judge votes that found it useful, in [0, 1]
    usefulness: list[float] | None = None
    # the answerer's transcript ("A1: ...\n\nFinal answer: N")
    answerer_output: str | None = None
    teacher: str | None = None
    sample_index: int = 0
    # token usage and cost of producing this record, by role
    usage: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """A record from our JSON format, checked field by field (errors name the field)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown record fields {sorted(unknown)}; valid fields: {sorted(names)}")
        for name in ("problem_id", "problem", "subquestions"):
            if data.get(name) is None:
                raise ValueError(f"field {name!r} is missing or null")
        if not isinstance(data["problem_id"], str) or not isinstance(data["problem"], str):
            raise ValueError("fields 'problem_id' and 'problem' must be strings")
        if not isinstance(data["subquestions"], list) or not all(isinstance(q, str) for q in data["subquestions"]):
            raise ValueError("field 'subquestions' must be a list of strings")
        for name in ("true_answer", "answer_correctness"):
            if data.get(name) is not None and not isinstance(data[name], (int, float)):
                raise ValueError(f"field {name!r} must be a number or null, got {data[name]!r}")
        if data.get("usefulness") is not None and (
            not isinstance(data["usefulness"], list) or not all(isinstance(u, (int, float)) for u in data["usefulness"])
        ):
            raise ValueError("field 'usefulness' must be a list of numbers or null")
        meta = data.get("meta") or {}
        if not isinstance(meta, dict):
            raise ValueError(f"field 'meta' must be an object, got {meta!r}")
        missing = meta.get(
            "missing_step"
        )  # the judge's share of votes that a step is missing (the review app shows it)
        if missing is not None and (isinstance(missing, bool) or not isinstance(missing, (int, float))):
            raise ValueError(f"field 'meta.missing_step' must be a number or null, got {missing!r}")
        if not isinstance(meta.get("truncated", []), list):
            raise ValueError(f"field 'meta.truncated' must be a list of roles, got {meta['truncated']!r}")
        return cls(**data)


def problem_id_for(text: str, prefix: str = "p") -> str:
    """A stable id for a problem text (the paper's files carry none)."""
    return f"{prefix}-{hashlib.sha1(text.strip().encode()).hexdigest()[:12]}"


_NUMBERED = re.compile(r"^\s*(?:[QA]\d+\s*[:.)]\s*)+", re.IGNORECASE)


def split_numbered(text: str) -> list[str]:
    """Split "Q1: ...\\nQ2: ..." into its items, without the numbering (also "Q1: Q1: ..." as in test_chat)."""
    items = []
    for line in text.splitlines():
        line = _NUMBERED.sub("", line).strip()
        if line:
            items.append(line)
    return items


def join_numbered(items: list[str], prefix: str = "Q") -> str:
    return "\n".join(f"{prefix}{i}: {item}" for i, item in enumerate(items, 1))


def _votes_to_usefulness(votes: list[str], n_questions: int) -> list[float]:
    """The paper's usefulness score: the share of votes whose i-th line says yes."""
    if not votes:
        return []
    counts = [0] * n_questions
    for vote in votes:
        for i, line in enumerate(vote.lower().split("\n")[:n_questions]):
            counts[i] += "yes" in line
    return [c / len(votes) for c in counts]


def _from_paper_dataset(row: dict[str, Any]) -> Record:
    rewards = row.get("rewards") or {}
    return Record(
        problem_id=problem_id_for(row["question"]),
        problem=row["question"],
        subquestions=[q.strip() for q in row["answers"]],
        true_answer=parse_true_answer(row.get("true_answer")),
        answer_correctness=rewards.get("answer_correctness"),
        usefulness=list(rewards.get("usefulness") or []) or None,
        meta={"source_format": "paper_dataset"},
    )


def _from_paper_raw(row: dict[str, Any]) -> list[Record]:
    true_answer = parse_true_answer(row.get("answer"))
    feedback = row.get("feedback") or []
    records = []
    for i, questions in enumerate(row["questions"]):
        subquestions = split_numbered(questions)
        output = row["answers"][i] if i < len(row.get("answers", [])) else None
        records.append(
            Record(
                problem_id=problem_id_for(row["problem"]),
                problem=row["problem"],
                subquestions=subquestions,
                true_answer=true_answer,
                answer_correctness=None if output is None else float(is_correct(output, true_answer)),
                usefulness=_votes_to_usefulness(feedback[i], len(subquestions)) if i < len(feedback) else None,
                answerer_output=output,
                sample_index=i,
                meta={"source_format": "paper_raw"},
            )
        )
    return records


def _from_paper_eval(row: dict[str, Any]) -> Record:
    true_answer = parse_true_answer(row.get("answer"))
    output = row.get("answers")
    return Record(
        problem_id=problem_id_for(row["problem"]),
        problem=row["problem"],
        subquestions=split_numbered(row["questions"]),
        true_answer=true_answer,
        answer_correctness=None if output is None else float(is_correct(output, true_answer)),
        answerer_output=output,
        meta={"source_format": "paper_eval"},
    )


def records_from_row(row: dict[str, Any]) -> list[Record]:
    """Records from one JSON object of any supported format."""
    if "subquestions" in row:
        return [Record.from_dict(row)]
    if "question" in row and isinstance(row.get("answers"), list):
        return [_from_paper_dataset(row)]
    if "problem" in row and isinstance(row.get("questions"), list):
        return _from_paper_raw(row)
    if "problem" in row and isinstance(row.get("questions"), str):
        return [_from_paper_eval(row)]
    raise ValueError(
        f"unrecognised record keys {sorted(row)}: expected our records (subquestions), the paper's "
        "dataset (question, answers, rewards), raw (problem, questions as a list) or evaluation "
        "(problem, questions as a string) format"
    )


def records_from_line(line: str, path: str | os.PathLike, number: int) -> list[Record]:
    """The records of one JSON line; an error names the file, the line (``path:number``) and what is wrong."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}:{number}: not valid JSON ({err.msg})") from None
    return records_from_item(row, path, number)


def records_from_item(row: Any, path: str | os.PathLike, number: int) -> list[Record]:
    """The records of one parsed JSON value; an error names ``path:number`` and what is wrong."""
    try:
        if not isinstance(row, dict):
            raise ValueError(f"expected a JSON object, got {type(row).__name__}")
        return records_from_row(row)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        detail = f"missing field {err}" if isinstance(err, KeyError) else str(err)
        raise UsageError(f"{path}:{number}: {detail}") from None


def read_records(path: str | os.PathLike) -> list[Record]:
    """Every record in a file of our format or any of the paper's formats."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such records file: {path}")
    with path.open() as fh:
        first = fh.readline()
        if first.lstrip().startswith("["):  # one line holding a JSON list
            try:
                rows = json.loads(first + fh.read())
            except json.JSONDecodeError as err:
                raise UsageError(f"{path}: not a valid JSON list (line {err.lineno}: {err.msg})") from None
            records = [
                r
                for number, row in enumerate(rows, 1)
                for r in records_from_item(row, f"{path} (JSON list), item", number)
            ]
        else:
            records = [
                record
                for number, line in enumerate([first, *fh], 1)
                if line.strip()
                for record in records_from_line(line, path, number)
            ]
    if not records:
        raise UsageError(f"{path}: the records file holds no records")
    return records


def write_records(path: str | os.PathLike, records: Iterable[Record]) -> None:
    """Write our JSONL format (one record per line)."""
    with Path(path).open("w") as fh:
        for record in records:
            fh.write(json.dumps(record.to_dict()) + "\n")


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """A results or summary file, indented, written whole or not at all; values JSON cannot hold are written as text."""
    text = json.dumps(data, indent=2, default=str) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode()))


def append_records(fh, records: list[Record]) -> None:
    """Append records (one problem's samples) in one write and push them to disk, so that a crash loses
    nothing finished; a write cut off by a crash is repaired on resume (``teacher_runs.resume_records``)."""
    fh.write("".join(json.dumps(record.to_dict()) + "\n" for record in records))
    fh.flush()
    os.fsync(fh.fileno())


def group_by_problem(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Each problem's records (its samples), problems in the order first seen."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.problem_id, []).append(r)
    return groups


def add_usage(total: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """Sum the numeric fields of ``usage`` into ``total`` (in place) and return it."""
    for key, value in usage.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
    return total
