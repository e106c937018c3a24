"""Batched, KV-cached generation for students.

Prompts are left-padded; positions come from the attention mask, so a padded row decodes exactly as it
would alone. A *scorer* turns each step's model outputs into next-token scores: plain log-probabilities
for a student, or log-probabilities plus a value-based advantage for ILQL (``distill.algorithms.ilql``).
"""

from __future__ import annotations

from typing import Protocol

import torch

from distill.measurement.llama_decoder import LlamaDecoder, supports


class Scorer(Protocol):
    """Built over a model's current weights; decodes one batch after another (weights fixed meanwhile)."""

    def prefill(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        """Scores over the vocabulary for the token after each (left-padded) prompt: [batch, vocab]; starts a
        new batch (the previous one's caches are dropped)."""

    def step(self, tokens: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        """Scores after appending ``tokens`` [batch] to every sequence, using the caches."""

    def repeat(self, repeats: int) -> None:
        """Each row of the caches ``repeats`` times in place, row i's copies next to each other (after a prefill:
        several samples of one prompt share its prefill). Only scorers decoded with ``repeats`` > 1 need it."""

    def keep(self, rows: torch.Tensor) -> None:
        """Only ``rows`` (indices into the current batch, in order) stay in the caches: finished rows leave."""


class LMScorer:
    """Log-probabilities of one causal LM, with its KV cache; ``keep_hidden`` also keeps the last hidden state.

    Llama students decode through ``LlamaDecoder`` (the same numbers, less per-token work); other models
    through their Transformers forward.
    """

    def __init__(self, model: torch.nn.Module, keep_hidden: bool = False) -> None:
        self.model = model
        self.keep_hidden = keep_hidden
        self.fast = LlamaDecoder(model) if supports(model) else None
        self.cache = None
        self.last_hidden: torch.Tensor | None = None

    def _run(self, **inputs) -> torch.Tensor:
        out = self.model(**inputs, cache=self.cache, use_cache=True, output_hidden_states=self.keep_hidden)
        self.cache = out.cache
        if self.keep_hidden:
            self.last_hidden = out.hidden_states[-1][:, -1]
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)

    def _fast(self, logits: torch.Tensor) -> torch.Tensor:
        self.last_hidden = self.fast.last_hidden if self.keep_hidden else None
        return torch.log_softmax(logits.float(), dim=-1)

    def prefill(self, input_ids, attention_mask, position_ids):
        if self.fast:
            return self._fast(self.fast.prefill(input_ids, attention_mask, position_ids))
        self.cache = None
        return self._run(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)

    def step(self, tokens, attention_mask, position_ids):
        if self.fast:
            return self._fast(self.fast.step(tokens, attention_mask, position_ids))
        return self._run(input_ids=tokens[:, None], attention_mask=attention_mask, position_ids=position_ids[:, None])

    def repeat(self, repeats: int) -> None:
        if self.fast:
            self.fast.repeat(repeats)  # repeats its last hidden state too
            self.last_hidden = self.fast.last_hidden if self.keep_hidden else None
            return
        self.cache.batch_repeat_interleave(repeats)
        if self.last_hidden is not None:
            self.last_hidden = self.last_hidden.repeat_interleave(repeats, dim=0)

    def keep(self, rows: torch.Tensor) -> None:
        if self.fast:
            self.fast.keep(rows)
            self.last_hidden = self.fast.last_hidden if self.keep_hidden else None
            return
        self.cache.batch_select_indices(rows)
        if self.last_hidden is not None:
            self.last_hidden = self.last_hidden[rows]


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt) :] = 1
    return ids, mask


@torch.inference_mode()  # less work per operation than no_grad (no version counters, no autograd state)
def decode_tokens(
    scorer: Scorer,
    prompts: list[list[int]],
    eos_id: int,
    pad_id: int,
    max_new_tokens: int = 64,
    sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    repeats: int = 1,
) -> list[list[int]]:
    """Generated token ids for each prompt (EOS included when reached), greedy unless ``sample``. With ``repeats``
    > 1, that many decodes of each prompt (rows i x repeats to (i + 1) x repeats - 1), the prompt prefilled once."""
    ids, mask = left_pad(prompts, pad_id)
    width = ids.shape[1]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    scores = scorer.prefill(ids, mask, positions)
    if repeats > 1:
        scorer.repeat(repeats)
        scores, mask, positions = (t.repeat_interleave(repeats, dim=0) for t in (scores, mask, positions))
    rows = len(prompts) * repeats
    # the mask of every step is a prefix of one tensor: no per-step concatenation
    mask = torch.cat([mask, torch.ones(rows, max_new_tokens, dtype=mask.dtype)], dim=-1)
    next_position = positions[:, -1] + 1
    # finished rows leave the batch (and the caches) once they are an eighth of it: copying the caches costs about
    # a step's attention, so one copy per finished row would cost more than decoding a few dead rows along
    batch = torch.arange(rows)  # the rows in the batch, in order
    going = list(range(rows))  # the batch's rows that have not reached EOS
    outputs: list[list[int]] = [[] for _ in range(rows)]
    for step in range(max_new_tokens):
        if sample:
            probs = torch.softmax(scores / temperature, dim=-1)
            if len(going) < rows:
                # draw for every row, finished ones on a dummy distribution: each row's draws are then those of
                # the whole batch (multinomial draws row by row), whenever the other rows finished
                full = probs.new_zeros(rows, probs.shape[-1])
                full[:, pad_id] = 1
                full[batch[going]] = probs[going]
                probs = full
            tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            if len(batch) < rows:
                tokens = tokens[batch]
        else:
            tokens = scores.argmax(-1)
        batch_rows, batch_tokens = batch.tolist(), tokens.tolist()
        for i in going:
            outputs[batch_rows[i]].append(batch_tokens[i])
        going = [i for i in going if batch_tokens[i] != eos_id]
        if not going:
            break
        if len(batch) - len(going) >= max(1, len(batch) // 8):
            index = torch.tensor(going)
            scorer.keep(index)
            batch, tokens, mask, next_position = batch[index], tokens[index], mask[index], next_position[index]
            going = list(range(len(going)))
        scores = scorer.step(tokens, mask[:, : width + step + 1], next_position + step)
    return outputs
