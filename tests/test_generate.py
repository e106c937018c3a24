import json

import pytest
from hydra.errors import ConfigCompositionException

from distill.core.records import read_records
from distill.generate import run


def test_generate_writes_records_and_summary(compose_cfg, tmp_path):
    cfg = compose_cfg("generate", ["dataset.limit=40", "samples_per_problem=3", "batch_size=16"])
    summary = run(cfg, tmp_path)
    records = read_records(tmp_path / "records.jsonl")
    assert len(records) == 120 and summary["n_records"] == 120 and summary["n_problems"] == 40
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    for key in [
        "n_problems",
        "n_records",
        "teacher_accuracy",
        "mean_subquestions",
        "usefulness_rate",
        "problems_with_correct_sample",
        "teacher",
        "answerer",
    ]:
        assert key in on_disk
    assert on_disk["answerer"]["k"] == 1
    assert summary["teacher_accuracy"] == sum(r.answer_correctness for r in records) / 120
    assert all(r.usefulness is not None and len(r.usefulness) == len(r.subquestions) for r in records)


def test_generate_resumes_without_redoing_work(compose_cfg, tmp_path):
    cfg = compose_cfg("generate", ["dataset.limit=10", "samples_per_problem=2"])
    run(cfg, tmp_path)
    first = (tmp_path / "records.jsonl").read_text()
    # a crash after 10 problems: re-running over 20 appends only the 10 new ones
    cfg = compose_cfg("generate", ["dataset.limit=20", "samples_per_problem=2"])
    summary = run(cfg, tmp_path)
    text = (tmp_path / "records.jsonl").read_text()
    assert text.startswith(first)
    assert len(text.splitlines()) == 40 and summary["n_problems"] == 20


def test_stronger_answerer_scores_higher(compose_cfg, tmp_path):
    acc = {}
    for k in (1, 2):
        cfg = compose_cfg("generate", ["dataset.limit=300", f"answerer.k={k}"])
        acc[k] = run(cfg, tmp_path / f"k{k}")["teacher_accuracy"]
    assert acc[2] > acc[1]


def test_unknown_choice_names_the_valid_ones(compose_cfg):
    with pytest.raises(ConfigCompositionException, match="Available options"):
        compose_cfg("generate", ["teacher=gpt17"])
