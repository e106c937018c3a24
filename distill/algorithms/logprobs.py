"""Log-probabilities of a student's action tokens, shared by every objective: the masked NLL of BC, the
per-token and per-sequence log-probabilities of AWR and DPO, and a frozen reference policy's sequence
log-probabilities for objectives that compare the student with where it started (DPO and its relatives)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from distill.training.episodes import collate


def masked_nll(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the tokens, weighted by ``mask`` (1 on the tokens that count, or any
    non-negative weight; position t predicts token t + 1)."""
    targets = input_ids[:, 1:]
    weights = mask[:, 1:].float()
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), reduction="none")
    return (nll.view_as(weights) * weights).sum() / weights.sum().clamp(min=1e-8)


def action_logps(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 action_mask: torch.Tensor) -> torch.Tensor:
    """log p(token t + 1 | tokens up to t) where token t + 1 is an action, 0 elsewhere ([batch, length - 1]).

    The output layer runs on those positions only: prompt and padding positions, most of a batch, never
    reach it (the same values as slicing the full logits, for a fraction of the cost).
    """
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, :-1]
    keep = action_mask[:, 1:] > 0
    logits = model.get_output_embeddings()(hidden[keep]).float()
    out = torch.zeros(keep.shape, dtype=logits.dtype, device=logits.device)
    out[keep] = -F.cross_entropy(logits, input_ids[:, 1:][keep], reduction="none")
    return out


def sequence_logps(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   action_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of the action tokens' log-probabilities per sequence, and their number ([B] each)."""
    return action_logps(model, input_ids, attention_mask, action_mask).sum(-1), action_mask[:, 1:].float().sum(-1)


@torch.no_grad()
def add_reference_logps(model: torch.nn.Module, items: list[dict], pad_id: int, sides: tuple[str, ...],
                        batch_size: int) -> None:
    """Store the model's sequence log-probability of each item's sequences as ``ref_<side>logp``, for each
    prefix in ``sides`` (``("chosen_", "rejected_")`` for pairs; ``("",)`` for single sequences): the frozen
    reference policy of the objectives that compare the student with where it started, computed once before
    training, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        batch = collate(chunk, pad_id)
        for side in sides:
            logps, _ = sequence_logps(model, batch[side + "input_ids"], batch[side + "attention_mask"],
                                      batch[side + "action_mask"])
            for item, lp in zip(chunk, logps.tolist()):
                item[f"ref_{side}logp"] = lp
    model.train(was_training)


def grouped_action_logps(model: torch.nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                         action_ids: torch.Tensor, action_mask: torch.Tensor, group: int) -> torch.Tensor:
    """log p of each action token ([prompts x group, actions], 0 where ``action_mask`` is 0) for ``group`` samples
    of each prompt, the samples of prompt i being rows i x group to (i + 1) x group - 1.

    Each prompt runs through the model once and its keys and values serve all its samples (gradients flow back
    through them), instead of once per sample: the same values as :func:`action_logps` on the concatenated
    sequences (``tests/test_students.py``) for a fraction of the work, since a prompt is most of a sequence.
    Both inputs are right-padded; the actions continue each prompt at its own length."""
    prompt_lengths = prompt_mask.sum(1)
    prompt = model.base_model(input_ids=prompt_ids, attention_mask=prompt_mask, use_cache=True)
    cache = prompt.cache
    cache.batch_repeat_interleave(group)
    # the prediction of action 0 comes from each prompt's last real position, of action j from action j - 1
    last = prompt.last_hidden_state[torch.arange(len(prompt_ids)), prompt_lengths - 1].repeat_interleave(group, 0)
    positions = prompt_lengths.repeat_interleave(group)[:, None] + torch.arange(action_ids.shape[1])
    attention = torch.cat([prompt_mask.repeat_interleave(group, 0), action_mask], dim=1)
    hidden = model.base_model(input_ids=action_ids, attention_mask=attention, position_ids=positions,
                              cache=cache).last_hidden_state
    predictors = torch.cat([last[:, None], hidden[:, :-1]], dim=1)
    keep = action_mask > 0
    logits = model.get_output_embeddings()(predictors[keep]).float()
    out = torch.zeros(keep.shape, dtype=logits.dtype, device=logits.device)
    out[keep] = -F.cross_entropy(logits, action_ids[keep], reduction="none")
    return out
