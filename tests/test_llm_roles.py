"""Prompts, parsers, the judge's vote counting, replay, and the feedback analysis."""

import json
import random

import pytest

from distill.core.contracts import Problem
from distill.core.records import Record
from distill.datasets.gsm8k import GSM8KDataset
from distill.llm import prompts
from distill.llm.client import Completion
from distill.llm.replay import ReplayAnswerer
from distill.llm.roles import LLMJudge
from distill.measurement.metrics import roc_auc
from distill.measurement.teacher_run_stats import feedback_analysis


def test_subquestion_parser_keeps_numbered_lines_only_and_survives_junk():
    text = "Sure! Here they are:\nQ1: How many eggs?\n  **Q2.** How many left?\nq3) What is the total?\nThanks"
    assert prompts.parse_subquestions(text) == ["How many eggs?", "How many left?", "What is the total?"]
    assert prompts.parse_subquestions("I cannot do that.") == []
    assert prompts.parse_subquestions("") == []


def test_vote_parser_reads_yes_no_per_question_and_marks_the_rest_unreadable():
    assert prompts.parse_votes("Q1: Yes\nQ2: no, it repeats Q1\nQ3: maybe", 4) == [True, False, None, None]
    assert prompts.parse_votes("Q9: Yes", 2) == [None, None]


def test_judge_usefulness_is_the_share_of_readable_yes_votes():
    replies = [Completion("Q1: Yes\nQ2: No"), Completion("Q1: Yes\nQ2: Yes"), Completion("Q1: No\nQ2: ???")]
    judgement = LLMJudge._judgement(["a?", "b?"], replies)
    assert judgement.usefulness == pytest.approx([2 / 3, 1 / 2])
    assert judgement.meta["unreadable_votes"] == [1] and len(judgement.meta["judge_votes"]) == 3


def test_prompt_examples_are_not_gsm8k_test_problems(data_dir):
    test = {p.text.strip() for p in GSM8KDataset(data_dir / "gsm8k").load("test")}
    assert test and not any(e["problem"].strip() in test for e in prompts.EXAMPLES)


def test_examples_can_come_from_a_training_records_file(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [
        {
            "question": f"Problem {i}?",
            "answers": [f"Step {i}?"],
            "rewards": {"answer_correctness": 1.0},
            "true_answer": 1.0,
        }
        for i in range(5)
    ]
    path.write_text(json.dumps(rows) + "\n")
    examples = prompts.decomposition_examples(str(path), 2)
    assert examples == [("Problem 0?", ["Step 0?"]), ("Problem 1?", ["Step 1?"])]
    request = prompts.decompose_request("New problem?", 0, examples, 100)
    assert "Problem: Problem 0?\nQ1: Step 0?" in request.system and "New problem?" in request.user


def test_replay_answers_known_decompositions_and_reports_unknown_ones(data_dir):
    replay = ReplayAnswerer([str(data_dir / "gsm8k_ai_subq/eval_responses/chatgpt/eval_chat.jsonl")])
    problem_id, questions = next(iter(replay.answers))
    problem = Problem(problem_id, "text", 1.0)
    known, unknown = replay.answer([problem, problem], [list(questions), ["Something else?"]])
    assert known.error is None and "final answer" in known.text.lower()
    assert unknown.error is not None and unknown.text == ""


def test_roc_auc_on_cases_worked_out_by_hand():
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    # positives {0.5, 0.2}, negatives {0.5, 0.1}: pairs win 0.5 + 1 + 0 + 1 = 2.5 of 4
    assert roc_auc([0.5, 0.2, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.625)
    assert roc_auc([0.3, 0.4], [True, True]) is None


def test_roc_auc_from_ranks_equals_the_pairwise_definition_with_ties():
    rng = random.Random(0)
    scores = [rng.choice([0.0, 0.25, 0.5, 1.0]) for _ in range(300)]
    labels = [rng.random() < 0.2 + 0.5 * s for s in scores]
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    pairwise = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    assert roc_auc(scores, labels) == pytest.approx(pairwise, abs=1e-12)


def test_feedback_analysis_counts_flags_against_wrong_answers():
    def record(usefulness, correct):
        return Record("p", "x", ["q"] * len(usefulness), 1.0, correct, usefulness)

    records = [
        record([1.0, 0.0], 0.0),
        record([1.0, 1.0], 0.0),
        record([0.3, 1.0], 1.0),
        record([1.0], 1.0),
        record([], 1.0),
    ]
    result = feedback_analysis(records)
    # flagged (a sub-question below 0.5): records 0 and 2; wrong: records 0 and 1; the empty one is skipped
    assert result["n_records"] == 4 and result["flagged_rate"] == 0.5 and result["wrong_rate"] == 0.5
    assert result["precision"] == 0.5 and result["recall"] == 0.5
    # scores 1 - min: wrong {1.0, 0.0}, right {0.7, 0.0}: wins 1 + 1 + 0 + 0.5 = 2.5 of 4
    assert result["roc_auc"] == pytest.approx(0.625)


def test_feedback_analysis_counts_a_missing_step_as_doubt():
    """A judge that votes on missing steps: its doubt is the larger of 1 - min usefulness and the share
    of "missing" votes, and records without sub-questions count when that vote exists."""

    def record(usefulness, correct, missing):
        return Record("p", "x", ["q"] * len(usefulness), 1.0, correct, usefulness, meta={"missing_step": missing})

    records = [record([1.0], 0.0, 1.0), record([], 0.0, 2 / 3), record([0.0], 1.0, 0.0), record([1.0], 1.0, 1 / 3)]
    result = feedback_analysis(records)
    assert result["n_records"] == 4 and result["flagged_rate"] == 0.75
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == 1.0
    # doubts: wrong {1.0, 0.667}, right {1.0, 0.333}: wins 0.5 + 1 + 0 + 1 = 2.5 of 4
    assert result["roc_auc"] == pytest.approx(0.625)
