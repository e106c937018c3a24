"""The synthetic data set: splits of generated problems, as ``dataset=synthetic`` (world v2) and
``dataset=synthetic_v1`` build it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from distill.core.contracts import Critic, Problem, Teacher, check_limit
from distill.core.errors import UsageError
from distill.synthetic.decisions import decision_token_margins, world_diagnostics
from distill.synthetic.teacher import SURFACE_RULES, GoldTeacher, NoQuestions, RuleTeacher
from distill.synthetic.world import SPLIT_BUCKETS, SyntheticProblem, WorldConfig, generate_split
from distill.synthetic.world_v2 import GraphWorldConfig

if TYPE_CHECKING:
    from distill.students import Student


class SyntheticDataset:
    def __init__(
        self,
        sizes: dict[str, int],
        world: dict[str, Any] | WorldConfig | GraphWorldConfig,
        seed: int = 0,
        split: str = "test",
        limit: int | None = None,
        ood_min_steps: int | None = None,
        ood_max_steps: int | None = None,
        name: str | None = None,
    ) -> None:
        self.seed, self.split, self.limit = seed, split, check_limit(limit)
        self.sizes = dict(sizes)  # problems per split (conf/dataset/synthetic.yaml)
        # world v2's GraphWorldConfig (instantiated by Hydra), or world v1's knobs (knobs not given keep defaults)
        self.world = WorldConfig(**world) if isinstance(world, Mapping) else world
        # the out-of-distribution split: the same world with more operations than any other split's problem
        # (by default the two counts above the world's max_steps)
        low = ood_min_steps or self.world.max_steps + 1
        self.ood_world = dataclasses.replace(self.world, min_steps=low, max_steps=ood_max_steps or low + 1)
        self.name = name or self.world.name  # a ladder level names itself (conf/dataset/synthetic_<level>.yaml)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(sorted(SPLIT_BUCKETS))

    def load(self, split: str | None = None) -> list[SyntheticProblem]:
        """The problems of a split (``self.split`` by default), at most ``limit`` of them."""
        split = split or self.split
        if split not in SPLIT_BUCKETS:
            raise UsageError(f"unknown split {split!r} for dataset=synthetic; valid splits: {self.splits}")
        n = self.sizes[split] if self.limit is None else min(self.limit, self.sizes[split])
        return generate_split(split, n, self.seed, self.ood_world if split == "ood" else self.world)

    def records(self, split: str | None = None) -> None:
        """No decompositions of its own: the synthetic teacher makes them."""
        return None

    def baselines(self) -> dict[str, Teacher]:
        """Each surface rule (``rule_<name>``; results add their best as ``rule``), the gold decomposition and no
        decomposition (the answerer alone): every report shows them through the configured answerer."""
        rules = {f"rule_{name}": RuleTeacher(name, name=f"rule_{name}") for name in SURFACE_RULES}
        return {**rules, "gold": GoldTeacher(), "none": NoQuestions()}

    def diagnostics(
        self, problems: list[Problem], decompositions: list[list[str]], correct: list[float]
    ) -> dict[str, Any]:
        """Decision points per habit, accuracy by chain length, garbled share (``synthetic.decisions``)."""
        return world_diagnostics(problems, decompositions, correct) or {}

    def policy_diagnostics(
        self, student: Student, problems: list[Problem], critic: Critic | None
    ) -> dict[str, Any] | None:
        """The policy's (and critic's) preference for the gold branch at each habit's decision token."""
        return decision_token_margins(student, problems, critic)
