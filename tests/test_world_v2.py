"""World v2 (distill/synthetic/world_v2.py), the fallible answerer, the baselines and the label-free selectors:
each against a case whose answer is known without the code under test."""

import pytest

from distill.core.final_answer import extract_final_answer
from distill.core.records import Record
from distill.measurement.selectors import select, selector_rows
from distill.synthetic.answerer import SyntheticAnswerer, solve
from distill.synthetic.dataset import SyntheticDataset
from distill.synthetic.teacher import GoldTeacher, NoQuestions, RuleTeacher
from distill.synthetic.world import WorldConfig
from distill.synthetic.world_v2 import NAMES, GraphWorldConfig

SIZES = {"train": 400, "validation": 50, "test": 200, "ood": 50}


@pytest.fixture(scope="module")
def v2():
    return SyntheticDataset(sizes=SIZES, world=GraphWorldConfig(), seed=0)


@pytest.fixture(scope="module")
def problems(v2):
    return v2.load("train")


def gold(problem):
    w = problem.world
    return [w.quantities[i].questions()[0] for i in w.gold_order()]


def answers(problems, decompositions, **rates):
    rates = {"distraction": 0.0, "misread": 0.0, "slip": 0.0, "guess": 0.0, **rates}
    k = rates.pop("k", 1)
    out = SyntheticAnswerer(k=k, seed=0, **rates).answer(problems, decompositions)
    return [extract_final_answer(a.text) for a in out]


def test_problems_are_graphs_with_shuffled_facts_and_steps_that_look_like_steps(v2, problems):
    assert (
        v2.name == "synthetic-v2"
        and SyntheticDataset(sizes=SIZES, world=GraphWorldConfig(), seed=0).load("train")[0].text == problems[0].text
    )  # a pure function of the seed
    assert {p.world.n_steps for p in problems} == {2, 3, 4, 5}
    combined = [
        p
        for p in problems
        if any(
            len(p.world.quantities[i].deps) == 2
            and all(not p.world.quantities[d].given for d in p.world.quantities[i].deps)
            for i in p.world.needed()
        )
    ]
    assert len(combined) > 20  # some targets need two derived branches: the order of sub-questions matters
    out_of_order = [p for p in problems if p.world.fact_order != sorted(p.world.fact_order)]
    assert len(out_of_order) > 0.9 * len(problems)
    unneeded_derived = [
        p for p in problems if any(not q.given and i not in p.world.needed() for i, q in enumerate(p.world.quantities))
    ]
    assert len(unneeded_derived) == len(problems)  # every problem has an irrelevant derived chain
    people = {q.person for p in problems for q in p.world.quantities}
    assert len(people) > 250 and people <= set(NAMES)
    assert {q.fact_form for p in problems for q in p.world.quantities} == {0, 1, 2}
    assert {p.world.question_form for p in problems} == set(range(6))
    ood = v2.load("ood")
    assert min(p.world.n_steps for p in ood) > max(p.world.n_steps for p in problems)


def test_every_problem_text_states_every_quantity_once_and_asks_for_the_target(problems):
    for p in problems[:100]:
        w = p.world
        assert p.text.endswith("?")
        assert len(p.text.split(".")) - 1 >= len(w.quantities)  # one sentence per quantity, then the question
        assert w.match(w.quantities[w.target].questions()[w.question_form]) == w.target


def test_gold_is_always_right_and_the_rule_is_not(problems):
    golds = [gold(p) for p in problems]
    truth = [p.true_answer for p in problems]
    assert answers(problems, golds) == truth
    rule = [d[0].subquestions for d in RuleTeacher().decompose(problems, 1)]
    right = sum(a == t for a, t in zip(answers(problems, rule, distraction=0.15, misread=0.5), truth))
    assert right / len(problems) < 0.5


def test_the_answerer_alone_solves_exactly_the_problems_within_its_strength(problems):
    """The ``none`` baseline (no sub-questions): an answerer of strength k, never wrong, answers a problem by
    itself exactly when the target needs at most k operations."""
    empty = [d[0].subquestions for d in NoQuestions().decompose(problems, 1)]
    assert empty == [[]] * len(problems)
    truth = [p.true_answer for p in problems]
    for k in (1, 2, 3):
        right = [a == t for a, t in zip(answers(problems, empty, k=k), truth)]
        assert right == [p.world.n_steps <= k for p in problems]
    assert {p.world.n_steps for p in problems} > {2, 3}  # both sides of each k are tried


def test_world_v1_is_solved_by_the_text_rule():
    v1 = SyntheticDataset(sizes=SIZES, world={}).load("test")
    rule = [d[0].subquestions for d in RuleTeacher().decompose(v1, 1)]
    assert answers(v1, rule) == [p.true_answer for p in v1]
    assert [d[0].subquestions for d in GoldTeacher().decompose(v1[:3], 2)][0] == gold(v1[0])


def test_an_irrelevant_question_that_distracts_makes_the_answer_wrong_not_unknown(problems):
    p = next(p for p in problems if p.world.n_steps >= 2)
    w = p.world
    irrelevant = next(
        i for i in range(len(w.quantities)) if i not in w.ancestors(w.target) | {w.target} and w.quantities[i].given
    )
    questions = gold(p)
    questions.insert(len(questions) - 1, w.quantities[irrelevant].questions()[0])
    wrong = answers([p], [questions], distraction=1.0)[0]
    assert wrong is not None and wrong != p.true_answer
    assert answers([p], [questions], distraction=0.0)[0] == p.true_answer


def test_a_garbled_question_misleads_only_when_misread(problems):
    p = problems[0]
    questions = gold(p)[:-1] + ["How many dragons does Nobody have?"] + gold(p)[-1:]
    assert answers([p], [questions], misread=0.0)[0] == p.true_answer
    misled = answers([p], [questions], misread=1.0)[0]
    assert misled is not None and misled != p.true_answer


def test_slips_grow_with_operations_and_guesses_replace_unknown(problems):
    p = next(p for p in problems if p.world.n_steps >= 3)
    skipped = gold(p)[1:]  # the first step is skipped: the second needs two operations
    assert answers([p], [skipped], k=1)[0] is None
    assert answers([p], [skipped], k=1, guess=1.0)[0] not in (None, p.true_answer)
    assert answers([p], [skipped], k=2)[0] == p.true_answer
    assert answers([p], [skipped], k=2, slip=1.0)[0] != p.true_answer
    assert answers([p], [[]], k=1)[0] is None


def test_answers_are_a_pure_function_of_seed_problem_and_questions(problems):
    qs = [["How many dragons does Nobody have?"] + gold(p) for p in problems[:50]]
    a = SyntheticAnswerer(k=1, distraction=0.3, misread=0.5, slip=0.1, guess=0.3, seed=0).answer(problems[:50], qs)
    b = SyntheticAnswerer(k=1, distraction=0.3, misread=0.5, slip=0.1, guess=0.3, seed=0).answer(problems[:50], qs)
    assert [x.text for x in a] == [x.text for x in b]
    assert "A1: unknown" in solve(problems[0].world, qs[0], 1)  # all rates 0: world v1's answerer


def record(answer, right):
    text = f"A1: ...\n\nFinal answer: {answer}"
    return Record("p", "P?", ["q"], 4.0, float(right), answerer_output=text)


def test_selectors_on_a_hand_made_problem():
    samples = [record("unknown", False), record(3, False), record(4, True), record(4, True)]
    assert select(samples) == {"first": 0.0, "mean": 0.5, "best_of_n": 0.0, "majority": 1.0}
    tie = [record(3, False), record(4, True)]  # a tie goes to the first answered
    assert select(tie)["majority"] == 0.0 and select(list(reversed(tie)))["majority"] == 1.0
    none = [record("unknown", False)] * 3
    assert select(none) == {"first": 0.0, "mean": 0.0, "best_of_n": 0.0, "majority": 0.0}
    rows = selector_rows([samples, tie])
    assert rows["n"] == 2 and rows["mean"]["accuracy"] == pytest.approx(0.5)


def test_graph_world_config_refuses_bad_knobs():
    with pytest.raises(ValueError, match="templates"):
        GraphWorldConfig(templates=4)
    with pytest.raises(ValueError, match="unknown operations"):
        GraphWorldConfig(op_weights={"pow": 1.0})
    assert WorldConfig.name == "synthetic" and GraphWorldConfig.name == "synthetic-v2"


def test_the_teacher_decomposes_a_world_with_one_template():
    """templates=1 leaves two phrasings per question, fewer than the teacher's three paraphrase weights."""
    from conftest import compose_config

    from distill.core.parts import build_parts

    parts = build_parts(compose_config("train", ["dataset.world.templates=1", "dataset.sizes.train=20"]))
    problems = parts.dataset.load("train")
    samples = parts.teacher.decompose(problems, 4)
    assert len(samples) == 20 and all(len(d.subquestions) > 0 for group in samples for d in group)


def _positions(world):
    return {q: n for n, q in enumerate(world.fact_order)}


def test_interleaved_facts_respect_dependencies_and_the_needed_ones_are_no_prefix():
    config = GraphWorldConfig(shuffle_facts=False, interleave=True)
    problems = SyntheticDataset(sizes=SIZES, world=config, seed=0).load("train")
    for p in problems:
        w, at = p.world, _positions(p.world)
        assert sorted(w.fact_order) == list(range(len(w.quantities)))
        assert all(at[d] < at[i] for i, q in enumerate(w.quantities) for d in q.deps)
    prefix = [
        p
        for p in problems
        if set(p.world.fact_order[: len(p.world.ancestors(p.world.target)) + 1])
        == p.world.ancestors(p.world.target) | {p.world.target}
    ]
    assert len(prefix) < 0.2 * len(problems)  # in dependency order (interleave off) every problem is a prefix
    in_order = SyntheticDataset(sizes=SIZES, world=GraphWorldConfig(shuffle_facts=False), seed=0).load("train")
    assert all(p.world.fact_order == sorted(p.world.fact_order) for p in in_order)


@pytest.mark.parametrize("window", [1, 3])
def test_a_window_moves_each_fact_at_most_that_many_places(window):
    import random

    from distill.synthetic.world_v2 import local_shuffle

    rng = random.Random(0)
    moved = 0
    for _ in range(200):
        order = local_shuffle(rng, list(range(12)), window)
        assert sorted(order) == list(range(12))
        assert max(abs(position - i) for position, i in enumerate(order)) <= window
        moved += order != list(range(12))
    assert moved > 100
    assert local_shuffle(rng, list(range(12)), 0) == list(range(12))


def test_the_new_knobs_off_keep_world_v2_problems():
    base = SyntheticDataset(sizes=SIZES, world=GraphWorldConfig(), seed=3).load("test")
    again = SyntheticDataset(sizes=SIZES, world=GraphWorldConfig(interleave=False, window=0), seed=3).load("test")
    assert [p.text for p in base] == [p.text for p in again]


def test_each_surface_rule_asks_what_it_says():
    from distill.synthetic.teacher import SURFACE_RULES

    config = GraphWorldConfig(shuffle_facts=False, interleave=True, templates=1)
    problems = SyntheticDataset(sizes=SIZES, world=config, seed=0).load("test")[:50]
    for p in problems:
        w = p.world
        derived = [i for i in w.fact_order if not w.quantities[i].given]
        asked = {
            name: [w.match(q) for q in RuleTeacher(name).decompose([p], 1)[0][0].subquestions] for name in SURFACE_RULES
        }
        assert asked["all"] == w.fact_order
        assert (
            asked["stop_at_question"][-1] == w.target
            and asked["stop_at_question"] == w.fact_order[: w.fact_order.index(w.target) + 1]
        )
        assert asked["derived"] == derived and asked["derived_two_passes"] == derived + derived
        assert asked["derived_stop_at_question"] == derived[: derived.index(w.target) + 1]
        assert all(w.quantities[i].item == w.quantities[w.target].item for i in asked["question_item"])
    with pytest.raises(ValueError, match="valid: all, stop_at_question"):
        RuleTeacher("backchain")


def test_results_report_each_rule_and_their_best():
    from distill.measurement.results import baseline_accuracies

    v2 = SyntheticDataset(sizes=SIZES, world=GraphWorldConfig(), seed=0)
    problems = v2.load("test")[:100]
    answerer = SyntheticAnswerer(k=1, distraction=0.15, misread=0.5, slip=0.1, guess=0.3, seed=0)
    out = baseline_accuracies(problems, v2.baselines(), answerer)
    rules = {k: v for k, v in out.items() if k.startswith("rule_")}
    assert len(rules) == 6 and out["rule"] == max(rules.values()) and out["gold"] == 1.0 and out["none"] == 0.0
