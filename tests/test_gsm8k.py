"""GSM8K and GSM8K-AI-SubQ loading from the shared files."""

import pytest

from distill.datasets.gsm8k import GSM8KAISubQDataset, GSM8KDataset, gsm8k_answer


def test_true_answer_is_the_number_after_the_marker():
    assert gsm8k_answer("48/2 = 24\n#### 72") == 72.0
    assert gsm8k_answer("so\n#### 1,000") == 1000.0
    assert gsm8k_answer("#### -3.5") == -3.5
    assert gsm8k_answer("no marker here") is None


def test_local_gsm8k_splits(data_dir):
    data = GSM8KDataset(data_dir / "gsm8k", validation_size=200)
    train, val, test = data.load("train"), data.load("validation"), data.load("test")
    assert (len(train), len(val), len(test)) == (7473 - 200, 200, 1319)
    assert not {p.problem_id for p in train} & {p.problem_id for p in val}
    assert test[0].text.startswith("Janet") and test[0].true_answer == 18.0
    assert all(p.true_answer is not None for p in train + val + test)
    assert len(GSM8KDataset(data_dir / "gsm8k", limit=20).load("train")) == 20
    with pytest.raises(ValueError, match="train, validation, test"):
        data.load("dev")


def test_a_missing_folder_names_the_setting_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir"):
        GSM8KDataset(tmp_path).load("test")


def test_paper_files_give_problems_and_their_decompositions(data_dir):
    data = GSM8KAISubQDataset(data_dir / "gsm8k_ai_subq", gsm8k_dir=data_dir / "gsm8k")
    records, problems = data.records("test"), data.load("test")
    assert len(problems) == 1319 and len(records) >= 1319
    assert all(r.subquestions and r.teacher == "gsm8k-ai-subq" for r in records)
    # the same problems, with the same ids and answers, as GSM8K's own test file
    gsm8k = {p.problem_id: p.true_answer for p in GSM8KDataset(data_dir / "gsm8k").load("test")}
    assert all(gsm8k.get(p.problem_id) == p.true_answer for p in problems)
    with pytest.raises(FileNotFoundError, match="download"):
        data.records("train")


def test_released_true_answers_cut_at_a_comma_are_the_only_disagreement_with_gsm8k(data_dir):
    released = GSM8KAISubQDataset(data_dir / "gsm8k_ai_subq", gsm8k_dir=None).load("test")
    gsm8k = {p.problem_id: p.true_answer for p in GSM8KDataset(data_dir / "gsm8k").load("test")}
    wrong = [(p.true_answer, gsm8k[p.problem_id]) for p in released if p.true_answer != gsm8k[p.problem_id]]
    assert len(wrong) == 14 and all(truth >= 1000 and str(int(truth)).startswith(str(int(cut))) for cut, truth in wrong)
