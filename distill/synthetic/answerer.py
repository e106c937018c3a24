"""The synthetic answerer: a solver of strength ``k`` that works through sub-questions in order.

It knows the quantities stated in the problem. A sub-question that names a quantity it can compute
from known ones with at most ``k`` operations is answered, and that quantity becomes known; anything
else is answered "unknown". Then it answers the problem's own question the same way. ``k = 1`` is a weak
solver for which decomposition is everything; a very large ``k`` makes decomposition irrelevant.
"""

from __future__ import annotations

from distill.core.contracts import Answer, Problem
from distill.synthetic.world import WorldProblem, world_of


def solve(world: WorldProblem, subquestions: list[str], k: int) -> str:
    """The answerer's transcript in the paper's format ("A1: ...\\n\\nFinal answer: N")."""
    known = world.given_indices()
    lines = []
    for i, question in enumerate(subquestions, 1):
        index = world.match(question)
        if index is None or world.ops_to_resolve(index, known) > k:
            lines.append(f"A{i}: unknown")
            continue
        known.add(index)
        q = world.quantities[index]
        lines.append(f"A{i}: {q.person} has {q.value} {q.item}.")
    if world.ops_to_resolve(world.target, known) <= k:
        final = str(world.answer)
    else:
        final = "unknown"
    return "\n".join(lines) + ("\n\n" if lines else "") + f"Final answer: {final}"


class SyntheticAnswerer:
    def __init__(self, k: int = 1) -> None:
        if k < 1:
            raise ValueError(f"answerer strength k must be >= 1, got {k}")
        self.k = k
        self.name = f"synthetic-k{k}"

    def answer(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Answer]:
        return [Answer(solve(world_of(p), d, self.k)) for p, d in zip(problems, decompositions)]
