"""The contract methods that evaluation and training reach objectives and data sets through: each is checked
against a case whose answer is known without the method."""

import pytest
import torch
from conftest import ROOT, objective, scratch_student

from distill.algorithms.ilql import ValueCritic, ValueHeads
from distill.algorithms.logprobs import sequence_logps
from distill.core.contracts import TRAIN, VALIDATION, Critic, Dataset, Objective, OnlineObjective
from distill.core.records import Record
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
    return scratch_student(
        [p.text for p in problems] + ["How many does have ?"], n_layer=1, d_model=16, n_head=2, d_ff=32
    )


def test_every_objective_fulfils_the_contract(student):
    names = sorted(p.stem for p in (ROOT / "conf" / "algorithm").glob("*.yaml"))
    assert {"bc", "filtered_bc", "awr", "dpo", "ilql"} <= set(names)
    for name in names:  # a new conf/algorithm/ file is checked here without listing it
        module = objective(name, student.model, total_steps=2)
        assert isinstance(module, Objective), name
        assert (module.critic() is None) is module.student_only, name
        assert isinstance(module, OnlineObjective) is (name == "grpo"), name  # only GRPO samples while training
    assert not objective("ilql", student.model, total_steps=2).student_only


@pytest.mark.parametrize(
    "layer,forbidden",
    [
        ("algorithms", "distill.synthetic"),
        ("core", "distill.llm"),
        ("core", "distill.synthetic"),
        ("training", "distill.synthetic"),
    ],
)
def test_a_lower_layer_imports_nothing_from_an_upper_one(layer, forbidden):
    """Objectives do not know the synthetic world (Dataset.diagnostics reaches it); core knows no client."""
    import ast

    offenders = []
    for path in sorted((ROOT / "distill" / layer).glob("**/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith(forbidden)]
    assert offenders == []


def test_dpo_reference_logps_are_the_starting_models_computed_once_per_pair(student, problems):
    episodes = [student.episode(p.text, [f"How many does {i} have?"]) for i, p in enumerate(problems[:5])]
    dpo = objective("dpo", student.model, total_steps=2)
    records = [
        Record(
            problem_id=p.problem_id,
            problem=p.text,
            subquestions=[f"How many does {i} have?"],
            answer_correctness=float(i % 2),
        )
        for i, p in enumerate(problems[:1] * 4)
    ]
    pairs = [
        {
            "pair_id": dpo.pairs + k,
            "chosen_input_ids": a.input_ids,
            "chosen_action_mask": a.action_mask,
            "rejected_input_ids": b.input_ids,
            "rejected_action_mask": b.action_mask,
        }
        for k, (a, b) in enumerate(zip(episodes, episodes[1:]))
    ]
    dpo.pairs += len(pairs)
    single = []
    student.model.eval()
    for e in episodes:  # one at a time, unpadded: the batched, padded values must match
        batch = collate([{"input_ids": e.input_ids, "action_mask": e.action_mask}], student.pad_id)
        with torch.no_grad():
            single.append(
                float(
                    sequence_logps(student.model, batch["input_ids"], batch["attention_mask"], batch["action_mask"])[0][
                        0
                    ]
                )
            )
    with torch.no_grad():  # the policy moves on; the reference stays the model it started from
        for p in student.model.parameters():
            p.add_(0.1)
    dpo.train()  # as fit leaves it: the reference must still run in eval mode
    chosen, rejected = dpo.reference_pair_logps(collate(pairs[1:3], student.pad_id))
    assert chosen.tolist() == pytest.approx(single[1:3], abs=1e-5)
    assert rejected.tolist() == pytest.approx(single[2:4], abs=1e-5)
    assert sorted(dpo.reference_logps) == [1, 2]  # only the pairs a batch held
    dpo.reference.apply(lambda m: [p.data.zero_() for p in m.parameters(recurse=False)])  # kept: not recomputed
    chosen, rejected = dpo.reference_pair_logps(collate(pairs, student.pad_id))
    assert chosen.tolist()[1:3] == pytest.approx(single[1:3], abs=1e-5)
    assert chosen.tolist()[0] != pytest.approx(single[0], abs=1e-3)  # new pair: the (now zeroed) reference's
    items = dpo.make_items(student, records)  # right over wrong: 2 x 2 pairs, numbered after the ones above
    assert [i["pair_id"] for i in items] == [4, 5, 6, 7]


@pytest.mark.parametrize("name", ["dpo", "grpo"])
def test_a_frozen_reference_stays_in_eval_mode_when_fit_turns_the_module_to_training(problems, name):
    dropout = scratch_student([p.text for p in problems], n_layer=1, d_model=16, n_head=2, d_ff=32, dropout=0.5)
    module = objective(name, dropout.model, total_steps=2)
    module.train()  # what fit does before its first step
    assert module.model.training
    assert not any(m.training for m in module.reference.modules())
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():  # dropout off: the same log-probabilities twice
        assert torch.equal(module.reference(input_ids=ids).logits, module.reference(input_ids=ids).logits)
    module.eval().train()
    assert module.model.training and not module.reference.training


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
    assert out["garbled_rate"] == 0.0 and set(out) == {
        "decisions",
        "accuracy_by_steps",
        "problems_by_steps",
        "garbled_rate",
    }
    assert synthetic.policy_diagnostics(student, problems, None) is not None
    if len(datasets) > 1:
        gsm8k = datasets[1]
        gsm_problems = gsm8k.load("test")
        assert gsm8k.diagnostics(gsm_problems, [["q"]] * len(gsm_problems), [1.0] * len(gsm_problems)) == {}
        assert gsm8k.policy_diagnostics(student, gsm_problems, None) is None
