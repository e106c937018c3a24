"""The synthetic data set: splits of generated problems, as ``dataset=synthetic`` builds it."""

from __future__ import annotations

import dataclasses
from typing import Any

from distill.problems import Problem
from distill.synthetic.world import SPLIT_BUCKETS, WorldConfig, generate_split


class SyntheticDataset:
    def __init__(
        self,
        seed: int = 0,
        split: str = "train",
        limit: int | None = None,
        sizes: dict[str, int] | None = None,
        world: dict[str, Any] | None = None,
        ood_min_steps: int = 5,
        ood_max_steps: int = 6,
    ) -> None:
        self.seed, self.split, self.limit = seed, split, limit
        self.sizes = {"train": 2000, "validation": 200, "test": 500, "ood": 300, **(sizes or {})}
        self.world = WorldConfig(**(world or {}))
        # the out-of-distribution split: the same world with longer chains than the others
        self.ood_world = dataclasses.replace(self.world, min_steps=ood_min_steps, max_steps=ood_max_steps)
        self.name = "synthetic"

    @property
    def splits(self) -> list[str]:
        return sorted(SPLIT_BUCKETS)

    def load(self, split: str | None = None) -> list[Problem]:
        """The problems of a split (``self.split`` by default), at most ``limit`` of them."""
        split = split or self.split
        if split not in SPLIT_BUCKETS:
            raise ValueError(f"unknown split {split!r} for dataset=synthetic; valid splits: {self.splits}")
        n = self.sizes[split] if self.limit is None else min(self.limit, self.sizes[split])
        return generate_split(split, n, self.seed, self.ood_world if split == "ood" else self.world)
