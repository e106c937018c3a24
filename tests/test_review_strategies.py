"""The review queue's strategies against cases with known orders: where a person's label budget goes."""

import random

import pytest
from test_review import rec
from test_step_credit import gold_steps

from distill.core.errors import UsageError
from distill.core.final_answer import is_correct
from distill.core.records import Record
from distill.review.queue import STRATA
from distill.review.strategies import STRATEGIES, review_queue, uniform_order
from distill.synthetic.answerer import SyntheticAnswerer
from distill.synthetic.world import generate_split
from distill.synthetic.world_v2 import GraphWorldConfig


def test_disputed_puts_first_the_outcomes_the_judge_contradicts_most():
    records = [
        rec("right-liked", [1.0, 1.0], 1.0),  # doubt 0: agrees with its right outcome
        rec("right-doubted", [1.0, 0.0], 1.0),  # doubt 1 on a right answer: the most contradicted
        rec("wrong-liked", [1.0, 0.9], 0.0),  # doubt 0.1 on a wrong answer: contradicted 0.9
        rec("wrong-doubted", [0.2], 0.0),  # doubt 0.8 on a wrong answer: agrees
    ]
    queue, calls = review_queue(records, "disputed")
    assert [records[i.index].problem_id for i in queue] == [
        "right-doubted",
        "wrong-liked",
        "wrong-doubted",
        "right-liked",
    ]
    assert calls == 0 and {i.stratum for i in queue} == {"disputed"}
    assert "came out right, but the AI judge doubts" in queue[0].reason and "doubt 1.00" in queue[0].reason
    assert "came out wrong, but the AI judge doubts the decomposition little (doubt 0.10)" in queue[1].reason


def test_every_strategy_orders_every_record_once_and_gives_each_a_reason():
    records = [rec(f"p{n}", [1.0, (n % 3) / 2], float(n % 2)) for n in range(30)]
    for strategy in ("uniform", "strata", "disputed"):
        queue, _ = review_queue(records, strategy, seed=1)
        assert sorted(i.index for i in queue) == list(range(30)) and all(i.reason for i in queue)
    strata, _ = review_queue(records, "strata", random_share=0.2)
    assert {i.stratum for i in strata} <= set(STRATA)
    assert all(i.reason.startswith("drawn at random") for i in strata if i.stratum == "random")
    assert all(i.reason.startswith("the AI judge's votes split") for i in strata if i.stratum == "split_votes")


def test_uniform_draws_the_sample_review_simulate_drew_before_strategies():
    """The world-v1 study's random condition was random.Random(seed).sample(range(n), 200): the uniform order's
    first 200 are that sample, so its rerun labels the same records."""
    for n, seed in [(8000, 0), (8000, 2), (2000, 1)]:
        order = uniform_order(n, seed)
        assert order[:200] == random.Random(seed).sample(range(n), 200) and sorted(order) == list(range(n))


def test_unstable_puts_first_the_records_whose_reasked_outcome_differs_from_their_label():
    """Gold decompositions (one operation a step, no irrelevant question) are answered right on every draw of a
    k = 1 answerer; the same with an irrelevant question first, under an answerer that carries it into the next
    step half the time, are a coin toss: those come first, and each costs its re-asks."""
    problems = [p for p in generate_split("train", 60, 0, GraphWorldConfig()) if p.world.n_steps >= 3][:12]
    answerer = SyntheticAnswerer(k=1, distraction=0.5, misread=0.0, slip=0.0, guess=0.0, seed=0)
    decompositions = []
    for n, p in enumerate(problems):
        world = p.world
        irrelevant = next(
            q for i, q in enumerate(world.quantities) if q.given and i not in world.ancestors(world.target)
        )
        decompositions.append(([irrelevant.questions()[0]] if n % 2 else []) + gold_steps(p))
    answers = answerer.answer(problems, decompositions)
    records = [
        Record(p.problem_id, p.text, d, p.true_answer, float(is_correct(a.text, p.true_answer)))
        for p, d, a in zip(problems, decompositions, answers)
    ]
    by_id = {p.problem_id: p for p in problems}
    queue, calls = review_queue(records, "unstable", problems=by_id, answerer=answerer, reasks=8)
    assert calls == 8 * len(records)
    flips = [int(i.reason.split("label ")[1].split(" ")[0]) for i in queue]
    assert flips == sorted(flips, reverse=True) and flips[0] > 0
    stable = {i.index for i, f in zip(queue, flips) if f == 0}
    assert {n for n in range(0, 12, 2)} <= stable  # every gold decomposition: never differs
    assert all(queue[k].index % 2 == 1 for k in range(sum(f > 0 for f in flips)))  # those that do: distracted ones


def test_bad_strategies_are_refused_naming_the_choices():
    records = [rec("p", [1.0], 1.0)]
    with pytest.raises(UsageError, match="valid: " + ", ".join(STRATEGIES)):
        review_queue(records, "loudest")
    with pytest.raises(UsageError, match="'unstable' re-asks the answerer: it needs the run's problems and answerer"):
        review_queue(records, "unstable")


def test_simulate_labels_the_strategys_first_records_and_says_the_reviewer_hours(tmp_path, capsys):
    from conftest import compose_config

    from distill import generate
    from distill.core.records import read_records
    from distill.review.__main__ import main, run_parts
    from distill.review.store import LabelStore, record_keys

    data = ["dataset.sizes.train=30", "dataset.sizes.validation=10", "dataset.sizes.test=10"]
    generate.run(compose_config("generate", [*data, "samples_per_problem=2"]), tmp_path)
    main(["simulate", str(tmp_path), "--n", "6", "--strategy", "unstable", "--reasks", "3", *data])
    out = capsys.readouterr().out
    assert "strategy unstable: 180 answerer calls (3 re-asks of each record)" in out
    assert "labelled 6 records (unstable order, noise 0.0)" in out and "0.05 reviewer hours at 30 s a record" in out
    records = read_records(tmp_path / "records.jsonl")
    problems, answerer = run_parts(data)
    queue, _ = review_queue(records, "unstable", problems=problems, answerer=answerer, reasks=3)
    labelled = {k for k, _ in LabelStore(tmp_path / "review.sqlite").labels()}
    assert labelled == {record_keys(records)[item.index] for item in queue[:6]}


def test_reask_relabels_by_the_majority_of_the_original_and_the_new_draws(tmp_path):
    """Gold decompositions are answered right by every draw of a k = 1 answerer, decompositions that stop one
    step short by none: whatever label a record carries, four re-asks outvote it."""
    from distill.review.queue import QueueItem
    from distill.review.reask import reask_review
    from distill.review.store import LabelStore, record_keys

    problems = [p for p in generate_split("train", 40, 0, GraphWorldConfig()) if p.world.n_steps >= 3][:6]
    answerer = SyntheticAnswerer(k=1, distraction=0.5, misread=0.5, slip=0.0, guess=0.3, seed=0)
    records = [
        Record(p.problem_id, p.text, gold_steps(p)[: None if n % 2 else -2], p.true_answer, float(n % 3 == 0))
        for n, p in enumerate(problems)
    ]  # odd n: gold (right on every draw); even n: two steps short (wrong on every draw); labels regardless
    store = LabelStore(tmp_path / "review.sqlite")
    items = [QueueItem(i, "random") for i in range(len(records))]
    calls = reask_review(store, records, items, {p.problem_id: p for p in problems}, answerer, reasks=4)
    assert calls == 24
    outcomes = {key: review.outcome for key, review in store.reviews().items()}
    assert [outcomes[key] for key in record_keys(records)] == ["wrong", "right"] * 3
    assert {reviewer for review in store.reviews().values() for reviewer in review.reviewers} == {"ask-4"}


def test_a_reasked_answer_is_priced_as_claude_would_bill_it():
    from distill.llm.client import Prices
    from distill.llm.prompts import answer_request
    from distill.review.reask import call_usd, claude_prices

    record = Record("p", "Ann has 3 apples. Ben has 2 more than Ann. How many has Ben?", ["How many has Ann?"], 5.0)
    record.answerer_output = "A1: Ann has 3 apples.\n\nFinal answer: 5"
    request = answer_request(record.problem, record.subquestions, max_tokens=512)
    prices = Prices(input=1.0, output=5.0, cache_read=0.1)
    tokens = (len(request.system) // 4, len(request.user) // 4, len(record.answerer_output) // 4)
    assert call_usd(record, prices) == pytest.approx((0.1 * tokens[0] + tokens[1] + 5 * tokens[2]) / 1e6)
    model, configured = claude_prices()
    assert model.startswith("claude") and configured.output > configured.input > configured.cache_read > 0
