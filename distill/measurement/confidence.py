"""How sure a student is of its decomposition: scores that should predict whether its answer is right.

Every score is "higher = more confident", one value per problem:
- ``sequence_prob``, ``min_token_prob``, ``mean_token_prob``: exp of the sum, the minimum and the mean of
  the policy's log-probabilities of the tokens it generated (EOS included);
- ``agreement``: the share of ``n`` sampled decompositions whose final answer, through the answerer, equals
  the greedy decomposition's answer (an unanswered greedy decomposition agrees with nothing);
- ``answered``: 1 when the answerer gave a final answer to the greedy decomposition, 0 for "unknown";
- ``value``: the critic's V at the end of the prompt, for students that have one (value-guided objectives such as ILQL).

:func:`reliability` bins a score by its quantiles and gives each bin's mean score and observed accuracy
(the data of a reliability diagram).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from distill.core.contracts import Answerer, Critic, Problem
from distill.core.final_answer import extract_final_answer
from distill.measurement.decoding import left_pad
from distill.measurement.rows import decode_actions
from distill.students import Student


@torch.no_grad()
def action_logprobs(
    model: torch.nn.Module, prompts: list[list[int]], actions: list[list[int]], pad_id: int, batch_size: int = 64
) -> list[np.ndarray]:
    """The log-probability under ``model`` of each action token after its prompt (teacher-forced)."""
    model.eval()
    out: list[np.ndarray] = []
    for start in range(0, len(prompts), batch_size):
        seqs = [p + a for p, a in zip(prompts[start : start + batch_size], actions[start : start + batch_size])]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(seqs):  # right-padded: positions count from 0 in every row
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        logps = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
        token_logps = logps.gather(-1, ids[:, 1:, None]).squeeze(-1)
        for row, (prompt, action) in enumerate(
            zip(prompts[start : start + batch_size], actions[start : start + batch_size])
        ):
            out.append(token_logps[row, len(prompt) - 1 : len(prompt) - 1 + len(action)].numpy())
    return out


@torch.no_grad()
def prompt_values(student: Student, critic: Critic, problems: list[Problem], batch_size: int = 64) -> list[float]:
    """The critic's V(s) after the last prompt token of each problem."""
    values: list[float] = []
    for start in range(0, len(problems), batch_size):
        ids, mask = left_pad([student.prompt_ids(p.text) for p in problems[start : start + batch_size]], student.pad_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        values += critic.state_values(ids, mask, positions).tolist()
    return values


@dataclass
class Confidence:
    scores: dict[str, list[float]]
    # what each score costs beyond the greedy decoding: seconds of compute, and the usage of each answerer call
    seconds: dict[str, float] = field(default_factory=dict)
    answerer_usage: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def confidence_scores(
    student: Student,
    problems: list[Problem],
    actions: list[list[int]],
    answerer_outputs: list[str | None],
    answerer: Answerer,
    n_samples: int = 8,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    critic: Critic | None = None,
) -> Confidence:
    """Every score for the student's greedy ``actions`` (token ids) whose answers were ``answerer_outputs``."""
    start = time.perf_counter()
    prompts = [student.prompt_ids(p.text) for p in problems]
    token_logps = action_logprobs(student.model, prompts, actions, student.pad_id, batch_size)
    c = Confidence(
        {
            "sequence_prob": [float(np.exp(lp.sum())) for lp in token_logps],
            "min_token_prob": [float(np.exp(lp.min())) if len(lp) else 1.0 for lp in token_logps],
            "mean_token_prob": [float(np.exp(lp.mean())) if len(lp) else 1.0 for lp in token_logps],
        }
    )
    c.seconds = dict.fromkeys(c.scores, time.perf_counter() - start)  # one pass serves the three
    greedy = [extract_final_answer(text) for text in answerer_outputs]
    c.scores["answered"] = [float(a is not None) for a in greedy]
    c.seconds["answered"] = 0.0
    if n_samples > 0:
        generator = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        agree = np.zeros(len(problems))
        c.answerer_usage["agreement"] = []
        for i in range(n_samples):
            sample = decode_actions(
                student,
                problems,
                batch_size,
                sample=True,
                temperature=temperature,
                generator=generator,
                desc=f"sample {i + 1}/{n_samples}",
            )
            answers = answerer.answer(problems, [student.parse(a) for a in sample])
            c.answerer_usage["agreement"] += [a.usage for a in answers]
            agree += [g is not None and extract_final_answer(a.text) == g for g, a in zip(greedy, answers)]
        c.scores["agreement"] = (agree / n_samples).tolist()
        c.seconds["agreement"] = time.perf_counter() - start  # the answerer's time included
    if critic is not None:
        start = time.perf_counter()
        c.scores["value"] = prompt_values(student, critic, problems, batch_size)
        c.seconds["value"] = time.perf_counter() - start
    return c


def reliability(scores: list[float], correct: list[float], n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-count bins of a score (ties kept together): each bin's score range, mean score, accuracy and size."""
    order = np.argsort(scores, kind="stable")
    s, y = np.asarray(scores, dtype=float)[order], np.asarray(correct, dtype=float)[order]
    bins, start = [], 0
    for b in range(n_bins):
        end = round((b + 1) * len(s) / n_bins)
        while 0 < end < len(s) and s[end] == s[end - 1]:  # never split a run of equal scores
            end += 1
        if end > start:
            bins.append(
                {
                    "score_low": float(s[start]),
                    "score_high": float(s[end - 1]),
                    "score_mean": float(s[start:end].mean()),
                    "accuracy": float(y[start:end].mean()),
                    "n": int(end - start),
                }
            )
            start = end
    return bins
