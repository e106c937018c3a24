"""Online group-relative policy optimisation (GRPO; Shao et al. 2024, DeepSeekMath; reference implementation TRL's
``GRPOTrainer``): the student samples decompositions of training problems, the configured answerer answers them,
and samples that beat their group's other samples are pushed up.

Each training step takes a batch of training problems (``data.batch_size``), samples ``group_size``
decompositions of each from the current student (the project's KV-cached batched decoder, ``temperature``),
has the answerer answer all of them in one call, and scores each: a right final answer earns 1 minus
``subquestion_cost`` per sub-question, a wrong one 0. The cost applies to right answers only: charged on every
sample, it would decide every group in which no sample is right, in favour of asking nothing. Advantages are
relative to the group (``loss_type``: grpo, dr_grpo or rloo; ``distill.algorithms.grpo_loss``); with
``dynamic_sampling`` groups whose rewards are all equal are dropped (they teach nothing), and with ``refill_rounds``
further problems are rolled out until the batch holds as many informative groups as it has problems. The loss is
the clipped surrogate with a k3 KL penalty (``beta``) to the student as this stage starts. With ``step_credit`` > 0 each
token's advantage adds that weight times the removal credit of its sub-question
(``distill.measurement.step_credit``: one extra answerer call per sub-question). ``num_iterations`` updates per
batch of rollouts (TRL's name): with 1 the ratio is 1 and the clip inactive; with more, each update's ratio is
taken against the policy that sampled the batch and ``epsilon`` clips it. A batch in which every group is dropped
takes no optimiser step at all: a zero loss would still move the weights (AdamW's momentum and weight decay, and
Muon's orthogonalised update of a decaying momentum buffer).

It starts from a first stage (Filtered BC by default), like DPO. What it logs: docs/objectives/grpo.md.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch

from distill.algorithms.bc import PolicyObjective
from distill.algorithms.grpo_loss import (
    LOSS_TYPES,
    SEQUENCE_LEVEL,
    group_advantages,
    informative_groups,
    kl_in_reward,
    policy_loss,
)
from distill.algorithms.logprobs import FrozenReference, frozen_copy, grouped_action_logps
from distill.algorithms.optim import attention_matrices, optimizer_with_schedule
from distill.core.config_checks import Choice, Number, Rule
from distill.core.contracts import Answer, Answerer, Dataset, Problem
from distill.core.final_answer import is_correct
from distill.core.records import Record
from distill.measurement.rows import decode_actions
from distill.measurement.step_credit import removal_credit
from distill.students import Student
from distill.training.episodes import collate

STALLED_AFTER = 50  # rollout batches in a row with every group dropped before the run says it has stopped learning


def reward(correct: bool, n_subquestions: int, subquestion_cost: float) -> float:
    """A right answer earns 1 minus the cost of its sub-questions; a wrong one 0, however short."""
    return 1.0 - subquestion_cost * n_subquestions if correct else 0.0


class GRPOModule(FrozenReference, PolicyObjective, pl.LightningModule):
    """Hyper-parameters come from ``conf/algorithm/grpo.yaml``; ``total_steps``, the length of the cosine decay,
    is the stage's number of optimiser steps. An ``OnlineObjective``: :meth:`bind` gives it the student, the
    answerer and the training problems before training (``distill.training.fitting.fit`` calls it)."""

    # what the config check refuses when the config is composed, before any work (distill/core/config_checks.py)
    CHECKS: ClassVar[dict[str, Rule]] = {
        "loss_type": Choice(LOSS_TYPES), "temperature": Number(0, open_low=True), "beta": Number(0),
        "epsilon": Number(0, 1, open_low=True), "epsilon_high": Number(0, open_low=True, optional=True),
        "subquestion_cost": Number(0, 1), "step_credit": Number(0), "refill_rounds": Number(0, integer=True),
        "credit_draws": Number(1, integer=True),
    }  # fmt: skip

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float,
        weight_decay: float,
        warmup_steps: int,
        total_steps: int,
        group_size: int,
        temperature: float,
        loss_type: str,
        epsilon: float,
        beta: float,
        subquestion_cost: float,
        dynamic_sampling: bool,
        max_new_tokens: int,
        seed: int,
        muon_lr: float | None,
        num_iterations: int,
        step_credit: float,
        drop_solved_alone: bool,
        epsilon_high: float | None,
        mask_truncated: bool,
        refill_rounds: int,
        credit_draws: int,
    ) -> None:
        super().__init__()
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"algorithm.module.loss_type={loss_type!r}; valid: {', '.join(LOSS_TYPES)}")
        if num_iterations < 1:
            raise ValueError(f"algorithm.module.num_iterations must be at least 1, got {num_iterations}")
        if group_size < 2:
            raise ValueError(f"algorithm.module.group_size must be at least 2 (a group to compare), got {group_size}")
        if clashes := self.clashes(locals()):
            raise ValueError(clashes[0])
        self.model = model
        # the frozen reference: the student as this stage starts (kept in checkpoints, so a resumed run has it)
        self.reference = frozen_copy(model) if beta else None
        self.save_hyperparameters(ignore=["model"])
        self.student: Student | None = None
        self.answerer: Answerer | None = None
        self.dataset: Dataset | None = None
        self.problems: list[Problem] = []
        self.ready: dict[str, torch.Tensor] | None = None  # the rollouts the next updates use (rollout_batch)
        self.dropped_in_a_row = 0  # rollout batches whose groups were all dropped, in a row
        self.no_update_steps = 0  # training steps that took no optimiser step (every group dropped)

    @staticmethod
    def clashes(settings: Mapping[str, Any]) -> list[str]:
        """Settings that contradict one another: refused when the config is composed (``config_checks`` calls
        this), so a run does not stop at the start of this stage, after its teacher run and first stage."""
        found = []
        if settings.get("refill_rounds") and not settings.get("dynamic_sampling"):
            found.append("algorithm.module.refill_rounds refills the groups dynamic sampling drops: set "
                         "algorithm.module.dynamic_sampling=true, or refill_rounds=0")  # fmt: skip
        if settings.get("step_credit") and settings.get("loss_type") in SEQUENCE_LEVEL:
            found.append(
                f"algorithm.module.step_credit gives each token its own advantage: loss_type={settings['loss_type']} "
                "has one per sequence (use grpo, dr_grpo or grpo_loo)"
            )
        return found

    def bind(
        self, student: Student, answerer: Answerer, problems: list[Problem], dataset: Dataset | None = None
    ) -> None:
        """What rollouts need: the student (tokenizer, decoding), the answerer that scores them, the problems; and
        the data set whose diagnostics the rollouts log (the garbled share on the synthetic world)."""
        self.student, self.answerer, self.problems, self.dataset = student, answerer, problems, dataset

    def make_items(self, student: Student, records: list[Record]) -> list[dict]:
        """One item per training problem the records name: its prompt and its index among the bound problems."""
        index = {p.problem_id: i for i, p in enumerate(self.problems)}
        ids = sorted({r.problem_id for r in records if r.problem_id in index}, key=index.get)
        return [
            {
                "input_ids": (prompt := student.prompt_ids(self.problems[index[i]].text)),
                "action_mask": [0] * len(prompt),
                "problem_index": index[i],
            }
            for i in ids
        ]

    def rollouts(
        self, problems: list[Problem], round_: int = 0
    ) -> tuple[list[list[int]], torch.Tensor, list[list[str]], list[Answer]]:
        """``group_size`` sampled decompositions per problem (action tokens), their rewards [problems, group],
        the decompositions (sub-questions) and the answerer's answers; ``round_`` > 0: a refill round's draws."""
        h, student = self.hparams, self.student
        repeated = [p for p in problems for _ in range(h.group_size)]
        generator = torch.Generator().manual_seed(h.seed * 1_000_003 + self.global_step + 10_000_019 * round_)
        actions = decode_actions(
            student,
            problems,
            batch_size=len(repeated),
            max_new_tokens=h.max_new_tokens,
            desc="rollouts",
            sample=True,
            temperature=h.temperature,
            generator=generator,
            repeats=h.group_size,
        )  # each prompt prefilled once for its group
        self.model.train()  # decoding switched it to eval mode
        decompositions = [student.parse(a) for a in actions]
        answers = self.answerer.answer(repeated, decompositions)
        rewards = [
            reward(is_correct(a.text, p.true_answer), len(d), h.subquestion_cost)
            for a, p, d in zip(answers, repeated, decompositions)
        ]
        return actions, torch.tensor(rewards).view(len(problems), h.group_size), decompositions, answers

    def rollout_batch(self, problems: list[Problem]) -> tuple[dict[str, torch.Tensor] | None, dict[str, torch.Tensor]]:
        """Rollouts of ``problems`` made ready for updates: the kept groups' sequences, advantages, and the
        log-probabilities of the policy that sampled them (the ratio's denominator) and of the reference; None
        when every group is dropped. With the step's statistics."""
        h, student, batch = self.hparams, self.student, len(problems)
        start = time.perf_counter()
        problems, actions, rewards, decompositions, answers, keep, rounds = self.sampled_groups(problems)
        keep &= keep.cumsum(0) <= batch  # a refilled batch: its size in informative groups, the first ones found
        stats = {
            "reward_mean": rewards.mean(),
            "reward_std": rewards.std(),
            "dropped_groups": 1 - keep.float().mean(),
            "mean_subquestions": torch.tensor(sum(map(len, decompositions)) / len(decompositions)),
            "tokens_per_second": torch.tensor(sum(map(len, actions)) / (time.perf_counter() - start)),
            "rollouts_per_second": torch.tensor(len(actions) / (time.perf_counter() - start)),
        }
        repeated = [p for p in problems for _ in range(h.group_size)]
        found = self.dataset.diagnostics(repeated, decompositions, [0.0] * len(repeated)) if self.dataset else {}
        if "garbled_rate" in found:  # the share of sampled decompositions that ask for a quantity the problem lacks
            stats["garbled_share"] = torch.tensor(found["garbled_rate"])
        if h.refill_rounds:
            stats["rollout_rounds"], stats["kept_groups"] = torch.tensor(float(rounds)), keep.float().sum()
        if not keep.any():
            return None, stats
        kept = keep.nonzero().flatten().tolist()
        rows = [g * h.group_size + j for g in kept for j in range(h.group_size)]
        ready, sampled = self.sequences([problems[g] for g in kept], [actions[r] for r in rows])
        if h.mask_truncated:  # a sample cut at max_new_tokens (no end of sequence) teaches nothing (DAPO, TRL)
            truncated = torch.tensor([not a or a[-1] != student.eos_id for a in sampled])
            ready["action_mask"] = ready["action_mask"] * (~truncated).unsqueeze(1).to(ready["action_mask"].dtype)
            stats["truncated_share"] = truncated.float().mean()
        ready = {k: v.to(self.device) for k, v in ready.items()}
        with torch.no_grad():
            # the sampling policy's log-probs: the ratio's denominator with several updates per batch, and RLOO's
            # KL in the reward; with one update (GRPO) the ratio is 1, its denominator the update's own (detached)
            needs_old = h.num_iterations > 1 or (h.loss_type in SEQUENCE_LEVEL and h.beta != 0.0)
            ready["old_logps"] = self.logps(self.model, ready) if needs_old else None
            ready["ref_logps"] = self.logps(self.reference, ready) if self.reference is not None else None
        kept_rewards = self.kl_shaped(rewards[keep].to(self.device), ready, stats)
        ready["advantages"] = group_advantages(kept_rewards, h.loss_type).reshape(-1)
        if h.step_credit:
            ready["advantages"], stats["credit_calls"] = self.credited(
                ready["advantages"], sampled, rows, repeated, decompositions, answers
            )
        return ready, stats

    def sampled_groups(
        self, problems: list[Problem]
    ) -> tuple[list[Problem], list[list[int]], torch.Tensor, list[list[str]], list[Answer], torch.Tensor, int]:
        """Rollouts of ``problems`` and which groups to keep; with ``refill_rounds`` (DAPO's dynamic sampling), up
        to that many more rounds, each on as many other training problems drawn at random, until the informative
        groups number at least the batch's problems. Every round's problems, actions, rewards, decompositions,
        answers and keep mask, concatenated; and the rounds taken."""
        h, batch = self.hparams, len(problems)
        rounds = [(problems, *self.rollouts(problems))]
        keep = [self.kept(problems, rounds[0][2])]
        while len(rounds) <= h.refill_rounds and sum(int(k.sum()) for k in keep) < batch:
            draw = torch.Generator().manual_seed(h.seed * 1_000_003 + self.global_step + 10_000_019 * len(rounds))
            more = [self.problems[int(i)] for i in torch.randint(len(self.problems), (batch,), generator=draw)]
            rounds.append((more, *self.rollouts(more, len(rounds))))
            keep.append(self.kept(more, rounds[-1][2]))
        every = [sum((list(r[n]) for r in rounds), []) for n in (0, 1, 3, 4)]
        rewards = torch.cat([r[2] for r in rounds])
        return every[0], every[1], rewards, every[2], every[3], torch.cat(keep), len(rounds)

    def kept(self, problems: list[Problem], rewards: torch.Tensor) -> torch.Tensor:
        """[problems] True for the groups to train on: informative (rewards not all equal) with
        ``dynamic_sampling``, and not solved by the answerer alone with ``drop_solved_alone``."""
        h = self.hparams
        keep = informative_groups(rewards) if h.dynamic_sampling else torch.ones(len(problems), dtype=torch.bool)
        if h.drop_solved_alone:  # train only where a decomposition is needed: one extra answerer call per problem
            alone = self.answerer.answer(problems, [[] for _ in problems])
            keep &= torch.tensor([not is_correct(a.text, p.true_answer) for a, p in zip(alone, problems)])
        return keep

    def sequences(self, problems: list[Problem], actions: list[list[int]]) -> tuple[dict[str, torch.Tensor], list]:
        """Each problem's prompt once and its samples' actions apart (the prompt runs once per group), collated;
        and the actions as kept (cut to the student's length)."""
        student, group = self.student, self.hparams.group_size
        prompts = [student.prompt_ids(p.text) for p in problems]
        sampled = [a[: student.max_length - len(prompts[n // group])] for n, a in enumerate(actions)]
        prompt = collate([{"input_ids": p} for p in prompts], student.pad_id)
        action = collate([{"input_ids": a} for a in sampled], student.pad_id)
        ready = {"prompt_ids": prompt["input_ids"], "prompt_mask": prompt["attention_mask"],
                 "action_ids": action["input_ids"], "action_mask": action["attention_mask"]}  # fmt: skip
        return ready, sampled

    def kl_shaped(self, rewards: torch.Tensor, ready: dict[str, torch.Tensor], stats: dict) -> torch.Tensor:
        """RLOO's rewards with its k1 KL inside (logged as ``kl``); the rewards as they are for the other losses."""
        h = self.hparams
        if h.loss_type not in SEQUENCE_LEVEL or h.beta == 0.0:
            return rewards
        mask = ready["action_mask"]
        stats["kl"] = ((ready["old_logps"] - ready["ref_logps"]) * mask).sum() / mask.sum().clamp(min=1)
        return kl_in_reward(rewards, ready["old_logps"], ready["ref_logps"], mask, h.beta)

    def credited(
        self,
        advantages: torch.Tensor,
        sampled: list[list[int]],
        rows: list[int],
        repeated: list[Problem],
        decompositions: list[list[str]],
        answers: list[Answer],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token advantages [rows, actions]: each sequence's outcome advantage plus ``step_credit`` x the
        removal credit of the sub-question a token belongs to (1 needed, 0 idle, -1 distracting;
        ``distill.measurement.step_credit``), which costs one answerer call per sub-question; and that number of
        calls."""
        credits, calls = removal_credit(
            [repeated[r] for r in rows],
            [decompositions[r] for r in rows],
            self.answerer,
            full=[answers[r] for r in rows],
            draws=self.hparams.credit_draws,
        )
        per_token = advantages.reshape(-1, 1).expand(-1, max(map(len, sampled))).clone()
        for n, (tokens, credit) in enumerate(zip(sampled, credits)):
            for j, question in enumerate(self.student.subquestion_of_tokens(tokens)):
                if question is not None:
                    per_token[n, j] += self.hparams.step_credit * credit[question]
        return per_token, torch.tensor(float(calls))

    def logps(self, model: torch.nn.Module, ready: dict[str, torch.Tensor]) -> torch.Tensor:
        """``model``'s log-probabilities of the ready rollouts' action tokens [rows, actions], at the sampling
        temperature: the policy that sampled them, the policy being updated and the reference are all compared
        as the distribution the samples came from (TRL divides the logits by the temperature for all three)."""
        return grouped_action_logps(
            model, ready["prompt_ids"], ready["prompt_mask"], ready["action_ids"], ready["action_mask"],
            self.hparams.group_size, temperature=self.hparams.temperature,
        )  # fmt: skip

    def training_step(self, batch, batch_idx):
        """Fresh rollouts every ``num_iterations`` steps (the batch's problems); in between, the same rollouts
        again, each step an update with the clipped ratio against the policy that sampled them."""
        h = self.hparams
        if self.global_step % h.num_iterations == 0:
            problems = [self.problems[int(i)] for i in batch["problem_index"].tolist()]  # (collated as floats)
            self.ready, stats = self.rollout_batch(problems)
            for name, value in stats.items():
                self.log(f"train/{name}", value, prog_bar=name == "reward_mean", batch_size=len(problems))
            self.dropped_in_a_row = self.dropped_in_a_row + 1 if self.ready is None else 0
            if self.dropped_in_a_row == STALLED_AFTER:  # e.g. a policy collapsed to one answer per problem
                warnings.warn(
                    f"GRPO has stopped learning: every group of the last {STALLED_AFTER} rollout batches "
                    f"was dropped (its samples all scored alike; mean sub-questions "
                    f"{float(stats['mean_subquestions']):.2f}), so no step updates the policy and the rest "
                    "of the run only samples; stop it, or raise algorithm.module.temperature",
                    stacklevel=2,
                )
        if self.ready is None:
            self.no_update_steps += 1
            self.log("train/no_update_steps", float(self.no_update_steps), batch_size=1)
            return None  # every group equal: nothing to learn, and no optimiser step (Lightning skips it on None)
        ready = self.ready
        logps = self.logps(self.model, ready)
        mask = ready["action_mask"]
        old = ready["old_logps"] if ready["old_logps"] is not None else logps.detach()
        loss, stats = policy_loss(
            logps, old, ready["ref_logps"], mask, ready["advantages"], h.loss_type, h.epsilon, h.beta, h.max_new_tokens,
            epsilon_high=h.epsilon_high,
        )  # fmt: skip
        # the entropy of the sampling policy, estimated by the sampled tokens' mean surprisal under it
        stats["sampled_entropy"] = -(logps.detach() * mask).sum() / mask.sum().clamp(min=1)
        for name, value in {**stats, "loss": loss}.items():
            self.log(f"train/{name}", value, batch_size=len(ready["advantages"]))
        return loss

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["grpo_rollouts"] = self.ready  # a run resumed between two updates of one batch reuses it

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.ready = checkpoint.get("grpo_rollouts")

    def validation_step(self, batch, batch_idx):
        """Nothing per batch: validation accuracy comes from decoding the validation problems (the callback)."""

    def configure_optimizers(self):
        h = self.hparams
        return optimizer_with_schedule(
            self.model.parameters(),
            h.lr,
            h.weight_decay,
            h.warmup_steps,
            h.total_steps,
            self.trainer.precision,
            attention_matrices(self.model),
            h.muon_lr,
        )
