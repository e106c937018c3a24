"""Paper-compatible answer extraction and scoring.

The paper (Tarasov & Shridhar 2024) takes the first number after ``final answer:`` (case-insensitive)
in the answerer's text and compares it, as a float, with the true answer. Its number pattern takes a
leading sign only for decimals and stops at a thousands comma ("1,000" reads as 1); we keep those
quirks so that our accuracies are comparable with the paper's (0.682 on its ChatGPT evaluation file).
"""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+|,\d+")
_MARKER = "final answer:"


def first_number(text: str) -> float | None:
    """The first number in ``text`` under the paper's pattern, or None."""
    match = _NUMBER.search(text)
    return float(match.group().replace(",", "")) if match else None


def extract_final_answer(text: str | None) -> float | None:
    """The predicted answer: the first number after ``final answer:``; None if there is none."""
    if not text:
        return None
    lowered = text.lower()
    start = lowered.find(_MARKER)
    if start < 0:
        return None
    return first_number(lowered[start + len(_MARKER) :])


def parse_true_answer(value: float | int | str | None) -> float | None:
    """A true answer given as a number, as GSM8K's "... #### 18", or as a numeric string."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    # the true answer is clean data: drop thousands separators before reading the number
    return first_number(value.rsplit("####", 1)[-1].replace(",", ""))


def is_correct(answerer_output: str | None, true_answer: float | None) -> bool:
    """Whether the answerer's final answer equals the true answer (float comparison, as the paper)."""
    predicted = extract_final_answer(answerer_output)
    if predicted is None or true_answer is None:
        return False
    return math.isclose(predicted, true_answer, rel_tol=0.0, abs_tol=1e-9)
