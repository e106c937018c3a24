"""The synthetic answerer: a solver of strength ``k`` that works through sub-questions in order.

It knows the quantities stated in the problem. A sub-question that names a quantity it can compute
from known ones with at most ``k`` operations is answered, and that quantity becomes known; anything
else is answered "unknown". Then it answers the problem's own question the same way. ``k = 1`` is a weak
solver for which decomposition is everything; a very large ``k`` makes decomposition irrelevant.

It can also be wrong, not only abstain, in the ways LLM answerers are (all off by default, world v1's answerer):

- ``distraction``: each sub-question about a quantity the target does not need, or a repeated one, makes it
  carry that quantity's value into its next computation (or its final answer) with this probability;
- ``misread``: each sub-question that names no quantity of the problem (a garbled name or item) makes it
  answer for the wrong entity, with this probability: it states a value and carries it on, as a distraction;
- ``slip``: each operation beyond the first in one computation goes wrong with this probability (a k >= 2
  answerer resolving a skipped step);
- ``guess``: when it cannot resolve the final question, it guesses a number with this probability instead of
  answering "unknown".

A value computed from a wrong one is wrong. Every draw comes from a stream seeded by (seed, problem id, the
sub-questions), so an answer is a pure function of its inputs and the oracle still knows the truth. With
``noise="question"`` each sub-question draws from a stream of its own, seeded by (seed, problem id, its text, how often
it was asked before), and the final step from one seeded by (seed, problem id): removing a question then leaves every
other question's luck as it was, so a counterfactual (``distill.measurement.step_credit``) measures what that
question changes, not a fresh draw of the rest (common random numbers). Its answers differ from the default's draw
by draw, not in distribution.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from distill.core.contracts import Answer, Problem
from distill.synthetic.world import WorldProblem, world_of


def solve(
    world: WorldProblem,
    subquestions: list[str],
    k: int,
    distraction: float = 0.0,
    misread: float = 0.0,
    slip: float = 0.0,
    guess: float = 0.0,
    stream: Callable[[str], random.Random] | None = None,
) -> str:
    """The answerer's transcript in the paper's format ("A1: ...\\n\\nFinal answer: N"). Each sub-question
    draws from ``stream("<text>#<times asked before>")``, the final step from ``stream("final")`` (by default one
    stream for all, seeded 0)."""
    stream = stream or (lambda key, one=random.Random(0): one)
    relevant = world.ancestors(world.target) | {world.target}
    held = {i: world.quantities[i].value for i in world.given_indices()}  # the values it holds, right or not
    carried: int | None = None  # a value it will wrongly use in its next computation
    lines = []
    rng = stream("final")  # (each sub-question's below, then the final step's again)

    def compute(index: int) -> int:
        """Its value for ``index``: wrong if an input was, if it carries a value, or if it slips beyond one op."""
        nonlocal carried
        value = world.quantities[index].value
        inputs_right = all(held[d] == world.quantities[d].value for d in world.ancestors(index) if d in held)
        slipped = any(rng.random() < slip for _ in range(world.ops_to_resolve(index, set(held)) - 1))
        if not inputs_right or carried is not None or slipped:
            value = wrong_value(value, carried, rng)
        carried = None
        return value

    for i, question in enumerate(subquestions, 1):
        rng = stream(f"{question}#{subquestions[: i - 1].count(question)}")
        index = world.match(question)
        if index is None:  # misread: it answers for some other entity of the problem, and carries that on
            other = world.quantities[rng.randrange(len(world.quantities))] if rng.random() < misread else None
            carried = other.value if other else carried
            lines.append(f"A{i}: {other.person} has {other.value} {other.item}." if other else f"A{i}: unknown")
            continue
        repeated = index in held and not world.quantities[index].given
        if index not in held:
            if world.ops_to_resolve(index, set(held)) > k:
                lines.append(f"A{i}: unknown")
                continue
            held[index] = compute(index)
        if (index not in relevant or repeated) and rng.random() < distraction:
            carried = world.quantities[index].value
        q = world.quantities[index]
        lines.append(f"A{i}: {q.person} has {held[index]} {q.item}.")
    rng = stream("final")
    if world.target in held and carried is None:
        final = str(held[world.target])
    elif world.ops_to_resolve(world.target, set(held)) <= k:
        final = str(compute(world.target))
    elif rng.random() < guess:
        final = str(wrong_value(world.answer, None, rng))
    else:
        final = "unknown"
    return "\n".join(lines) + ("\n\n" if lines else "") + f"Final answer: {final}"


def wrong_value(true: int, carried: int | None, rng: random.Random) -> int:
    """A wrong value: the carried one where it differs, else the true one off by a little; never the truth."""
    value = carried if carried is not None and carried != true else true + rng.choice([-3, -2, -1, 1, 2, 3])
    return value if value >= 1 and value != true else true + 1


NOISE = ("decomposition", "question")  # what one random stream covers: a whole answer, or one sub-question


class SyntheticAnswerer:
    # no defaults: conf/answerer/synthetic.yaml (world v2) and synthetic_v1.yaml (never wrong) set every rate
    def __init__(
        self,
        k: int,
        distraction: float,
        misread: float,
        slip: float,
        guess: float,
        seed: int,
        noise: str = "decomposition",
    ) -> None:
        if k < 1:
            raise ValueError(f"answerer strength k must be >= 1, got {k}")
        rates = dict(distraction=distraction, misread=misread, slip=slip, guess=guess)
        bad = {name: v for name, v in rates.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"answerer rates must lie in [0, 1]: {bad}")
        if noise not in NOISE:
            raise ValueError(f"answerer.noise={noise!r}; valid: {', '.join(NOISE)}")
        self.k, self.seed, self.noise = k, seed, noise
        self.distraction, self.misread, self.slip, self.guess = distraction, misread, slip, guess
        fallible = any(rates.values())
        self.name = f"synthetic-k{k}" + ("-fallible" if fallible else "")

    def answer(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Answer]:
        rates = (self.distraction, self.misread, self.slip, self.guess)
        return [
            Answer(solve(world_of(p), d, self.k, *rates, self.stream(p, d))) for p, d in zip(problems, decompositions)
        ]

    def stream(self, problem: Problem, questions: list[str]) -> Callable[[str], random.Random]:
        """The random stream of each step of one answer: one for the whole answer, seeded by the problem and its
        sub-questions; or (``noise="question"``) one per step, seeded by the problem and the step's key."""
        if self.noise == "decomposition":
            one = random.Random(f"{self.seed}|{problem.problem_id}|{'|'.join(questions)}")
            return lambda key: one
        made: dict[str, random.Random] = {}
        return lambda key: made.setdefault(key, random.Random(f"{self.seed}|{problem.problem_id}|{key}"))

    def redrawn(self, draw: int) -> SyntheticAnswerer:
        """The same answerer with independent luck: draw 0 is itself, draw m another seed (step credit averaged
        over draws, ``distill.measurement.step_credit``)."""
        rates = dict(distraction=self.distraction, misread=self.misread, slip=self.slip, guess=self.guess)
        return SyntheticAnswerer(self.k, **rates, seed=self.seed + 1_000_003 * draw, noise=self.noise)
