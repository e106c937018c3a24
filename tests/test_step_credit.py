"""Counterfactual step credit against cases with known answers (the synthetic world's oracle knows them)."""

from distill.measurement.step_credit import removal_credit
from distill.synthetic.answerer import SyntheticAnswerer
from distill.synthetic.decisions import necessary
from distill.synthetic.world import generate_split
from distill.synthetic.world_v2 import GraphWorldConfig


def a_chain_problem():
    """The first generated world-v2 problem whose answer needs three operations, its gold decomposition, and a
    question for an irrelevant given fact."""
    problem = next(p for p in generate_split("train", 200, 0, GraphWorldConfig()) if p.world.n_steps == 3)
    world = problem.world
    gold = [world.quantities[i].questions()[0] for i in world.gold_order()]
    irrelevant = next(q for i, q in enumerate(world.quantities) if q.given and i not in world.ancestors(world.target))
    return problem, gold, irrelevant.questions()[0]


def test_removing_a_needed_step_loses_the_answer_and_an_irrelevant_question_is_worth_nothing():
    problem, gold, irrelevant = a_chain_problem()
    exact = SyntheticAnswerer(k=1, distraction=0.0, misread=0.0, slip=0.0, guess=0.0, seed=0)
    (credit,), calls = removal_credit([problem], [[irrelevant, *gold]], exact)
    assert calls == 4  # one extra call per sub-question
    # the irrelevant question: 0; the two needed intermediate steps: 1; the target's own question: 0 (the
    # problem's question asks for it, one operation from the last step)
    assert credit == [0.0, 1.0, 1.0, 0.0]
    assert [necessary(problem.world, q) for q in [irrelevant, *gold]] == [False, True, True, False]


def test_a_distracting_question_earns_minus_one():
    """An answerer that always carries an irrelevant question's value into its next computation: with the
    irrelevant question first, the answer is wrong, and removing that question makes it right."""
    problem, gold, irrelevant = a_chain_problem()
    distracted = SyntheticAnswerer(k=1, distraction=1.0, misread=0.0, slip=0.0, guess=0.0, seed=0)
    (credit,), _ = removal_credit([problem], [[irrelevant, *gold]], distracted)
    assert credit[0] == -1.0 and credit[1:] == [0.0, 0.0, 0.0]  # wrong either way without the distractor's removal


def test_reward_counterfactual_replaces_usefulness_with_the_credit():
    from distill.core.records import Record
    from distill.measurement.step_credit import credit_as_usefulness

    problem, gold, irrelevant = a_chain_problem()
    exact = SyntheticAnswerer(k=1, distraction=0.0, misread=0.0, slip=0.0, guess=0.0, seed=0)
    record = Record(problem.problem_id, problem.text, [irrelevant, *gold], problem.true_answer, 1.0, [0.9] * 4)
    (scored,), calls = credit_as_usefulness([record], {problem.problem_id: problem}, exact)
    assert scored.usefulness == [0.5, 1.0, 1.0, 0.5] and calls == 4 and scored.meta["usefulness"] == "counterfactual"
    assert record.usefulness == [0.9] * 4  # the input is left as it was


def test_ilql_trains_on_counterfactual_rewards(tmp_path):
    """reward=counterfactual runs end to end (shrunk): its records carry the credit, and the run says its cost."""
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "distill.train",
            "+experiment=synthetic_ilql_full",
            "reward=counterfactual",
            "student=tiny",
            "dataset.sizes.train=40",
            "dataset.sizes.validation=10",
            "dataset.sizes.test=10",
            "data.samples_per_problem=2",
            "data.max_val_problems=10",
            "trainer.max_steps=4",
            "trainer.val_check_interval=2",
            "logger=none",
            "stage_cache=null",
            "eval.samples=0",
            "eval.teacher_samples=1",
            "algorithm.pretrain.steps=4",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "reward=counterfactual: usefulness from removal credit," in done.stdout


GARBLED = "How many quarks does Nobody have?"  # names no quantity of any problem: answered "unknown" (misread 0)
LUCKY = dict(distraction=0.0, misread=0.0, slip=0.5, guess=0.5, seed=0)  # a k = 2 answerer that slips and guesses


def chancy_decompositions(n: int = 150):
    """World-v2 problems each with a decomposition whose outcome is a draw: a garbled question first (it changes
    nothing the answerer holds), then the gold steps but the first (a k = 2 answerer resolves the skipped one in two
    operations and can slip on the second), so its credit is 0 by construction."""
    problems = [p for p in generate_split("train", 2 * n, 0, GraphWorldConfig()) if p.world.n_steps >= 3][:n]
    return problems, [[GARBLED, *gold_steps(p)[1:]] for p in problems]


def gold_steps(problem):
    world = problem.world
    return [world.quantities[i].questions()[0] for i in world.gold_order()]


def test_with_a_stream_per_question_a_question_that_changes_nothing_earns_exactly_nothing():
    """The answerer's noise redrawn by a removal is credited to the removed question: with one stream per answer,
    removing the idle garbled question shifts every later draw, and its credit is +-1 on some problems; with one
    stream per question (common random numbers) it is 0 on every problem."""
    problems, decompositions = chancy_decompositions()
    shared, _ = removal_credit(problems, decompositions, SyntheticAnswerer(k=2, **LUCKY))
    keyed, _ = removal_credit(problems, decompositions, SyntheticAnswerer(k=2, **LUCKY, noise="question"))
    assert sum(c[0] != 0 for c in shared) >= 10
    assert all(c[0] == 0 for c in keyed)


def test_credit_over_draws_averages_the_answerers_luck_and_counts_its_calls():
    """The idle question's credit has mean 0 over the answerer's luck: averaged over 16 draws it shrinks (about
    4 times, 1 / sqrt(16)); each later draw costs one call per sub-question and one per decomposition."""
    problems, decompositions = chancy_decompositions()
    answerer = SyntheticAnswerer(k=2, **LUCKY)
    one, one_calls = removal_credit(problems, decompositions, answerer)
    many, many_calls = removal_credit(problems, decompositions, answerer, draws=16)
    spread = [sum(abs(c[0]) for c in credits) / len(credits) for credits in (one, many)]
    assert spread[1] < 0.5 * spread[0]
    assert many_calls == 16 * one_calls + 15 * len(problems)
    assert all(c == float(round(c * 16)) / 16 for cs in many for c in cs)  # a mean of 16 credits of -1, 0 or 1


def test_credit_over_draws_is_refused_for_an_answerer_that_cannot_draw_again():
    import pytest

    from distill.core.errors import UsageError

    class Fixed:
        name = "fixed"

        def answer(self, problems, decompositions):
            return SyntheticAnswerer(k=1, **LUCKY).answer(problems, decompositions)

    problems, decompositions = chancy_decompositions(3)
    with pytest.raises(UsageError, match="needs an answerer that can draw again .* fixed cannot"):
        removal_credit(problems, decompositions, Fixed(), draws=2)
