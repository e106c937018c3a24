"""The contracts between the parts of a run: the problem and result types, and the protocols that a data
set, the three LLM roles (decompose, answer, judge) and a training objective fulfil.

Any implementation plays a part by having these methods (structural typing, checked by the type checker
and, where a config chooses the class, at run time by :func:`require`); which one plays which part is
Hydra configuration. Role methods take batches so that LLM clients can run requests concurrently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from distill.core.records import Record
    from distill.measurement.decoding import Scorer
    from distill.students import Student

# The splits every data set has: training problems (the teacher decomposes them) and validation problems
# (decoded during training to select the checkpoint). Others (test, ood) are the data set's own.
TRAIN, VALIDATION = "train", "validation"


@dataclass
class Problem:
    problem_id: str
    text: str
    true_answer: float | None


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


@runtime_checkable
class Dataset(Protocol):
    name: str
    splits: tuple[str, ...]  # the splits ``load`` knows, ``TRAIN`` and ``VALIDATION`` among them

    def load(self, split: str) -> list[Problem]:
        """The problems of a split."""

    def records(self, split: str) -> list[Record] | None:
        """The data set's own decompositions of a split with their rewards (the paper's files), or None
        when it has none and a teacher must decompose its problems."""

    def baselines(self) -> dict[str, Teacher]:
        """Decomposers that every report shows beside the teacher, through the same answerer (the synthetic
        world: its text rule and its gold decomposition); empty when the data set has none."""

    def diagnostics(
        self, problems: list[Problem], decompositions: list[list[str]], correct: list[float]
    ) -> dict[str, Any]:
        """Metrics that the data set's own structure allows beside accuracy (the synthetic world: the
        teacher's decision points, accuracy by chain length, garbled share); empty when it has none."""

    def policy_diagnostics(
        self, student: Student, problems: list[Problem], critic: Critic | None
    ) -> dict[str, Any] | None:
        """How the student's policy (and critic, if any) score the data set's known decision points, or None
        when it knows none."""


@runtime_checkable
class Teacher(Protocol):
    name: str

    def decompose(self, problems: list[Problem], n_samples: int) -> list[list[Decomposition]]:
        """``n_samples`` decompositions of each problem."""


@runtime_checkable
class Answerer(Protocol):
    name: str

    def answer(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Answer]:
        """Answer each problem's sub-questions in order, then the problem ("Final answer: N")."""


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Judgement]:
        """Usefulness in [0, 1] of each sub-question of each decomposition."""


# A label ("greedy", "beta=1") and a factory of the decoding scorer it names (a decoding pass over a set of
# problems builds one scorer and uses it for every batch; each batch's prefill starts afresh).
ScorerFactories = dict[str, Callable[[], "Scorer"]]


@runtime_checkable
class Critic(Protocol):
    """The learned values of a value-guided student, for confidence scores and diagnostics."""

    def advantages(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """A(s, a) for every token a, in the state after each row's last token ([batch, vocabulary])."""

    def state_values(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """V(s) in the state after each row's last token ([batch])."""


@runtime_checkable
class Objective(Protocol):
    """A training objective: a LightningModule (``training_step``, ``configure_optimizers``, ...) that
    also says how records become its training items, how its student decodes, and what it saves.

    ``student_only``: training changes the student and nothing else, and the student decodes alone (BC,
    Filtered BC, AWR, DPO). A from-scratch run of such an objective is the same training as a first stage of
    its config, so runs share it through the stage cache. False when the objective trains more than the
    student (ILQL's value model)."""

    student_only: ClassVar[bool]

    def make_items(self, student: Student, records: list[Record]) -> list[dict[str, list]]:
        """Training items (equal-length lists: ``input_ids``, ``action_mask``, any per-token extras)."""

    def scorers(self, student: Student, betas: list[float] | None = None) -> ScorerFactories:
        """The decodings to evaluate, the main one first: greedy for a policy; one per ``beta`` for a
        value-guided objective (``None``: its own beta)."""

    def save_extras(self, folder: Path) -> None:
        """Anything beyond the student that evaluation needs later (e.g. ILQL's value model)."""

    @classmethod
    def saved_decoding(
        cls, folder: Path, student: Student, betas: list[float] | None, top_k: int | None
    ) -> tuple[ScorerFactories, Critic | None]:
        """The decodings (as ``scorers``) and critic of a student this objective trained, rebuilt from
        ``folder`` where ``save_extras`` wrote beside it (``top_k``: None keeps the trained setting)."""

    def critic(self) -> Critic | None:
        """The trained critic of a value-guided objective, or None."""


@runtime_checkable
class OnlineObjective(Objective, Protocol):
    """An objective that learns from the student's own samples, scored by the answerer during training (GRPO).
    ``fit`` binds it before training: the student (tokenizer, decoding), the answerer, the training problems, and
    the data set whose ``diagnostics`` it may log (``None`` in tests that bind bare problems)."""

    def bind(
        self, student: Student, answerer: Answerer, problems: list[Problem], dataset: Dataset | None = None
    ) -> None:
        """Keep what rollouts need."""


def check_limit(limit: int | None) -> int | None:
    """A data set's ``limit``: None (every problem) or a positive count; anything else is a config error."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"dataset.limit must be a positive number of problems or null (all), got {limit!r}")
    return limit


def require(obj: Any, contract: type, what: str) -> Any:
    """``obj`` if it fulfils ``contract``, else a TypeError naming what is missing (for configured classes)."""
    if not isinstance(obj, contract):
        members = [*getattr(contract, "__annotations__", {}), *(n for n in vars(contract) if not n.startswith("_"))]
        missing = [name for name in dict.fromkeys(members) if not hasattr(obj, name)]
        raise TypeError(f"{what} {type(obj).__name__} is not a {contract.__name__}: missing {', '.join(missing)}")
    return obj
