"""Build the configured parts of a run: data set and the three roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from distill.roles import Answerer, Judge, Teacher


@dataclass
class Parts:
    dataset: Any
    teacher: Teacher
    answerer: Answerer
    judge: Judge | None


def build_parts(cfg: DictConfig) -> Parts:
    return Parts(
        dataset=instantiate(cfg.dataset, _convert_="all"),
        teacher=instantiate(cfg.teacher, _convert_="all"),
        answerer=instantiate(cfg.answerer, _convert_="all"),
        judge=instantiate(cfg.judge, _convert_="all") if cfg.get("judge") else None,
    )
