import pytest

from distill.core.final_answer import extract_final_answer
from distill.synthetic.answerer import solve
from distill.synthetic.dataset import SyntheticDataset
from distill.synthetic.judge import SyntheticJudge, misses_a_step, useful_flags
from distill.synthetic.world import Quantity, SyntheticProblem, WorldConfig, WorldProblem, draw_split, generate_split


def chain_problem() -> WorldProblem:
    """Tom has 6 apples; Anna 3 more than Tom (9); Ben half as many as Anna... (odd) -> use times."""
    qs = [
        Quantity("Tom", "apples", 6, "given"),
        Quantity("Anna", "apples", 9, "add", (0,), 3),
        Quantity("Ben", "apples", 18, "mul", (1,), 2),
        Quantity("Cara", "apples", 9, "div", (2,), 2),
        Quantity("Dan", "pencils", 4, "given"),
    ]
    return WorldProblem(qs, target=3, fact_order=[0, 4, 1, 2, 3])


def test_problem_text_and_gold():
    w = chain_problem()
    assert w.text == (
        "Tom has 6 apples. Dan has 4 pencils. Anna has 3 more apples than Tom. "
        "Ben has twice as many apples as Anna. Cara has half as many apples as Ben. "
        "How many apples does Cara have?"
    )
    assert w.gold_order() == [1, 2, 3]
    assert w.answer == 9


def test_gold_decomposition_solves_at_k1():
    w = chain_problem()
    gold = [w.quantities[i].questions()[0] for i in w.gold_order()]
    out = solve(w, gold, k=1)
    assert out.endswith("Final answer: 9")
    assert "unknown" not in out


def test_skipped_step_fails_at_k1_and_succeeds_at_k2():
    w = chain_problem()
    skipped = ["How many apples does Anna have?", "How many apples does Cara have?"]  # Ben skipped
    assert extract_final_answer(solve(w, skipped, k=1)) is None
    assert "A2: unknown" in solve(w, skipped, k=1)
    assert extract_final_answer(solve(w, skipped, k=2)) == 9


def test_unknown_quantity_is_answered_unknown():
    w = chain_problem()
    out = solve(w, ["How many marbles does Zoe have?", "What colour is the sky?"], k=5)
    assert out.startswith("A1: unknown\nA2: unknown")


def test_paraphrases_and_case_match_the_same_quantity():
    w = chain_problem()
    for q in w.quantities[2].questions():
        assert w.match(q.upper()) == 2


def test_repeated_question_is_answered_but_not_useful():
    w = chain_problem()
    qs = [
        "How many apples does Anna have?",
        "What is the number of apples that Anna has?",
        "How many apples does Ben have?",
        "How many apples does Cara have?",
    ]
    out = solve(w, qs, k=1)
    assert "A2: Anna has 9 apples." in out
    assert useful_flags(w, qs) == [True, False, True, True]


def test_given_and_distractor_questions_are_not_useful():
    w = chain_problem()
    assert useful_flags(w, ["How many apples does Tom have?", "How many pencils does Dan have?"]) == [False, False]


def test_judge_votes_noise():
    w = chain_problem()
    p = SyntheticProblem("x", w.text, 9.0, w)
    qs = ["How many apples does Anna have?", "How many apples does Tom have?"]
    assert SyntheticJudge(n_votes=5, noise=0.0, seed=0, check_missing=False).judge([p], [qs])[0].usefulness == [
        1.0,
        0.0,
    ]
    # with noise 0.5 and many votes, scores drift to the middle
    scores = SyntheticJudge(n_votes=400, noise=0.5, seed=0, check_missing=False).judge([p], [qs])[0].usefulness
    assert all(0.4 < s < 0.6 for s in scores)


def test_judge_notices_a_missing_step_without_touching_usefulness():
    w = chain_problem()
    p = SyntheticProblem("x", w.text, 9.0, w)
    whole = ["How many apples does Anna have?", "How many apples does Ben have?", "How many apples does Cara have?"]
    skip = ["How many apples does Anna have?", "How many apples does Cara have?"]  # Ben, a needed step, never asked
    exact = SyntheticJudge(n_votes=5, noise=0.0, seed=0, check_missing=True)
    assert [j.meta["missing_step"] for j in exact.judge([p, p], [whole, skip])] == [0.0, 1.0]
    assert misses_a_step(w, whole[1:])  # Anna missing
    assert not misses_a_step(w, whole[:2])  # the target itself may be left to the answerer
    noisy = SyntheticJudge(n_votes=3, noise=0.3, seed=0, check_missing=True).judge([p], [skip])[0]
    plain = SyntheticJudge(n_votes=3, noise=0.3, seed=0, check_missing=False).judge([p], [skip])[0]
    assert noisy.usefulness == plain.usefulness and plain.meta == {}
    shares = [
        j.meta["missing_step"]
        for j in SyntheticJudge(n_votes=1000, noise=0.3, seed=0, check_missing=True).judge([p], [skip])
    ]
    assert shares[0] == pytest.approx(0.7, abs=0.05)


def test_generation_is_deterministic_by_seed():
    cfg = WorldConfig()
    a = [p.text for p in draw_split("train", 50, 3, cfg)]
    b = [p.text for p in draw_split("train", 50, 3, cfg)]
    c = [p.text for p in draw_split("train", 50, 4, cfg)]
    assert a == b
    assert a != c


def test_a_kept_split_is_the_drawn_one_and_a_config_change_draws_anew():
    cfg = WorldConfig()
    first = generate_split("validation", 30, 5, cfg)
    first.pop()  # the caller's own list: changing it leaves the kept one whole
    again = generate_split("validation", 30, 5, cfg)
    assert [p.text for p in again] == [p.text for p in draw_split("validation", 30, 5, cfg)]
    cfg.max_steps = 2  # the same object, changed: another world, so another split
    assert (
        [p.text for p in generate_split("validation", 30, 5, cfg)]
        == [p.text for p in draw_split("validation", 30, 5, cfg)]
        != [p.text for p in again]
    )


def test_splits_are_disjoint():
    ds = SyntheticDataset(sizes={"train": 2000, "validation": 200, "test": 500, "ood": 300}, world={})
    texts = {s: {p.text for p in ds.load(s)} for s in ["train", "validation", "test", "ood"]}
    for s in texts:
        for t in texts:
            if s < t:
                assert not texts[s] & texts[t], (s, t)
    assert all(len(v) == ds.sizes[k] for k, v in texts.items())


def test_problems_respect_knobs_and_are_consistent():
    cfg = WorldConfig(min_steps=3, max_steps=5, min_derived_distractors=1, max_derived_distractors=1)
    for p in generate_split("test", 100, 0, cfg):
        w = p.world
        assert 3 <= w.n_steps <= 5
        derived_unneeded = [i for i, q in enumerate(w.quantities) if not q.given and i not in w.needed()]
        assert len(derived_unneeded) == 1
        assert all(0 < q.value <= 500 for q in w.quantities)
        # every quantity has one sentence, and the final question names the target
        assert p.text.count(".") == len(w.quantities)
        assert w.match(p.text.split(". ")[-1]) == w.target


def test_ood_split_has_longer_chains():
    ds = SyntheticDataset(sizes={"train": 2000, "validation": 200, "test": 500, "ood": 300}, world={})
    assert max(p.world.n_steps for p in ds.load("test")) <= 4
    assert min(p.world.n_steps for p in ds.load("ood")) >= 5


def test_unknown_split_names_valid_ones():
    with pytest.raises(ValueError, match="valid splits"):
        SyntheticDataset(sizes={"train": 10}, world={}).load("dev")


def test_bad_knobs_are_rejected():
    with pytest.raises(ValueError, match="max_steps"):
        WorldConfig(min_steps=2, max_steps=9)
    with pytest.raises(ValueError, match="valid: add"):
        WorldConfig(op_weights={"pow": 1.0})
