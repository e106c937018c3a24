"""Where a student's decompositions go right or wrong, read from the synthetic world's exact structure.

- **Decision points**: each teacher habit (``distill.synthetic.teacher``) makes its choice at one place
  in a decomposition, where the gold decomposition and the habit's part ways. Per habit, on the
  problems that have its feature, the share of decompositions that take the gold branch:
  - ``merge_division``: the first non-final "half / a third / a quarter as many" step is asked for
    before the step built on it (the habit skips it);
  - ``cut_long``: on chains of at least ``cut_long_min_steps`` steps, the second-to-last step is asked
    for (the habit stops two steps short, before it);
  - ``ask_starts_with``: when a needed given fact reads "X starts with", the first question asks
    for a needed derived quantity (the habit asks for that given first).
- **Accuracy by chain length** (number of derived steps the answer needs).
- **Garbled share**: decompositions with a question that names no quantity of the problem (a name or
  item the student got wrong).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from distill.core.contracts import Problem
from distill.synthetic.world import SyntheticProblem, WorldProblem

HABITS = ("merge_division", "cut_long", "ask_starts_with")


def gold_branch(world: WorldProblem, asked: list[int | None], cut_long_min_steps: int = 4) -> dict[str, bool]:
    """For each habit whose decision point this problem has, whether ``asked`` (the quantity each question
    names, None where it names none) takes the gold branch there."""
    gold = world.gold_order()
    out: dict[str, bool] = {}
    divisions = [i for i in gold if world.quantities[i].op == "div" and i != world.target]
    if divisions:
        step = divisions[0]
        after = gold[gold.index(step) + 1]
        out["merge_division"] = step in asked and (after not in asked or asked.index(step) < asked.index(after))
    if world.n_steps >= cut_long_min_steps:
        out["cut_long"] = gold[-2] in asked
    givens = world.ancestors(world.target) & world.given_indices()
    if any(world.quantities[i].phrasing == "starts with" for i in givens):
        out["ask_starts_with"] = bool(asked) and asked[0] in world.needed()
    return out


def world_diagnostics(problems: list[Problem], decompositions: list[list[str]],
                      correct: list[float]) -> dict[str, Any] | None:
    """Decision-point gold rates per habit, accuracy by chain length and the garbled share; None when the
    problems are not synthetic."""
    if not problems or not all(isinstance(p, SyntheticProblem) for p in problems):
        return None
    taken: dict[str, list[bool]] = defaultdict(list)
    by_steps: dict[int, list[float]] = defaultdict(list)
    garbled = 0
    for problem, questions, right in zip(problems, decompositions, correct):
        world = problem.world
        asked = [world.match(q) for q in questions]
        for habit, gold in gold_branch(world, asked).items():
            taken[habit].append(gold)
        by_steps[world.n_steps].append(right)
        garbled += any(i is None for i in asked)
    return {
        "decisions": {h: {"n": len(taken[h]), "gold_rate": sum(taken[h]) / len(taken[h])} for h in HABITS if taken[h]},
        "accuracy_by_steps": {str(n): sum(v) / len(v) for n, v in sorted(by_steps.items())},
        "garbled_rate": garbled / len(problems),
    }
