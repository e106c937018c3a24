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
