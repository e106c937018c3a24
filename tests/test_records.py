import json
import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from distill.core.final_answer import extract_final_answer, is_correct, parse_true_answer
from distill.core.records import Record, join_numbered, read_records, split_numbered, write_records
from distill.score import main as score_main


# The paper's three file formats, written here to check that our readers take them as the paper writes them.
def write_paper_dataset(path: str | os.PathLike, records: Iterable[Record]) -> None:
    """The paper's ``qg_*_dataset.jsonl``: one line holding a JSON list."""
    rows = [
        {
            "question": r.problem,
            "answers": r.subquestions,
            "rewards": {"answer_correctness": r.answer_correctness, "usefulness": r.usefulness or []},
            "true_answer": r.true_answer,
        }
        for r in records
    ]
    Path(path).write_text(json.dumps(rows) + "\n")


def write_paper_raw(path: str | os.PathLike, records: Iterable[Record]) -> None:
    """The paper's ``*_raw.jsonl``: one line per problem, one list entry per sample."""
    by_problem: dict[str, list[Record]] = {}
    for record in records:
        by_problem.setdefault(record.problem_id, []).append(record)
    with Path(path).open("w") as fh:
        for group in by_problem.values():
            row = {
                "problem": group[0].problem,
                "questions": [join_numbered(r.subquestions) for r in group],
                "answers": [r.answerer_output or "" for r in group],
                "answer": f"#### {format_number(group[0].true_answer)}",
            }
            fh.write(json.dumps(row) + "\n")


def write_paper_eval(path: str | os.PathLike, records: Iterable[Record]) -> None:
    """The paper's evaluation format, scorable by ``python -m distill.score``."""
    with Path(path).open("w") as fh:
        for r in records:
            row = {
                "problem": r.problem,
                "questions": join_numbered(r.subquestions),
                "answers": r.answerer_output or "",
                "answer": r.true_answer,
            }
            fh.write(json.dumps(row) + "\n")


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def sample_records():
    return [
        Record(
            "p-1",
            "Tom has 3 apples. ...?",
            ["How many a?", "How many b?"],
            18.0,
            1.0,
            [1.0, 2 / 3],
            "A1: 3\nA2: 6\n\nFinal answer: 18",
            "t",
            0,
        ),
        Record(
            "p-1",
            "Tom has 3 apples. ...?",
            ["How many c?"],
            18.0,
            0.0,
            [0.0],
            "A1: unknown\n\nFinal answer: unknown",
            "t",
            1,
        ),
        Record("p-2", "Anna has 2 pens. ...?", ["Q?"], 2.5, 1.0, [1.0], "A1: x\n\nFinal answer: 2.5", "t", 0),
    ]


def test_our_format_round_trip(tmp_path):
    path = tmp_path / "r.jsonl"
    write_records(path, sample_records())
    assert read_records(path) == sample_records()


def test_paper_dataset_round_trip(tmp_path):
    path = tmp_path / "qg_x_dataset.jsonl"
    write_paper_dataset(path, sample_records())
    assert len(path.read_text().splitlines()) == 1  # one line holding a JSON list
    back = read_records(path)
    for a, b in zip(back, sample_records()):
        assert (a.problem, a.subquestions, a.true_answer, a.answer_correctness, a.usefulness) == (
            b.problem,
            b.subquestions,
            b.true_answer,
            b.answer_correctness,
            b.usefulness,
        )


def test_paper_raw_round_trip(tmp_path):
    path = tmp_path / "x_raw.jsonl"
    write_paper_raw(path, sample_records())
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["questions"][0] == "Q1: How many a?\nQ2: How many b?"
    back = read_records(path)
    assert [r.subquestions for r in back] == [r.subquestions for r in sample_records()]
    assert [r.answer_correctness for r in back] == [1.0, 0.0, 1.0]
    assert [r.sample_index for r in back] == [0, 1, 0]
    assert back[0].problem_id == back[1].problem_id != back[2].problem_id


def test_paper_eval_round_trip(tmp_path):
    path = tmp_path / "eval_x.jsonl"
    write_paper_eval(path, sample_records())
    back = read_records(path)
    assert [r.subquestions for r in back] == [r.subquestions for r in sample_records()]
    assert [r.answer_correctness for r in back] == [1.0, 0.0, 1.0]


def test_raw_feedback_votes_become_usefulness(tmp_path):
    row = {
        "problem": "P?",
        "questions": ["Q1: a\nQ2: b"],
        "answers": ["Final answer: 1"],
        "answer": "#### 1",
        "feedback": [["Yes\nNo", "Yes\nYes", "yes\nno"]],
    }
    path = tmp_path / "f_raw.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (record,) = read_records(path)
    assert record.usefulness == [1.0, 1 / 3]
    assert record.answer_correctness == 1.0


def test_unknown_format_is_an_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"foo": 1}) + "\n")
    with pytest.raises(ValueError, match="unrecognised record keys"):
        read_records(path)


def test_split_numbered_handles_doubled_prefix():
    assert split_numbered("Q1: Q1: How?\nQ2: Why?\n\n") == ["How?", "Why?"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("A1: 3\n\nFinal answer: 18", 18.0),
        ("FINAL ANSWER: $1,250.50 total", 1.0),  # the paper's pattern stops at the comma
        ("final answer: .5", 0.5),
        ("final answer: -3.5", -3.5),
        ("final answer: unknown", None),
        ("The answer is 18", None),
        ("Final answer: the total is 42 apples", 42.0),
    ],
)
def test_extract_final_answer(text, expected):
    assert extract_final_answer(text) == expected


def test_true_answer_and_correctness():
    assert parse_true_answer("She makes 9 * 2 = 18.\n#### 18") == 18.0
    assert parse_true_answer("#### 1,000") == 1000.0
    assert is_correct("Final answer: 18.0", 18.0)
    assert not is_correct("Final answer: 17", 18.0)


def test_shared_files_load_and_score(data_dir, capsys):
    base = data_dir / "gsm8k_ai_subq"
    dataset = read_records(base / "qg_test_dataset.jsonl")
    raw = read_records(base / "qg_test_data_raw.jsonl")
    chat = read_records(base / "test_chat.jsonl")
    assert len(dataset) == len(raw) == len(chat) == 1319
    assert dataset[0].subquestions[0] == "How many eggs does Janet eat for breakfast every morning?"
    assert raw[0].subquestions == dataset[0].subquestions
    assert chat[0].subquestions[0] == dataset[0].subquestions[0]  # "Q1: Q1: ..." is unwrapped
    assert raw[0].true_answer == 18.0
    evaluation = base / "eval_responses" / "chatgpt" / "eval_chat.jsonl"
    assert score_main([str(evaluation)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith("items=1319\tcorrect=900\taccuracy=0.682")


def test_score_cli_reports_bad_files(tmp_path, capsys):
    assert score_main([str(tmp_path / "missing.jsonl")]) == 1
    assert "no such records file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "row,message",
    [
        ({"problem_id": "p", "subquestions": ["q"]}, ":2: field 'problem' is missing"),
        ({"problem_id": "p", "problem": "P", "subquestions": None}, ":2: field 'subquestions' is missing or null"),
        ({"problem_id": "p", "problem": "P", "subquestions": ["q"], "colour": "red"}, ":2: unknown record fields"),
        ({"problem_id": "p", "problem": "P", "subquestions": "q1 q2"}, ":2: field 'subquestions' must be a list"),
        ({"problem_id": "p", "problem": "P", "subquestions": ["q"], "usefulness": ["high"]}, ":2: field 'usefulness'"),
        ({"question": "P", "answers": ["q"], "rewards": "none"}, ":2: "),
    ],
)
def test_a_bad_line_is_named_with_its_file_line_and_field(tmp_path, row, message):
    path = tmp_path / "records.jsonl"
    good = {"problem_id": "p0", "problem": "P", "subquestions": ["q"]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=message) as err:
        read_records(path)
    assert str(path) in str(err.value)


def test_scoring_an_empty_file_is_an_error(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    assert score_main([str(tmp_path / "empty.jsonl")]) == 1
    assert "no records" in capsys.readouterr().err
