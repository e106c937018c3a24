"""The contract methods that evaluation and training reach objectives and data sets through: each is checked
against a case whose answer is known without the method."""

import pytest
import torch

from conftest import ROOT, objective, scratch_student
from distill.algorithms.ilql import ValueCritic, ValueHeads
from distill.algorithms.logprobs import add_reference_logps, sequence_logps
from distill.core.contracts import TRAIN, VALIDATION, Critic, Dataset, Objective
from distill.datasets.gsm8k import GSM8KDataset
from distill.synthetic.dataset import SyntheticDataset
from distill.training.episodes import collate
from distill.training.saved_run import OBJECTIVE_FILE, load_trained, save_trained

SIZES = {"train": 30, "validation": 10, "test": 10, "ood": 10}


@pytest.fixture(scope="module")
def problems():
    return SyntheticDataset(sizes=SIZES, world={}).load("test")


@pytest.fixture(scope="module")
def student(problems):
    return scratch_student([p.text for p in problems] + ["How many does have ?"], n_layer=1, d_model=16, n_head=2,
                           d_ff=32)


def test_every_objective_fulfils_the_contract(student):
    names = sorted(p.stem for p in (ROOT / "conf" / "algorithm").glob("*.yaml"))
    assert {"bc", "filtered_bc", "awr", "dpo", "ilql"} <= set(names)
    for name in names:  # a new conf/algorithm/ file is checked here without listing it
        module = objective(name, student.model, total_steps=2)
        assert isinstance(module, Objective), name
        assert (module.critic() is None) is module.student_only, name
    assert not objective("ilql", student.model, total_steps=2).student_only


def test_reference_logps_are_the_models_sequence_logps_for_pairs_and_single_sequences(student, problems):
    episodes = [student.episode(p.text, [f"How many does {i} have?"]) for i, p in enumerate(problems[:5])]
    single = [{"input_ids": e.input_ids, "action_mask": e.action_mask} for e in episodes]
    pairs = [{"chosen_input_ids": a.input_ids, "chosen_action_mask": a.action_mask,
              "rejected_input_ids": b.input_ids, "rejected_action_mask": b.action_mask}
             for a, b in zip(episodes, episodes[1:])]
    student.model.train()
    add_reference_logps(student.model, single, student.pad_id, ("",), batch_size=2)
    add_reference_logps(student.model, pairs, student.pad_id, ("chosen_", "rejected_"), batch_size=3)
    assert student.model.training  # the mode it had is restored
    student.model.eval()
    for item in single:  # one at a time, unpadded: the batched, padded values must match
        batch = collate([{"input_ids": item["input_ids"], "action_mask": item["action_mask"]}], student.pad_id)
        with torch.no_grad():
            expected = float(sequence_logps(student.model, batch["input_ids"], batch["attention_mask"],
                                            batch["action_mask"])[0][0])
        assert item["ref_logp"] == pytest.approx(expected, abs=1e-5)
    assert [p["ref_chosen_logp"] for p in pairs] == pytest.approx([s["ref_logp"] for s in single[:-1]], abs=1e-5)
    assert [p["ref_rejected_logp"] for p in pairs] == pytest.approx([s["ref_logp"] for s in single[1:]], abs=1e-5)


def test_value_critic_reads_the_heads_at_the_last_token(student):
    model = student.model.eval()
    heads = ValueHeads(model.config.hidden_size, model.get_output_embeddings().weight.shape[0]).eval()
    critic = ValueCritic(model, heads)
    assert isinstance(critic, Critic)
    ids = torch.tensor([[5, 6, 7, 8]])
    hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[-1][:, -1]
    with torch.no_grad():
        q = torch.stack([h(hidden) for h in heads.target_q]).min(0).values
        v = heads.v(hidden).squeeze(-1)
    assert torch.allclose(critic.advantages(ids), q - v[:, None], atol=1e-6)
    assert torch.allclose(critic.state_values(ids), v, atol=1e-6)


def test_saved_runs_rebuild_their_objectives_decoding(student, tmp_path):
    policy = objective("dpo", student.model, total_steps=2)
    save_trained(tmp_path / "dpo", student, policy)
    loaded, scorers, critic, folder = load_trained(tmp_path / "dpo")
    assert list(scorers) == ["greedy"] and critic is None and folder == tmp_path / "dpo"
    assert "DPOModule" in (tmp_path / "dpo" / OBJECTIVE_FILE).read_text()

    ilql = objective("ilql", student.model, total_steps=2)
    save_trained(tmp_path / "ilql", student, ilql)
    _, scorers, critic, _ = load_trained(tmp_path / "ilql", betas=[0.0, 2.0])
    assert list(scorers) == ["beta=0", "beta=2"] and isinstance(critic, ValueCritic)
    ids = torch.tensor([[5, 6, 7]])
    assert torch.allclose(critic.advantages(ids), ilql.critic().advantages(ids), atol=1e-6)

    student.save(tmp_path / "stage")  # a first stage: saved without its objective, it decodes greedily
    _, scorers, critic, _ = load_trained(tmp_path / "stage")
    assert list(scorers) == ["greedy"] and critic is None


def test_data_sets_declare_their_splits_and_diagnostics(student, problems, data_dir):
    synthetic = SyntheticDataset(sizes=SIZES, world={})
    datasets = [synthetic]
    if data_dir.exists():
        datasets.append(GSM8KDataset(str(data_dir / "gsm8k"), validation_size=5, limit=5))
    for dataset in datasets:
        assert isinstance(dataset, Dataset) and {TRAIN, VALIDATION} <= set(dataset.splits)
    gold = [[p.world.quantities[q].questions()[0] for q in p.world.gold_order()] for p in problems]
    out = synthetic.diagnostics(problems, gold, [1.0] * len(problems))
    assert out["garbled_rate"] == 0.0 and set(out) == {"decisions", "accuracy_by_steps", "problems_by_steps", "garbled_rate"}
    assert synthetic.policy_diagnostics(student, problems, None) is not None
    if len(datasets) > 1:
        gsm8k = datasets[1]
        gsm_problems = gsm8k.load("test")
        assert gsm8k.diagnostics(gsm_problems, [["q"]] * len(gsm_problems), [1.0] * len(gsm_problems)) == {}
        assert gsm8k.policy_diagnostics(student, gsm_problems, None) is None
