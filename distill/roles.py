"""The three LLM roles as interfaces: decompose, answer, judge.

Any implementation (the synthetic oracle, an Anthropic model, a local Hugging Face model, a replay of
files) plays a role by having these methods; which one plays which role is Hydra configuration. All
methods take batches so that LLM clients can run requests concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from distill.problems import Problem


@dataclass
class Decomposition:
    subquestions: list[str]
    # the model's reply as it came, kept for inspection (and when it could not be parsed)
    raw_text: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    # set when no reply came (e.g. an API call failed after its retries): the problem stays undone
    error: str | None = None


@dataclass
class Answer:
    text: str
    usage: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Judgement:
    # per sub-question, the share of votes that found it useful
    usefulness: list[float]
    usage: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Teacher(Protocol):
    name: str

    def decompose(self, problems: list[Problem], n_samples: int) -> list[list[Decomposition]]:
        """``n_samples`` decompositions of each problem."""


class Answerer(Protocol):
    name: str

    def answer(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Answer]:
        """Answer each problem's sub-questions in order, then the problem ("Final answer: N")."""


class Judge(Protocol):
    name: str

    def judge(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Judgement]:
        """Usefulness in [0, 1] of each sub-question of each decomposition."""
