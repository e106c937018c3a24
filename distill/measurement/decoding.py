"""Batched, KV-cached generation for students.

Prompts are left-padded; positions come from the attention mask, so a padded row decodes exactly as it
would alone. A *scorer* turns each step's model outputs into next-token scores: plain log-probabilities
for a student, or log-probabilities plus a value-based advantage for ILQL (``distill.algorithms.ilql``).
"""

from __future__ import annotations

from typing import Protocol

import torch


class Scorer(Protocol):
    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor) -> torch.Tensor:
        """Scores over the vocabulary for the token after each (left-padded) prompt: [batch, vocab]."""

    def step(self, tokens: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        """Scores after appending ``tokens`` [batch] to every sequence, using the caches."""


class LMScorer:
    """Log-probabilities of one causal LM, with its KV cache; ``keep_hidden`` also keeps the last hidden state."""

    def __init__(self, model: torch.nn.Module, keep_hidden: bool = False) -> None:
        self.model = model
        self.keep_hidden = keep_hidden
        self.cache = None
        self.last_hidden: torch.Tensor | None = None

    def _run(self, **inputs) -> torch.Tensor:
        out = self.model(**inputs, cache=self.cache, use_cache=True, output_hidden_states=self.keep_hidden)
        self.cache = out.cache
        if self.keep_hidden:
            self.last_hidden = out.hidden_states[-1][:, -1]
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)

    def prefill(self, input_ids, attention_mask, position_ids):
        self.cache = None
        return self._run(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)

    def step(self, tokens, attention_mask, position_ids):
        return self._run(input_ids=tokens[:, None], attention_mask=attention_mask, position_ids=position_ids[:, None])


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt):] = 1
    return ids, mask


@torch.no_grad()
def decode_tokens(
    scorer: Scorer,
    prompts: list[list[int]],
    eos_id: int,
    pad_id: int,
    max_new_tokens: int = 64,
    sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Generated token ids for each prompt (EOS included when reached), greedy unless ``sample``."""
    ids, mask = left_pad(prompts, pad_id)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    scores = scorer.prefill(ids, mask, positions)
    next_position = positions[:, -1] + 1
    done = torch.zeros(len(prompts), dtype=torch.bool)
    outputs: list[list[int]] = [[] for _ in prompts]
    for _ in range(max_new_tokens):
        if sample:
            probs = torch.softmax(scores / temperature, dim=-1)
            tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        else:
            tokens = scores.argmax(-1)
        tokens = torch.where(done, torch.full_like(tokens, pad_id), tokens)
        for row in torch.nonzero(~done).flatten().tolist():
            outputs[row].append(int(tokens[row]))
        done |= tokens == eos_id
        if bool(done.all()):
            break
        # finished rows keep decoding (pad tokens, discarded) so that the batch stays rectangular
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        scores = scorer.step(tokens, mask, next_position)
        next_position = next_position + 1
    return outputs


@torch.no_grad()
def greedy_uncached(model: torch.nn.Module, prompt: list[int], eos_id: int, max_new_tokens: int = 64) -> list[int]:
    """Reference greedy decoding of one prompt, re-running the whole prefix each step (for tests)."""
    ids = list(prompt)
    out: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
        token = int(logits.argmax())
        out.append(token)
        ids.append(token)
        if token == eos_id:
            break
    return out
