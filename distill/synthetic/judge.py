"""The synthetic judge: is each sub-question useful?

A sub-question is useful if it asks for a quantity that the target needs (a derived ancestor of the
target, or the target), that the problem does not state, and that no earlier sub-question asked for.
Each of ``n_votes`` votes flips that verdict with probability ``noise`` (an imperfect LLM judge); the
score is the share of "useful" votes.
"""

from __future__ import annotations

import random

from distill.core.contracts import Judgement, Problem
from distill.synthetic.world import WorldProblem, world_of


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
    def __init__(self, n_votes: int = 3, noise: float = 0.1, seed: int = 0) -> None:
        if n_votes < 1 or not 0.0 <= noise <= 1.0:
            raise ValueError(f"need n_votes >= 1 and noise in [0, 1], got {n_votes}, {noise}")
        self.n_votes, self.noise, self.seed = n_votes, noise, seed
        self.name = f"synthetic-judge-noise{noise}"

    def judge(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Judgement]:
        judgements = []
        for problem, subquestions in zip(problems, decompositions):
            # seeded by content, so that the same decomposition always gets the same votes
            rng = random.Random(f"{self.seed}|{problem.problem_id}|{'|'.join(subquestions)}")
            scores = []
            for flag in useful_flags(world_of(problem), subquestions):
                votes = [flag != (rng.random() < self.noise) for _ in range(self.n_votes)]
                scores.append(sum(votes) / self.n_votes)
            judgements.append(Judgement(scores))
        return judgements
