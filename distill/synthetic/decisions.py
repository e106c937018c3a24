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
- **Decision-token margins** (:func:`decision_token_margins`): how strongly a student's policy, and a
  value-guided student's critic, prefer the gold token over the habit's at the decision point.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import torch

from distill.core.contracts import Critic, Problem
from distill.measurement.decoding import left_pad
from distill.synthetic.world import SyntheticProblem, WorldProblem

if TYPE_CHECKING:
    from distill.students import Student

HABITS = ("merge_division", "cut_long", "ask_starts_with")


def decision_points(world: WorldProblem, cut_long_min_steps: int = 4) -> dict[str, int]:
    """Per habit whose feature the problem has, the quantity its decision turns on: the first non-final
    division step (merge_division), the second-to-last step (cut_long), the needed "starts with" given
    (ask_starts_with)."""
    gold = world.gold_order()
    out: dict[str, int] = {}
    divisions = [i for i in gold if world.quantities[i].op == "div" and i != world.target]
    if divisions:
        out["merge_division"] = divisions[0]
    if world.n_steps >= cut_long_min_steps:
        out["cut_long"] = gold[-2]
    givens = sorted(world.ancestors(world.target) & world.given_indices())
    starts = [i for i in givens if world.quantities[i].phrasing == "starts with"]
    if starts:
        out["ask_starts_with"] = starts[0]
    return out


def gold_branch(world: WorldProblem, asked: list[int | None], cut_long_min_steps: int = 4) -> dict[str, bool]:
    """For each habit whose decision point this problem has, whether ``asked`` (the quantity each question
    names, None where it names none) takes the gold branch there."""
    gold = world.gold_order()
    out: dict[str, bool] = {}
    for habit, quantity in decision_points(world, cut_long_min_steps).items():
        if habit == "merge_division":  # the division step asked for, before the step built on it
            after = gold[gold.index(quantity) + 1]
            out[habit] = quantity in asked and (after not in asked or asked.index(quantity) < asked.index(after))
        elif habit == "cut_long":  # the chain goes on past the point where the habit stops
            out[habit] = quantity in asked
        else:  # ask_starts_with: the first question asks for a needed derived quantity, not the given
            out[habit] = bool(asked) and asked[0] in world.needed()
    return out


def world_diagnostics(
    problems: list[Problem], decompositions: list[list[str]], correct: list[float]
) -> dict[str, Any] | None:
    """Decision-point gold rates per habit, accuracy by chain length (and the problems of each length), and the
    garbled share; None when the problems are not synthetic."""
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
        "problems_by_steps": {str(n): len(v) for n, v in sorted(by_steps.items())},
        "garbled_rate": garbled / len(problems),
    }


def habit_branches(world: WorldProblem, cut_long_min_steps: int = 4) -> dict[str, tuple[list[str], list[str]]]:
    """Per habit whose decision point the problem has: the gold decomposition and the habit's (first
    paraphrase of every question), which part ways at that decision."""
    gold = world.gold_order()
    ask = lambda order: [world.quantities[i].questions()[0] for i in order]  # noqa: E731
    habit_orders = {
        "merge_division": lambda q: [i for i in gold if i != q],
        "cut_long": lambda q: gold[:-2],
        "ask_starts_with": lambda q: [q, *gold],
    }
    return {
        habit: (ask(gold), ask(habit_orders[habit](quantity)))
        for habit, quantity in decision_points(world, cut_long_min_steps).items()
    }


@torch.no_grad()
def decision_token_margins(
    student: Student, problems: list[Problem], critic: Critic | None = None, batch_size: int = 64
) -> dict[str, Any] | None:
    """At each habit's decision token (the first token where the gold and the habit's decompositions
    differ, after the common prefix), the policy's log-probability margin log pi(gold) - log pi(habit),
    and for a value-guided student the advantage gap A(gold) - A(habit) of its critic. Means per habit;
    None when the problems are not synthetic. The prefixes go through the model ``batch_size`` at a time,
    left-padded; without a critic, one prefix per problem."""
    if not problems or not all(isinstance(p, SyntheticProblem) for p in problems):
        return None
    student.model.eval()
    # model inputs: a prefix of the gold episode and the decisions read from it (habit, position of the last
    # prefix token, gold token, habit's token). Every habit of a problem branches off the same gold episode, so
    # without a critic (which reads the last position only) one input, to the latest decision, serves them all.
    inputs: list[tuple[list[int], list[tuple[str, int, int, int]]]] = []
    for problem in problems:
        gold_ids, decisions = None, []
        for habit, (gold, other) in habit_branches(problem.world).items():
            a = student.episode(problem.text, gold).input_ids
            b = student.episode(problem.text, other).input_ids
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
            if at is not None:  # None: one is a prefix of the other within max_length, no decision token
                gold_ids = a
                decisions.append((habit, at - 1, a[at], b[at]))
        if critic is None and decisions:
            inputs.append((gold_ids[: max(d[1] for d in decisions) + 1], decisions))
        else:
            inputs.extend((gold_ids[: d[1] + 1], [d]) for d in decisions)
    margins: dict[str, list[float]] = defaultdict(list)
    gaps: dict[str, list[float]] = defaultdict(list)
    head = student.model.get_output_embeddings()
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        ids, mask = left_pad([prefix for prefix, _ in chunk], student.pad_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        hidden = student.model.base_model(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
        advantages = critic.advantages(ids, mask, positions) if critic is not None else None
        for row, (prefix, decisions) in enumerate(chunk):
            offset = ids.shape[1] - len(prefix)  # left padding
            logp = torch.log_softmax(head(hidden[row, [offset + d[1] for d in decisions]]).float(), -1)
            for (habit, _, gold_token, habit_token), lp in zip(decisions, logp):
                margins[habit].append(float(lp[gold_token] - lp[habit_token]))
                if advantages is not None:
                    gaps[habit].append(float(advantages[row, gold_token] - advantages[row, habit_token]))
    out: dict[str, Any] = {}
    for habit in HABITS:
        if margins[habit]:
            out[habit] = {
                "n": len(margins[habit]),
                "policy_margin": sum(margins[habit]) / len(margins[habit]),
                "gold_preferred": sum(m > 0 for m in margins[habit]) / len(margins[habit]),
            }
            if gaps[habit]:
                out[habit]["advantage_gap"] = sum(gaps[habit]) / len(gaps[habit])
    return out


def necessary(world: WorldProblem, question: str) -> bool:
    """Whether ``question`` asks for a quantity the answer needs and the problem does not state: a needed derived
    quantity other than the target (the problem's own question asks for the target)."""
    return world.match(question) in world.needed() - {world.target}
