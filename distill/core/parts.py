"""Build the configured parts of a run: the data set and the three roles, each checked against its contract."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.utils import instantiate
from omegaconf import DictConfig

from distill.core.contracts import Answerer, Dataset, Judge, Teacher, require


@dataclass
class Parts:
    dataset: Dataset
    teacher: Teacher
    answerer: Answerer
    judge: Judge | None


def build_parts(cfg: DictConfig) -> Parts:
    """From the ``dataset``, ``teacher``, ``answerer`` and (optional) ``judge`` config groups."""
    return Parts(
        dataset=require(instantiate(cfg.dataset, _convert_="all"), Dataset, "dataset"),
        teacher=require(instantiate(cfg.teacher, _convert_="all"), Teacher, "teacher"),
        answerer=require(instantiate(cfg.answerer, _convert_="all"), Answerer, "answerer"),
        judge=require(instantiate(cfg.judge, _convert_="all"), Judge, "judge") if cfg.get("judge") else None,
    )
