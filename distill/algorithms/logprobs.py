"""Log-probabilities of a student's action tokens, shared by every objective: the masked NLL of BC, the
per-token and per-sequence log-probabilities of AWR and DPO (also of its frozen reference policy), and GRPO's
log-probabilities of sampled actions after a shared prompt."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F


class FrozenReference:
    """For an objective that keeps a frozen ``reference`` policy (or None): the reference stays in eval mode
    whatever mode the module is switched to. Fit's ``module.train()`` turns every submodule to training mode,
    which would turn dropout on in the reference of a student built with dropout."""

    reference: torch.nn.Module | None

    def train(self, mode: bool = True) -> FrozenReference:
        super().train(mode)
        if self.reference is not None:
            self.reference.eval()
        return self


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` as it is now, in eval mode and without gradients: an objective's reference policy."""
    return copy.deepcopy(model).eval().requires_grad_(False)


def masked_nll(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the tokens, weighted by ``mask`` (1 on the tokens that count, or any
    non-negative weight; position t predicts token t + 1)."""
    targets = input_ids[:, 1:]
    weights = mask[:, 1:].float()
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), reduction="none")
    return (nll.view_as(weights) * weights).sum() / weights.sum().clamp(min=1e-8)


def action_logps(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, action_mask: torch.Tensor
) -> torch.Tensor:
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


def sequence_logps(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, action_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of the action tokens' log-probabilities per sequence, and their number ([B] each)."""
    return action_logps(model, input_ids, attention_mask, action_mask).sum(-1), action_mask[:, 1:].float().sum(-1)


def length_chunks(lengths: list[int], overhead: int = 256) -> list[list[int]]:
    """Rows (indices into ``lengths``) split into chunks of similar length, each to run padded to its own longest
    row: fewest padded tokens plus ``overhead`` token-equivalents per chunk (the cost of one more forward call),
    chosen exactly over the rows sorted by length (a dynamic programme, quadratic in the rows)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    sizes = [lengths[i] for i in order]
    best, cut = [0] + [None] * len(order), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        # the last chunk is order[start:end], padded to sizes[end - 1]
        best[end], cut[end] = min(
            (best[start] + (end - start) * sizes[end - 1] + overhead, start) for start in range(end)
        )
    chunks, end = [], len(order)
    while end:
        chunks.append(order[cut[end] : end])
        end = cut[end]
    return chunks[::-1]


def _rows_of(cache, rows: torch.Tensor):
    """A copy of a Transformers cache holding only ``rows`` (repeats allowed); the original is left as it is, and
    gradients flow back to it. Its layers are copied shallowly: selecting and appending replace their tensors
    instead of writing into them."""
    selected = copy.copy(cache)
    selected.layers = [copy.copy(layer) for layer in cache.layers]
    selected.batch_select_indices(rows)
    return selected


def grouped_action_logps(
    model: torch.nn.Module,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    action_ids: torch.Tensor,
    action_mask: torch.Tensor,
    group: int,
    chunk_overhead: int = 256,
    temperature: float = 1.0,
) -> torch.Tensor:
    """log p of each action token ([prompts x group, actions], 0 where ``action_mask`` is 0) for ``group`` samples
    of each prompt, the samples of prompt i being rows i x group to (i + 1) x group - 1, under the distribution
    sampled at ``temperature`` (logits divided by it, as TRL does for policy, old policy and reference alike).

    Each prompt runs through the model once and its keys and values serve all its samples (gradients flow back
    through them), instead of once per sample: the same values as :func:`action_logps` on the concatenated
    sequences (``tests/test_students.py``) for a fraction of the work, since a prompt is most of a sequence. The
    actions run in chunks of rows of similar length (:func:`length_chunks`), each padded to its own longest: sampled
    decompositions differ in length by tens of tokens, and a padded token costs as much as a real one.
    Both inputs are right-padded; the actions continue each prompt at its own length."""
    prompt_lengths = prompt_mask.sum(1)
    prompt = model.base_model(input_ids=prompt_ids, attention_mask=prompt_mask, use_cache=True)
    # the prediction of action 0 comes from each prompt's last real position, of action j from action j - 1
    last = prompt.last_hidden_state[torch.arange(len(prompt_ids)), prompt_lengths - 1]
    lengths = action_mask.sum(1)
    out = torch.zeros(action_ids.shape, dtype=torch.float, device=action_ids.device)
    for chunk in length_chunks(lengths.tolist(), chunk_overhead):
        rows = torch.tensor(chunk, device=action_ids.device)
        source, width = rows // group, max(int(lengths[rows].max()), 1)
        ids, mask = action_ids[rows, :width], action_mask[rows, :width]
        positions = prompt_lengths[source][:, None] + torch.arange(width, device=ids.device)
        hidden = model.base_model(
            input_ids=ids,
            attention_mask=torch.cat([prompt_mask[source], mask], dim=1),
            position_ids=positions,
            cache=_rows_of(prompt.cache, source),
        ).last_hidden_state
        predictors = torch.cat([last[source][:, None], hidden[:, :-1]], dim=1)
        keep = mask > 0
        logits = model.get_output_embeddings()(predictors[keep]).float() / temperature
        logps = torch.zeros(keep.shape, dtype=logits.dtype, device=logits.device)
        logps[keep] = -F.cross_entropy(logits, ids[keep], reduction="none")
        out = out.index_put((rows[:, None], torch.arange(width, device=ids.device)), logps)
    return out
