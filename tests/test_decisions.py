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
    off = {k: 0.0 for k in ["habit_merge_division", "habit_cut_long", "habit_ask_starts_with", "skip", "swap",
                            "stop_early", "repeat", "distractor", "ask_given"]}
    return instantiate(cfg, **{**off, **rates})


@pytest.mark.parametrize("habit,rate_key", [("merge_division", "habit_merge_division"), ("cut_long", "habit_cut_long"),
                                            ("ask_starts_with", "habit_ask_starts_with")])
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
    student = scratch_student([p.text for p in problems] + ["How many What is the number of that has end up with ?"],
                              n_layer=1, d_model=16, n_head=2, d_ff=32)
    out = decision_token_margins(student, problems[:60])
    expected = {}
    for p in problems[:60]:
        for habit in habit_branches(p.world):
            expected[habit] = expected.get(habit, 0) + 1
    assert {h: v["n"] for h, v in out.items()} == expected
    assert all(0.0 <= v["gold_preferred"] <= 1.0 and "advantage_gap" not in v for v in out.values())
