"""Decision-point diagnostics on the synthetic world: the gold and habit branches are told apart exactly."""

import pytest
from conftest import compose_config, scratch_student

from distill.synthetic.dataset import SyntheticDataset
from distill.synthetic.decisions import decision_token_margins, gold_branch, habit_branches, world_diagnostics


@pytest.fixture(scope="module")
def problems():
    return SyntheticDataset(sizes={"test": 300}, world={}).load("test")


def test_gold_and_habit_decompositions_take_their_own_branch(problems):
    seen = set()
    for p in problems:
        for habit, (gold, other) in habit_branches(p.world).items():
            seen.add(habit)
            assert gold_branch(p.world, [p.world.match(q) for q in gold])[habit] is True
            assert gold_branch(p.world, [p.world.match(q) for q in other])[habit] is False
    assert seen == {"merge_division", "cut_long", "ask_starts_with"}


def teacher(**rates):
    from hydra.utils import instantiate

    cfg = compose_config("train").teacher
    off = {
        k: 0.0
        for k in [
            "habit_merge_division",
            "habit_cut_long",
            "habit_ask_starts_with",
            "skip",
            "swap",
            "stop_early",
            "repeat",
            "distractor",
            "ask_given",
        ]
    }
    return instantiate(cfg, **{**off, **rates})


@pytest.mark.parametrize(
    "habit,rate_key",
    [
        ("merge_division", "habit_merge_division"),
        ("cut_long", "habit_cut_long"),
        ("ask_starts_with", "habit_ask_starts_with"),
    ],
)
def test_a_habit_that_always_fires_is_never_gold_and_one_that_never_fires_always_is(problems, habit, rate_key):
    for rate, expected in [(1.0, 0.0), (0.0, 1.0)]:
        decompositions = [d[0].subquestions for d in teacher(**{rate_key: rate}).decompose(problems, 1)]
        out = world_diagnostics(problems, decompositions, [1.0] * len(problems))
        assert out["decisions"][habit]["gold_rate"] == expected and out["decisions"][habit]["n"] > 20
        assert out["garbled_rate"] == 0.0


def test_accuracy_by_chain_length_and_garbled_share_by_hand(problems):
    three = [p for p in problems if p.world.n_steps == 3][:2]
    two = [p for p in problems if p.world.n_steps == 2][:2]
    chosen = three + two
    decompositions = [[p.world.quantities[p.world.target].questions()[0]] for p in chosen]
    decompositions[0] = ["How many dragons does Nobody have?"]
    out = world_diagnostics(chosen, decompositions, [1.0, 0.0, 1.0, 1.0])
    assert out["accuracy_by_steps"] == {"2": 1.0, "3": 0.5} and out["problems_by_steps"] == {"2": 2, "3": 2}
    assert out["garbled_rate"] == 0.25


def test_decision_token_margins_count_every_decision_point(problems):
    student = scratch_student(
        [p.text for p in problems] + ["How many What is the number of that has end up with ?"],
        n_layer=1,
        d_model=16,
        n_head=2,
        d_ff=32,
    )
    out = decision_token_margins(student, problems[:60])
    expected = {}
    for p in problems[:60]:
        for habit in habit_branches(p.world):
            expected[habit] = expected.get(habit, 0) + 1
    assert {h: v["n"] for h, v in out.items()} == expected
    assert all(0.0 <= v["gold_preferred"] <= 1.0 and "advantage_gap" not in v for v in out.values())


@pytest.mark.parametrize("arch", ["llama", "gpt2"])  # rotary positions, and learned ones (left padding shifts them)
def test_batched_margins_equal_one_prefix_at_a_time(problems, arch):
    """Left-padded batches give the margins and advantage gaps of running each decision prefix alone."""
    import torch

    texts = [p.text for p in problems] + ["How many What is the number of that has end up with ?"]
    student = scratch_student(texts, arch=arch, n_layer=2, d_model=16, n_head=2, d_ff=32)
    other = scratch_student(texts, arch=arch, n_layer=1, d_model=16, n_head=2, d_ff=32, seed=1)

    class LogitCritic:  # a critic whose advantages are another model's last-position logits
        def advantages(self, ids, mask=None, positions=None):
            return other.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]

    expected_margins, expected_gaps = {}, {}
    with torch.no_grad():
        for p in problems[:40]:
            for habit, (gold, habit_branch) in habit_branches(p.world).items():
                a, b = student.episode(p.text, gold).input_ids, student.episode(p.text, habit_branch).input_ids
                at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
                if at is None:
                    continue
                logp = torch.log_softmax(student.model(input_ids=torch.tensor([a[:at]])).logits[0, -1], -1)
                adv = other.model(input_ids=torch.tensor([a[:at]])).logits[0, -1]
                expected_margins.setdefault(habit, []).append(float(logp[a[at]] - logp[b[at]]))
                expected_gaps.setdefault(habit, []).append(float(adv[a[at]] - adv[b[at]]))
    out = decision_token_margins(student, problems[:40], critic=LogitCritic(), batch_size=7)
    policy_only = decision_token_margins(student, problems[:40], batch_size=7)  # one prefix per problem
    assert set(out) == set(expected_margins) == set(policy_only)
    for habit, margins in expected_margins.items():
        assert out[habit]["n"] == policy_only[habit]["n"] == len(margins)
        assert out[habit]["policy_margin"] == pytest.approx(sum(margins) / len(margins), abs=1e-5)
        assert policy_only[habit]["policy_margin"] == pytest.approx(sum(margins) / len(margins), abs=1e-5)
        assert out[habit]["advantage_gap"] == pytest.approx(sum(expected_gaps[habit]) / len(margins), abs=1e-5)
