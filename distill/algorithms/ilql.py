"""Implicit Language Q-Learning (ILQL) with token-level value heads, and value-guided decoding.

Paper: Snell et al. 2022, "Offline RL for Natural Language Generation with Implicit Language Q
Learning" (arXiv 2206.11871); reference implementations ``Sea-Snell/Implicit-Language-Q-Learning`` and
``CarperAI/trlx`` (trlx/models/modeling_ilql.py). Used for decomposition by Tarasov & Shridhar 2024,
whose baseline (``DT6A/GSM8K-AI-SubQ``, baselines/ilql_gpt_qg.py) has defects this file avoids: the
bootstrap target here is ``r + gamma * V(s')`` (theirs subtracts), ``V(s')`` is detached, the CQL term is
masked per token before averaging, and only action tokens (no prompt, no padding) carry loss.

Indexing: for a sequence x_0..x_{T-1}, the action x_j (j an action position) is taken in the state whose
representation is the trunk's hidden state h_{j-1}; Q(s_j, a) = Q_head(h_{j-1})[a], V(s_j) = V_head(h_{j-1}),
and the next state's value is V_head(h_j) unless x_j is the last action (terminal).

The policy is the frozen BC model (the paper's choice); the value trunk starts as a copy of it and is
trained with the heads. Decoding scores each candidate token by log pi_BC(a|s) + beta * (min_i Qhat_i(s, a)
- V(s)), optionally among the BC policy's top-k tokens.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn as nn
import torch.nn.functional as F

from distill.algorithms.optim import optimizer_with_schedule
from distill.core.contracts import ScorerFactories
from distill.core.records import Record
from distill.measurement.decoding import LMScorer
from distill.students import Student

VALUE_FILE = "ilql_value_model.pt"


def mlp(d_in: int, d_out: int, hidden_mult: int = 2) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden_mult * d_in), nn.ReLU(), nn.Linear(hidden_mult * d_in, d_out))


class ValueHeads(nn.Module):
    """V head (h -> 1), two Q heads (h -> vocabulary), and their Polyak-averaged target copies."""

    def __init__(self, hidden_size: int, vocab_size: int, n_q: int = 2) -> None:
        super().__init__()
        self.v = mlp(hidden_size, 1)
        self.q = nn.ModuleList(mlp(hidden_size, vocab_size) for _ in range(n_q))
        self.target_q = copy.deepcopy(self.q)
        self.target_q.requires_grad_(False)

    def forward(self, hidden: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Q values, target Q values (both [..., vocab] per head) and V ([...])."""
        qs = [head(hidden) for head in self.q]
        with torch.no_grad():
            target_qs = [head(hidden) for head in self.target_q]
        return qs, target_qs, self.v(hidden).squeeze(-1)

    @torch.no_grad()
    def target_advantage(self, hidden: torch.Tensor) -> torch.Tensor:
        """min_i Qhat_i(s, .) - V(s) for decoding: the target heads and V only, not the online Q heads."""
        return torch.stack([head(hidden) for head in self.target_q]).min(0).values - self.v(hidden)

    @torch.no_grad()
    def polyak_update(self, rate: float) -> None:
        """target <- (1 - rate) * target + rate * online."""
        for target, online in zip(self.target_q.parameters(), self.q.parameters()):
            target.mul_(1.0 - rate).add_(online, alpha=rate)


@dataclass
class ILQLLosses:
    total: torch.Tensor
    q: torch.Tensor
    v: torch.Tensor
    cql: torch.Tensor
    mean_q: torch.Tensor
    mean_v: torch.Tensor
    mean_advantage: torch.Tensor


def ilql_losses(
    qs: list[torch.Tensor],
    target_qs: list[torch.Tensor],
    v: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    mask: torch.Tensor,
    gamma: float,
    tau: float,
    cql_weight: float,
    n_step: int | None = 1,
) -> ILQLLosses:
    """ILQL losses over a batch of transitions laid out along time.

    Shapes: ``qs``/``target_qs`` [B, T, A] per head, ``v`` [B, T + 1] (V of each state, the last one
    being the state after the final step), ``actions`` [B, T], ``rewards`` [B, T], ``mask`` [B, T] (1
    where step t is a real action; an episode's actions are contiguous). The Q target is the
    ``n_step`` return: r_t + ... + gamma^(n-1) r_(t+n-1) + gamma^n sg(V(s_(t+n))), with no bootstrap
    past the last action; ``n_step=None`` is the Monte Carlo return (no bootstrap at all).
    """
    mask = mask.float()
    n = mask.sum().clamp(min=1.0)
    target = n_step_targets(rewards, v[:, 1:].detach(), mask, gamma, n_step)
    q_taken = [q.gather(-1, actions[..., None]).squeeze(-1) for q in qs]
    q_loss = sum(((q - target) ** 2 * mask).sum() / n for q in q_taken)

    target_taken = torch.stack([q.gather(-1, actions[..., None]).squeeze(-1) for q in target_qs]).min(0).values
    u = target_taken.detach() - v[:, :-1]
    weight = torch.abs(tau - (u < 0).float())
    v_loss = (weight * u**2 * mask).sum() / n

    # CQL: cross-entropy of softmax(Q(s, .)) against the data's action, masked per token before the mean
    cql = sum(
        (F.cross_entropy(q.flatten(0, 1), actions.flatten(), reduction="none").view_as(mask) * mask).sum() / n
        for q in qs
    )
    total = q_loss + v_loss + cql_weight * cql
    with torch.no_grad():
        mean_q = (sum(q_taken) / len(q_taken) * mask).sum() / n
        mean_v = (v[:, :-1] * mask).sum() / n
        mean_adv = ((target_taken - v[:, :-1]) * mask).sum() / n
    return ILQLLosses(total, q_loss, v_loss, cql, mean_q, mean_v, mean_adv)


def n_step_targets(
    rewards: torch.Tensor, next_v: torch.Tensor, mask: torch.Tensor, gamma: float, n_step: int | None
) -> torch.Tensor:
    """Sum of the next ``n_step`` rewards within the episode plus the discounted value after them.

    ``next_v[:, t]`` is V of the state after step t (detached by the caller); ``mask`` marks actions.
    """
    steps = rewards.shape[1] if n_step is None else n_step
    if steps < 1:
        raise ValueError(f"n_step must be >= 1 or None (Monte Carlo), got {n_step}")
    target = torch.zeros_like(rewards)
    alive = mask
    for k in range(steps):
        # alive[:, t]: step t + k is still an action of the same episode
        target = target + gamma**k * alive * rewards
        rewards = torch.cat([rewards[:, 1:], torch.zeros_like(rewards[:, :1])], dim=1)
        shifted = torch.cat([mask[:, k + 1 :], torch.zeros_like(mask[:, : k + 1])], dim=1)
        alive = alive * shifted
        if k == steps - 1 and n_step is not None:
            # bootstrap from the state after step t + k, if an action follows it
            later_v = torch.cat([next_v[:, k:], torch.zeros_like(next_v[:, :k])], dim=1)
            target = target + gamma**steps * alive * later_v
    return target


def token_rewards(
    terminators: list[int],
    usefulness: list[float] | None,
    correctness: float | None,
    length: int,
    usefulness_weight: float,
    correctness_weight: float,
    usefulness_baseline: float = 0.0,
) -> list[float]:
    """Per-token rewards of one episode: each sub-question's usefulness minus ``usefulness_baseline`` on its
    terminator, correctness at the end. With a baseline of 0 (the paper's form) every question earns
    reward, so longer decompositions earn more; with 0.5 a useless question costs what a useful one earns."""
    rewards = [0.0] * length
    scores = usefulness or []
    for i, position in enumerate(terminators):
        if i < len(scores):
            rewards[position] += usefulness_weight * (scores[i] - usefulness_baseline)
    if terminators:
        rewards[terminators[-1]] += correctness_weight * (correctness or 0.0)
    return rewards


class ValueCritic:
    """The critic contract over the value trunk and heads: A = min_i Qhat_i - V (the target heads, as decoding
    uses it) and V, in the state after each row's last token."""

    def __init__(self, trunk: nn.Module, heads: ValueHeads) -> None:
        self.trunk, self.heads = trunk, heads

    def _last_hidden(self, input_ids, attention_mask=None, position_ids=None) -> torch.Tensor:
        self.trunk.eval()
        self.heads.eval()
        out = self.trunk(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, output_hidden_states=True
        )
        return out.hidden_states[-1][:, -1]

    @torch.no_grad()
    def advantages(self, input_ids, attention_mask=None, position_ids=None) -> torch.Tensor:
        return self.heads.target_advantage(self._last_hidden(input_ids, attention_mask, position_ids))

    @torch.no_grad()
    def state_values(self, input_ids, attention_mask=None, position_ids=None) -> torch.Tensor:
        return self.heads.v(self._last_hidden(input_ids, attention_mask, position_ids)).squeeze(-1)


class ILQLModule(pl.LightningModule):
    """Hyper-parameters come from ``conf/algorithm/ilql.yaml`` and the reward group (the one place they
    are set); ``total_steps``, the length of the cosine decay, is the stage's number of optimiser steps."""

    student_only = False  # it trains a value trunk and heads beside the frozen student

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        weight_decay: float,
        warmup_steps: int,
        total_steps: int,
        gamma: float,
        tau: float,
        cql_weight: float,
        polyak_rate: float,
        usefulness_weight: float,
        usefulness_baseline: float,
        correctness_weight: float,
        n_step: int | None,
        beta: float,
        top_k: int | None,
        normalize_advantage: bool,
    ) -> None:
        super().__init__()
        # the value trunk starts as a copy of the (BC) student; the student itself stays the frozen policy
        self.trunk = copy.deepcopy(model)
        self.trunk.requires_grad_(True)
        vocab_size = model.get_output_embeddings().weight.shape[0]
        self.heads = ValueHeads(model.config.hidden_size, vocab_size)
        self.save_hyperparameters(ignore=["model"])
        self._polyak_at_step = 0  # the optimiser step the target heads last moved at

    def make_items(self, student: Student, records: list[Record]) -> list[dict[str, list]]:
        """Training items: token ids, the action mask, and per-token rewards (``reward`` config)."""
        items = []
        for r in records:
            e = student.episode(r.problem, r.subquestions)
            rewards = token_rewards(
                e.terminators,
                r.usefulness,
                r.answer_correctness,
                len(e.input_ids),
                self.hparams.usefulness_weight,
                self.hparams.correctness_weight,
                self.hparams.usefulness_baseline,
            )
            items.append({"input_ids": e.input_ids, "action_mask": e.action_mask, "rewards": rewards})
        return items

    def scorers(self, student: Student, betas: list[float] | None = None) -> ScorerFactories:
        """Value-guided decoding over the frozen student policy, one per beta (default: the module's)."""
        return value_guided_scorers(
            student.model,
            self.trunk,
            self.heads,
            betas or [self.hparams.beta],
            self.hparams.top_k,
            self.hparams.normalize_advantage,
        )

    def save_extras(self, folder: Path) -> None:
        torch.save(
            {
                "trunk": self.trunk.state_dict(),
                "heads": self.heads.state_dict(),
                "decoding": {"top_k": self.hparams.top_k, "normalize_advantage": self.hparams.normalize_advantage},
            },
            Path(folder) / VALUE_FILE,
        )

    @classmethod
    def saved_decoding(
        cls, folder: Path, student: Student, betas: list[float] | None = None, top_k: int | None = None
    ) -> tuple[ScorerFactories, ValueCritic]:
        """Value-guided decoding from the value model saved beside the student, one per beta (default 1)."""
        path = Path(folder) / VALUE_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: the ILQL run that saved {folder} did not finish saving")
        state = torch.load(path, map_location="cpu", weights_only=True)
        trunk = copy.deepcopy(student.model)
        trunk.load_state_dict(state["trunk"])
        heads = ValueHeads(student.model.config.hidden_size, student.model.get_output_embeddings().weight.shape[0])
        heads.load_state_dict(state["heads"])
        trunk.eval(), heads.eval()
        trained = state.get("decoding", {})
        scorers = value_guided_scorers(
            student.model,
            trunk,
            heads,
            list(betas or [1.0]),
            top_k if top_k is not None else trained.get("top_k"),
            trained.get("normalize_advantage", False),
        )
        return scorers, ValueCritic(trunk, heads)

    def critic(self) -> ValueCritic:
        return ValueCritic(self.trunk, self.heads)

    def hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.trunk(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return out.hidden_states[-1]

    def losses(self, batch: dict[str, torch.Tensor]) -> ILQLLosses:
        h = self.hidden(batch["input_ids"], batch["attention_mask"])
        qs, target_qs, v = self.heads(h)
        # state before action x_{j} is h_{j-1}: drop the last position for Q, keep all for V
        actions = batch["input_ids"][:, 1:]
        mask = batch["action_mask"][:, 1:]
        rewards = batch["rewards"][:, 1:]
        return ilql_losses(
            [q[:, :-1] for q in qs],
            [q[:, :-1] for q in target_qs],
            v,
            actions,
            rewards,
            mask,
            self.hparams.gamma,
            self.hparams.tau,
            self.hparams.cql_weight,
            self.hparams.n_step,
        )

    def _log(self, split: str, losses: ILQLLosses, batch_size: int) -> None:
        for name in ["total", "q", "v", "cql"]:
            self.log(
                f"{split}/{'loss' if name == 'total' else name + '_loss'}",
                getattr(losses, name),
                prog_bar=name == "total",
                batch_size=batch_size,
            )
        self.log(f"{split}/mean_q", losses.mean_q, batch_size=batch_size)
        self.log(f"{split}/mean_v", losses.mean_v, batch_size=batch_size)
        self.log(f"{split}/advantage", losses.mean_advantage, batch_size=batch_size)

    def training_step(self, batch, batch_idx):
        losses = self.losses(batch)
        self._log("train", losses, len(batch["input_ids"]))
        return losses.total

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        # once per optimiser step: with gradient accumulation several batches make one step
        if self.trainer.global_step > self._polyak_at_step:
            self._polyak_at_step = self.trainer.global_step
            self.heads.polyak_update(self.hparams.polyak_rate)

    def validation_step(self, batch, batch_idx):
        self._log("val", self.losses(batch), len(batch["input_ids"]))

    def configure_optimizers(self):
        h = self.hparams
        return optimizer_with_schedule(
            list(self.trunk.parameters()) + list(self.heads.parameters()),
            h.lr,
            h.weight_decay,
            h.warmup_steps,
            h.total_steps,
            self.trainer.precision,
        )


def standardize(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(values - mean) / std over the entries where ``mask`` is true, per row (last dimension)."""
    m = mask.float()
    count = m.sum(-1, keepdim=True).clamp(min=1.0)
    mean = (values * m).sum(-1, keepdim=True) / count
    std = (((values - mean) ** 2 * m).sum(-1, keepdim=True) / count).sqrt()
    return (values - mean) / (std + 1e-6)


def value_guided_scorers(
    policy: nn.Module,
    trunk: nn.Module,
    heads: ValueHeads,
    betas: list[float],
    top_k: int | None,
    normalize_advantage: bool = False,
) -> ScorerFactories:
    """One decoding per beta, labelled "beta=B", in the order given (the first is the main result)."""
    return {f"beta={b:g}": (lambda b=b: ILQLScorer(policy, trunk, heads, b, top_k, normalize_advantage)) for b in betas}


class ILQLScorer:
    """Value-guided next-token scores: log pi(a|s) + beta * A(s, a), A = min_i Qhat_i(s, a) - V(s), KV-cached.

    ``normalize_advantage``: A is standardised per state over the candidate tokens (the policy's top-k, or
    all), so that one beta means the same push in every state whatever the scale of the learned values.
    Policy, trunk and heads decode in eval mode; the online Q heads are not computed.
    """

    def __init__(
        self,
        policy: nn.Module,
        trunk: nn.Module,
        heads: ValueHeads,
        beta: float,
        top_k: int | None = None,
        normalize_advantage: bool = False,
    ) -> None:
        for module in (policy, trunk, heads):
            module.eval()
        self.policy, self.value = LMScorer(policy), LMScorer(trunk, keep_hidden=True)
        self.heads, self.beta, self.top_k, self.normalize = heads, beta, top_k, normalize_advantage

    def _combine(self, logp: torch.Tensor) -> torch.Tensor:
        candidates = torch.ones_like(logp, dtype=torch.bool)
        if self.top_k:
            candidates = logp >= logp.topk(self.top_k, dim=-1).values[..., -1:]
        scores = logp
        if self.beta:
            advantage = self.heads.target_advantage(self.value.last_hidden)
            if self.normalize:
                advantage = standardize(advantage, candidates)
            scores = logp + self.beta * advantage
        return scores.masked_fill(~candidates, float("-inf"))

    def prefill(self, input_ids, attention_mask, position_ids):
        logp = self.policy.prefill(input_ids, attention_mask, position_ids)
        if self.beta:
            self.value.prefill(input_ids, attention_mask, position_ids)
        return self._combine(logp)

    def step(self, tokens, attention_mask, position_ids):
        logp = self.policy.step(tokens, attention_mask, position_ids)
        if self.beta:
            self.value.step(tokens, attention_mask, position_ids)
        return self._combine(logp)

    def keep(self, rows):
        self.policy.keep(rows)
        if self.beta:
            self.value.keep(rows)
