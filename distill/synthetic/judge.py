"""The synthetic judge: is each sub-question useful?

A sub-question is useful if it asks for a quantity that the target needs (a derived ancestor of the
target, or the target), that the problem does not state, and that no earlier sub-question asked for.
Each of ``n_votes`` votes flips that verdict with probability ``noise`` (an imperfect LLM judge); the
score is the share of "useful" votes.

Judging only the questions asked cannot see a harmful skip: a decomposition that never asks for a needed
intermediate quantity leaves nothing to vote against. With ``check_missing`` the judge also votes, with
the same noise, on whether the decomposition misses a needed step (some needed quantity other than the
target is never asked); the share of "missing" votes goes to ``meta["missing_step"]``. The usefulness
votes are drawn first and are unchanged by it.
"""

from __future__ import annotations

import random

from distill.core.contracts import Judgement, Problem
from distill.synthetic.world import WorldProblem, world_of


def misses_a_step(world: WorldProblem, subquestions: list[str]) -> bool:
    """Whether some needed intermediate quantity (the target aside) is never asked for."""
    asked = {world.match(q) for q in subquestions}
    return any(i not in asked for i in world.needed() - {world.target})


def useful_flags(world: WorldProblem, subquestions: list[str]) -> list[bool]:
    needed = world.needed()
    asked: set[int] = set()
    flags = []
    for question in subquestions:
        index = world.match(question)
        flags.append(index is not None and index in needed and index not in asked)
        if index is not None:
            asked.add(index)
    return flags


class SyntheticJudge:
    def __init__(self, n_votes: int, noise: float, seed: int, check_missing: bool) -> None:
        if n_votes < 1 or not 0.0 <= noise <= 1.0:
            raise ValueError(f"need n_votes >= 1 and noise in [0, 1], got {n_votes}, {noise}")
        self.n_votes, self.noise, self.seed, self.check_missing = n_votes, noise, seed, check_missing
        self.name = f"synthetic-judge-noise{noise}"

    def judge(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Judgement]:
        judgements = []
        for problem, subquestions in zip(problems, decompositions):
            # seeded by content, so that the same decomposition always gets the same votes
            rng = random.Random(f"{self.seed}|{problem.problem_id}|{'|'.join(subquestions)}")
            world = world_of(problem)
            scores = [self._vote(rng, flag) for flag in useful_flags(world, subquestions)]
            meta = {"missing_step": self._vote(rng, misses_a_step(world, subquestions))} if self.check_missing else {}
            judgements.append(Judgement(scores, meta=meta))
        return judgements

    def _vote(self, rng: random.Random, truth: bool) -> float:
        """The share of ``n_votes`` noisy votes that say ``truth``'s verdict is true."""
        return sum(truth != (rng.random() < self.noise) for _ in range(self.n_votes)) / self.n_votes
