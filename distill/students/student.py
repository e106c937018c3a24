"""A student: a causal LM, its tokenizer, and the episode layout it reads and writes.

Layout: ``[prompt tokens][separator][sub-question 1][delimiter]...[sub-question n][EOS]``. Each
sub-question ends with a terminator token (the delimiter, or EOS for the last one); the tokens after the
separator are the actions, the only ones trained on by default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

LAYOUT_FILE = "distill_student.json"


@dataclass
class Episode:
    input_ids: list[int]
    # 1 at action positions (the tokens the student generates), 0 on the prompt
    action_mask: list[int]
    # index, in input_ids, of the token that ends each sub-question (delimiter or EOS)
    terminators: list[int]


@dataclass
class Student:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    prefix: str = ""  # text before the problem
    separator: str = "[SEP]"  # between the problem and the first sub-question
    delimiter: str = "[DELIM]"  # between sub-questions
    max_length: int = 256
    name: str = "student"

    @property
    def eos_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, problem: str) -> list[int]:
        ids = self.encode(self.prefix + problem)
        sep = self.encode(self.separator)
        # keep the separator and the end of a long problem (the question is at the end)
        budget = self.max_length // 2 - len(sep)
        return ids[-budget:] + sep

    def episode(self, problem: str, subquestions: list[str]) -> Episode:
        prompt = self.prompt_ids(problem)
        delim = self.encode(self.delimiter)
        actions: list[int] = []
        terminators = []
        for i, question in enumerate(subquestions):
            actions += self.encode(question)
            actions += [self.eos_id] if i == len(subquestions) - 1 else delim
            terminators.append(len(prompt) + len(actions) - 1)
        if not subquestions:
            actions = [self.eos_id]
            terminators = [len(prompt)]
        ids = (prompt + actions)[: self.max_length]
        if len(ids) < len(prompt) + len(actions):  # truncated: keep whole-token bookkeeping honest
            terminators = [t for t in terminators if t < len(ids)]
        return Episode(ids, [0] * len(prompt) + [1] * (len(ids) - len(prompt)), terminators)

    def parse(self, action_ids: list[int]) -> list[str]:
        """Sub-questions from generated action tokens (up to the first EOS)."""
        if self.eos_id in action_ids:
            action_ids = action_ids[: action_ids.index(self.eos_id)]
        return [part.strip() for part in self._text(action_ids).split(self.delimiter) if part.strip()]

    def _text(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=True)
        for token in (self.tokenizer.pad_token, self.tokenizer.eos_token):
            if token:
                text = text.replace(token, " ")
        return text

    def subquestion_of_tokens(self, action_ids: list[int]) -> list[int | None]:
        """For each action token, the index (in :meth:`parse`'s list) of the sub-question it belongs to, its
        terminator included; None for tokens of no sub-question (an empty segment, anything after the EOS).
        Where the segments do not decode to exactly :meth:`parse`'s sub-questions (a delimiter spelt in other
        tokens than ``encode(delimiter)``), every token is None: no per-token claim is better than a wrong one."""
        delim = self.encode(self.delimiter)
        owner: list[int | None] = [None] * len(action_ids)
        questions, start = [], 0
        end = action_ids.index(self.eos_id) + 1 if self.eos_id in action_ids else len(action_ids)
        while start < end:
            stop = next(
                (
                    j
                    for j in range(start, end)
                    if action_ids[j : j + len(delim)] == delim or action_ids[j] == self.eos_id
                ),
                end,
            )
            terminator = len(delim) if action_ids[stop : stop + len(delim)] == delim else 1
            segment = self._text(action_ids[start:stop]).strip()
            if segment:
                last = min(stop + terminator, end)
                owner[start:last] = [len(questions)] * (last - start)
                questions.append(segment)
            start = stop + terminator
        return owner if questions == self.parse(action_ids) else [None] * len(action_ids)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        layout = dict(
            prefix=self.prefix,
            separator=self.separator,
            delimiter=self.delimiter,
            max_length=self.max_length,
            name=self.name,
        )
        (folder / LAYOUT_FILE).write_text(json.dumps(layout, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> Student:
        folder = Path(folder)
        if not (folder / LAYOUT_FILE).exists():
            raise FileNotFoundError(f"{folder} holds no saved student ({LAYOUT_FILE} is missing)")
        layout = json.loads((folder / LAYOUT_FILE).read_text())
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return cls(model, tokenizer, **layout)


def student_folder(path: str | Path) -> Path:
    """A saved student: the folder itself, or the ``student/`` folder of a training run."""
    path = Path(path)
    if (path / "student" / LAYOUT_FILE).exists():
        return path / "student"
    if (path / LAYOUT_FILE).exists():
        return path
    raise FileNotFoundError(f"{path}: expected a run folder with student/ or a saved student folder")
