"""GSM8K problems, and the paper's GSM8K-AI-SubQ decompositions, read through a configurable path.

GSM8K comes from local JSONL files (``train.jsonl``, ``test.jsonl`` as released by OpenAI; the shared
data folder by default) or, for an online user, from the Hugging Face hub (``openai/gsm8k``). The true
answer is the number after ``####``. GSM8K has no validation split: ``validation`` is the last
``validation_size`` training problems, which ``train`` then leaves out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distill.core.contracts import Problem, check_limit
from distill.core.final_answer import parse_true_answer
from distill.core.records import Record, problem_id_for, read_records

SPLITS = ("train", "validation", "test")


def gsm8k_answer(solution: str) -> float | None:
    """The number after ``####`` in a GSM8K solution ("#### 1,000" -> 1000.0)."""
    if "####" not in solution:
        return None
    return parse_true_answer(solution.split("####")[-1].strip())


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _holdout(items: list, split: str, validation_size: int) -> list:
    """train / validation from one list: validation is its last ``validation_size`` items."""
    if split == "validation":
        return items[len(items) - validation_size :] if validation_size else []
    if split == "train" and validation_size:
        return items[: len(items) - validation_size]
    return items


class NoStructure:
    """The part of the data set contract for data without a known decomposition structure (real problems):
    no baselines of its own, no diagnostics beyond accuracy, no decision points."""

    def baselines(self) -> dict[str, Any]:
        return {}

    def diagnostics(
        self, problems: list[Problem], decompositions: list[list[str]], correct: list[float]
    ) -> dict[str, Any]:
        return {}

    def policy_diagnostics(self, student: Any, problems: list[Problem], critic: Any) -> None:
        return None


class GSM8KDataset(NoStructure):
    def __init__(
        self,
        data_dir: str | None,
        source: str = "local",
        hub_name: str = "openai/gsm8k",
        hub_config: str = "main",
        split: str = "test",
        limit: int | None = None,
        validation_size: int = 200,
    ):
        if source not in ("local", "hub"):
            raise ValueError(f"dataset.source must be 'local' or 'hub', not {source!r}")
        self.data_dir = Path(data_dir) if data_dir else None
        self.source, self.hub_name, self.hub_config = source, hub_name, hub_config
        self.split, self.limit, self.validation_size = split, check_limit(limit), validation_size
        self.name = "gsm8k"
        self.splits = SPLITS

    def _rows(self, file_split: str) -> list[dict[str, Any]]:
        if self.source == "hub":
            from datasets import load_dataset

            return list(load_dataset(self.hub_name, self.hub_config, split=file_split))
        path = self.data_dir / f"{file_split}.jsonl"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: set dataset.data_dir (or paths.data_dir / DISTILL_DATA_DIR) to a folder "
                "with GSM8K's train.jsonl and test.jsonl, or use dataset.source=hub online"
            )
        with path.open() as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def load(self, split: str | None = None) -> list[Problem]:
        """The problems of a split (``self.split`` by default), at most ``limit`` of them."""
        split = split or self.split
        _check_split(split)
        rows = _holdout(self._rows("test" if split == "test" else "train"), split, self.validation_size)
        problems = [Problem(problem_id_for(r["question"]), r["question"], gsm8k_answer(r["answer"])) for r in rows]
        return problems[: self.limit] if self.limit is not None else problems

    def records(self, split: str | None = None) -> None:
        """GSM8K has no decompositions: a teacher makes them."""
        return None


class GSM8KAISubQDataset(NoStructure):
    """The paper's released decompositions (``qg_{split}_dataset.jsonl`` or ``qg_{split}_data_raw.jsonl``).

    ``records(split)`` gives the decompositions with their rewards, which ``distill.train`` trains on
    (and scores as the LLM's row on the test split); ``load(split)`` gives the problems. The training
    split is not shipped here: download it into ``data_dir``.

    The released ``qg_test_dataset.jsonl`` cuts 14 true answers at their thousands comma ("2,125" -> 2);
    with ``gsm8k_dir`` set, true answers come from GSM8K's own files instead (rewards stay as released).
    """

    def __init__(
        self,
        data_dir: str,
        gsm8k_dir: str | None,
        split: str = "test",
        limit: int | None = None,
        validation_size: int = 200,
        teacher_name: str = "gsm8k-ai-subq",
    ):
        self.data_dir = Path(data_dir)
        self.gsm8k_dir = gsm8k_dir
        self.split, self.limit, self.validation_size = split, check_limit(limit), validation_size
        self.teacher_name = teacher_name
        self.name = "gsm8k_ai_subq"
        self.splits = SPLITS

    def _file(self, file_split: str) -> Path:
        # the dataset file when it is there and not empty, else the raw file
        candidates = [
            self.data_dir / f"qg_{file_split}_dataset.jsonl",
            self.data_dir / f"qg_{file_split}_data_raw.jsonl",
        ]
        for path in candidates:
            if path.exists() and path.stat().st_size > 0:
                return path
        raise FileNotFoundError(
            f"none of {', '.join(map(str, candidates))} exists (non-empty): download the "
            "paper's files (DT6A/GSM8K-AI-SubQ) into dataset.data_dir"
        )

    def records(self, split: str | None = None) -> list[Record]:
        split = split or self.split
        _check_split(split)
        records = read_records(self._file("test" if split == "test" else "train"))
        ids = list(dict.fromkeys(r.problem_id for r in records))  # problems in file order
        held = _holdout(ids, split, self.validation_size)
        keep = set(held if self.limit is None else held[: self.limit])
        truth = {}
        if self.gsm8k_dir:
            gsm8k = GSM8KDataset(self.gsm8k_dir, validation_size=0)
            truth = {p.problem_id: p.true_answer for p in gsm8k.load("test" if split == "test" else "train")}
        for r in records:
            r.teacher = r.teacher or self.teacher_name
            r.true_answer = truth.get(r.problem_id, r.true_answer)
        return [r for r in records if r.problem_id in keep]

    def load(self, split: str | None = None) -> list[Problem]:
        problems = {}
        for r in self.records(split):
            problems.setdefault(r.problem_id, Problem(r.problem_id, r.problem, r.true_answer))
        return list(problems.values())
