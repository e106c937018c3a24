"""The loss of group-relative policy optimisation over sampled decompositions (issue 28's online objective).

Papers: Shao et al. 2024, "DeepSeekMath" (arXiv 2402.03300): GRPO, advantages relative to the group of samples
of one problem, a clipped ratio and a KL penalty to a frozen reference with the k3 estimator; Liu et al. 2025,
"Understanding R1-Zero-Like Training" (arXiv 2503.20783): Dr. GRPO, no division by the group's standard
deviation nor by each sequence's length; Ahmadian et al. 2024, "Back to Basics" (arXiv 2402.14740): RLOO, the
leave-one-out mean as each sample's baseline, a sequence-level ratio over summed log-probabilities and a k1 KL
inside the reward. Reference implementations: TRL's ``GRPOTrainer`` and ``RLOOTrainer`` (their ``_compute_loss`` and
the advantages of ``_generate_and_score_completions``), whose formulas these follow; tests call TRL's own loss code
on the same tensors. ``grpo_loo`` is GRPO's token-level loss with the leave-one-out baseline (this project's old
``rloo``, kept under an honest name).

Shapes: ``rewards`` is [problems, group_size]; per-token tensors are [sequences, tokens] with ``mask`` 1 on the
sampled sub-question tokens; ``advantages`` [sequences], or [sequences, tokens] where each token has its own
(step credit added to the outcome's).
"""

from __future__ import annotations

import torch

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "rloo", "grpo_loo")
SEQUENCE_LEVEL = ("rloo",)  # one ratio per sequence over its summed log-probabilities; KL in the reward


def group_advantages(rewards: torch.Tensor, loss_type: str) -> torch.Tensor:
    """Each sample's advantage within its problem's group: ``grpo`` and ``dapo`` (reward - group mean) / (group std
    + 1e-4), the std unbiased as TRL's (its default ``scale_rewards="group"``); ``dr_grpo`` reward - group mean;
    ``rloo`` and ``grpo_loo`` reward - mean of the *other* samples."""
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"unknown loss_type {loss_type!r}; valid: {', '.join(LOSS_TYPES)}")
    group = rewards.shape[1]
    if group < 2:
        raise ValueError(f"a group needs at least 2 samples to compare, got {group}")
    mean = rewards.mean(dim=1, keepdim=True)
    if loss_type in ("grpo", "dapo"):
        return (rewards - mean) / (rewards.std(dim=1, keepdim=True) + 1e-4)
    if loss_type == "dr_grpo":
        return rewards - mean
    return rewards - (rewards.sum(dim=1, keepdim=True) - rewards) / (group - 1)


def kl_in_reward(
    rewards: torch.Tensor, old_logps: torch.Tensor, ref_logps: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """RLOO's rewards [problems, group]: each sample's reward minus ``beta`` x its k1 KL to the reference, the
    sampling policy's log-ratio summed over its tokens (TRL's ``RLOOTrainer``; unlike k3, it can be negative)."""
    kl = ((old_logps - ref_logps) * mask.to(old_logps.dtype)).sum(-1)
    return rewards - beta * kl.view_as(rewards)


def informative_groups(rewards: torch.Tensor) -> torch.Tensor:
    """[problems] True where the group's rewards differ (DAPO's dynamic sampling drops the others: their
    advantages are all zero and teach nothing)."""
    return (rewards.max(dim=1).values - rewards.min(dim=1).values) > 0


def policy_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    ref_logps: torch.Tensor | None,
    mask: torch.Tensor,
    advantages: torch.Tensor,
    loss_type: str,
    epsilon: float,
    beta: float,
    max_completion_length: int,
    epsilon_high: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped surrogate with a KL penalty, and statistics to log.

    Per token: ratio = exp(logp - old logp); loss = -min(ratio * A, clip(ratio, 1 - eps, 1 + eps_high) * A)
    + beta * (exp(ref - logp) - (ref - logp) - 1). Aggregated as TRL does: ``grpo`` and ``grpo_loo`` average over
    each sequence's tokens, then over sequences; ``dr_grpo`` sums every token and divides by sequences x
    ``max_completion_length`` (a constant: no length bias); ``dapo`` sums every token and divides by the batch's
    tokens (DAPO's token-level aggregation); ``epsilon_high`` (None: ``epsilon``) is DAPO's clip-higher; ``rloo``
    is :func:`sequence_loss` (its KL is in the reward, :func:`kl_in_reward`)."""
    mask = mask.to(logps.dtype)
    high = epsilon if epsilon_high is None else epsilon_high
    if loss_type in SEQUENCE_LEVEL:
        return sequence_loss(logps, old_logps, mask, advantages, epsilon, high)
    advantages = advantages.reshape(-1, 1) if advantages.dim() == 1 else advantages  # per sequence or per token
    ratio = torch.exp(logps - old_logps)
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + high)
    per_token = -torch.min(ratio * advantages, clipped * advantages)
    kl = None
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta > 0 needs the reference policy's log-probabilities")
        kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
        per_token = per_token + beta * kl
    if loss_type in ("grpo", "grpo_loo"):
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    elif loss_type == "dr_grpo":
        loss = (per_token * mask).sum() / (per_token.shape[0] * max_completion_length)
    elif loss_type == "dapo":
        loss = (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    else:
        raise ValueError(f"unknown loss_type {loss_type!r}; valid: {', '.join(LOSS_TYPES)}")
    with torch.no_grad():
        tokens = mask.sum().clamp(min=1.0)
        clipped_share = ((ratio < 1 - epsilon) & (advantages < 0)) | ((ratio > 1 + high) & (advantages > 0))
        stats = {"clip_ratio": (clipped_share.to(mask.dtype) * mask).sum() / tokens}
        if kl is not None:
            stats["kl"] = (kl * mask).sum() / tokens
    return loss, stats


def sequence_loss(
    logps: torch.Tensor, old_logps: torch.Tensor, mask: torch.Tensor, advantages: torch.Tensor, epsilon: float,
    epsilon_high: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """RLOO's clipped surrogate per sequence (TRL's ``RLOOTrainer._compute_loss``): ratio = exp(sum of the
    sequence's log-probs - the sampling policy's sum), loss = mean over sequences of -min(ratio x A, clip(ratio) x
    A); no KL term (it is in the reward). ``advantages`` must be one per sequence."""
    if advantages.dim() != 1:
        raise ValueError("rloo takes one advantage per sequence: per-token step credit needs a token-level loss")
    ratio = torch.exp((logps * mask).sum(1) - (old_logps * mask).sum(1))
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + epsilon_high)
    loss = (-torch.min(ratio * advantages, clipped * advantages)).mean()
    with torch.no_grad():
        clipped_share = ((ratio < 1 - epsilon) & (advantages < 0)) | ((ratio > 1 + epsilon_high) & (advantages > 0))
    return loss, {"clip_ratio": clipped_share.float().mean()}
