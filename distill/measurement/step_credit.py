"""Step-level credit by counterfactual: what each sub-question is worth to the answerer's outcome.

The credit of sub-question i of a decomposition is the answerer's outcome with the whole decomposition minus its
outcome with sub-question i removed (1 right, 0 wrong): 1 where removing it loses a right answer, -1 where
removing it turns a wrong answer right (a distracting question), 0 where it changes nothing. It needs one extra
answerer call per sub-question, made in one batch, so it works with any answerer (the synthetic one, a local
model, Claude) and its cost is the count of those calls.

A fallible answerer's outcome is itself a draw: a good question can fail on a slip, a removal can redraw every other
question's luck. Two remedies: ``draws`` > 1 averages the credit over that many independent draws of the answerer
(each draw's whole and ablated answers paired; an answerer that can draw again has ``redrawn(m)``), at ``draws``
times the calls; and the synthetic answerer's ``noise="question"`` keeps each other question's luck fixed when one
is removed (common random numbers), at no extra call.
"""

from __future__ import annotations

import dataclasses

from distill.core.contracts import Answer, Answerer, Problem
from distill.core.errors import UsageError
from distill.core.final_answer import is_correct
from distill.core.records import Record


def removal_credit(
    problems: list[Problem],
    decompositions: list[list[str]],
    answerer: Answerer,
    full: list[Answer] | None = None,
    draws: int = 1,
) -> tuple[list[list[float]], int]:
    """Per decomposition, each sub-question's credit, the mean over ``draws`` draws of the answerer; and the
    number of extra answerer calls it took. ``full``: the answers to the whole decompositions where the caller has
    them already (an online objective's rollouts; the first draw's)."""
    if draws < 1:
        raise UsageError(f"step credit needs at least one draw of the answerer, got draws={draws}")
    if draws > 1 and not hasattr(answerer, "redrawn"):
        raise UsageError(
            f"step credit over {draws} draws needs an answerer that can draw again (redrawn); {answerer.name} "
            "cannot: use 1 draw"
        )
    credits, calls = _one_draw(problems, decompositions, answerer, full)
    for m in range(1, draws):
        more, more_calls = _one_draw(problems, decompositions, answerer.redrawn(m))  # type: ignore[attr-defined]
        credits = [[a + b for a, b in zip(x, y)] for x, y in zip(credits, more)]
        calls += more_calls + len(problems)  # each later draw answers the whole decompositions again
    return [[c / draws for c in cs] for cs in credits], calls


def _one_draw(
    problems: list[Problem], decompositions: list[list[str]], answerer: Answerer, full: list[Answer] | None = None
) -> tuple[list[list[float]], int]:
    full = full if full is not None else answerer.answer(problems, decompositions)
    ablated_problems, ablated = [], []
    for problem, questions in zip(problems, decompositions):
        for i in range(len(questions)):
            ablated_problems.append(problem)
            ablated.append(questions[:i] + questions[i + 1 :])
    answers = iter(answerer.answer(ablated_problems, ablated))
    credits = []
    for problem, questions, answer in zip(problems, decompositions, full):
        right = float(is_correct(answer.text, problem.true_answer))
        credits.append([right - float(is_correct(next(answers).text, problem.true_answer)) for _ in questions])
    return credits, len(ablated)


def credit_as_usefulness(
    records: list[Record], problems: dict[str, Problem], answerer: Answerer, draws: int = 1
) -> tuple[list[Record], int]:
    """The records with each sub-question's usefulness replaced by its removal credit mapped to [0, 1]
    ((credit + 1) / 2: needed 1, neutral 0.5, distracting 0), so every reward that reads usefulness reads the
    answerer's own dependence on the question (``reward=counterfactual``); and the extra answerer calls.
    ``problems`` by id (the synthetic answerer needs the world's); a record whose problem is not there is
    answered from its own text."""
    owned = [problems.get(r.problem_id) or Problem(r.problem_id, r.problem, r.true_answer) for r in records]
    credits, calls = removal_credit(owned, [r.subquestions for r in records], answerer, draws=draws)
    return [
        dataclasses.replace(r, usefulness=[(c + 1) / 2 for c in cs], meta={**r.meta, "usefulness": "counterfactual"})
        for r, cs in zip(records, credits)
    ], calls
