"""Group-relative policy optimisation's loss: advantages worked by hand, and the loss against TRL's own code
(``GRPOTrainer._compute_loss`` called on the same tensors)."""

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from distill.algorithms.grpo_loss import group_advantages, informative_groups, policy_loss

REWARDS = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])


def test_advantages_worked_by_hand():
    # group 1: mean 0.5, unbiased std sqrt((4 x 0.25) / 3); group 2: all equal, so nothing to learn
    std = (1 / 3) ** 0.5
    assert torch.allclose(group_advantages(REWARDS, "grpo")[0], torch.tensor([0.5, -0.5, -0.5, 0.5]) / (std + 1e-4))
    assert torch.equal(group_advantages(REWARDS, "dr_grpo"), torch.tensor([[0.5, -0.5, -0.5, 0.5], [0.0] * 4]))
    # leave one out: a right sample against its three siblings (1 right of 3): 1 - 1/3; a wrong one: 0 - 2/3
    assert torch.allclose(group_advantages(REWARDS, "rloo"), torch.tensor([[2 / 3, -2 / 3, -2 / 3, 2 / 3], [0.0] * 4]))
    assert informative_groups(REWARDS).tolist() == [True, False]
    with pytest.raises(ValueError, match="valid: grpo, dr_grpo, dapo, rloo, grpo_loo"):
        group_advantages(REWARDS, "ppo")
    with pytest.raises(ValueError, match="at least 2 samples"):
        group_advantages(REWARDS[:, :1], "grpo")


def test_the_subquestion_cost_ranks_right_answers_only():
    """Charged on wrong samples too, the cost would decide every group with no right sample in favour of asking
    nothing: the collapse measured on world v2 (experiments/grpo_v2)."""
    from distill.algorithms.grpo import reward

    assert reward(True, 2, 0.02) == pytest.approx(0.96) and reward(True, 5, 0.02) == pytest.approx(0.90)
    assert reward(False, 0, 0.02) == reward(False, 6, 0.02) == 0.0
    wrong_only = torch.tensor([[reward(False, n, 0.02) for n in (0, 3, 6, 9)]])
    assert not informative_groups(wrong_only).any()  # dropped: nothing to learn from a group of wrong answers


def test_on_policy_the_loss_is_minus_the_mean_advantage_and_its_gradient_the_policy_gradient():
    """With the old policy equal to the current one (one update per batch) the ratio is 1: the loss is
    -mean(A) per sequence, and its gradient is the REINFORCE gradient -A * grad log p / tokens."""
    logps = torch.tensor([[-1.0, -2.0], [-0.5, -0.1]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    advantages = torch.tensor([1.0, -2.0])
    loss, _ = policy_loss(logps, logps.detach(), None, mask, advantages, "grpo", 0.2, 0.0, 2)
    assert loss.item() == pytest.approx(-(1.0 + -2.0) / 2)
    loss.backward()
    assert torch.allclose(logps.grad, torch.tensor([[-0.25, -0.25], [1.0, 0.0]]))


class _Accelerator:
    num_processes = 1

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


def trl_loss(loss_type, logps, old_logps, ref_logps, mask, advantages, epsilon, beta, max_len, epsilon_high=None):
    """TRL's GRPOTrainer._compute_loss on these tensors: its model call replaced by the given log-probabilities."""
    from trl.trainer.grpo_trainer import GRPOTrainer

    trainer = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logps, torch.zeros_like(logps), None),
        aux_loss_enabled=False,
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=beta,
        loss_type=loss_type,
        epsilon_low=epsilon,
        epsilon_high=epsilon if epsilon_high is None else epsilon_high,
        args=SimpleNamespace(delta=None, use_bias_correction_kl=False, steps_per_generation=1),
        use_vllm=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        max_completion_length=max_len,
        _entropy_bonus_enabled=False,
        _metrics={"train": defaultdict(list)},
        accelerator=_Accelerator(),
    )
    n = logps.shape[0]
    inputs = {
        "prompt_ids": torch.zeros(n, 1, dtype=torch.long),
        "prompt_mask": torch.ones(n, 1),
        "completion_ids": torch.zeros(n, logps.shape[1], dtype=torch.long),
        "completion_mask": mask,
        "advantages": advantages,
        "old_per_token_logps": old_logps,
        "ref_per_token_logps": ref_logps,
        "num_items_in_batch": mask.sum(),  # DAPO's normaliser: the batch's tokens (one process, no accumulation)
    }
    return GRPOTrainer._compute_loss(trainer, None, inputs)


@pytest.mark.parametrize("loss_type,epsilon_high", [("grpo", None), ("dr_grpo", None), ("dapo", None), ("dapo", 0.28),
                                                    ("grpo", 0.28)])  # fmt: skip
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_the_loss_and_its_gradient_match_trls_own_code(loss_type, epsilon_high, beta):
    """GRPO's token-level losses against TRL's GRPOTrainer, DAPO's token-level aggregation and clip-higher among
    them (``grpo_loo`` is the grpo loss with another baseline)."""
    generator = torch.Generator().manual_seed(0)
    shape = (6, 5)
    base = -torch.rand(shape, generator=generator) * 3
    old = (base + 0.3 * torch.randn(shape, generator=generator)).clamp(max=0)  # ratios both inside and outside the clip
    ref = (base + 0.2 * torch.randn(shape, generator=generator)).clamp(max=0)
    mask = (torch.rand(shape, generator=generator) > 0.3).float()
    mask[:, 0] = 1.0
    advantages = group_advantages(torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]), loss_type).reshape(-1)
    ours_logps, theirs_logps = base.clone().requires_grad_(), base.clone().requires_grad_()
    ours, stats = policy_loss(ours_logps, old, ref, mask, advantages, loss_type, 0.2, beta, shape[1], epsilon_high)
    theirs = trl_loss(loss_type, theirs_logps, old, ref, mask, advantages, 0.2, beta, shape[1], epsilon_high)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-6)
    ours.backward()
    theirs.backward()
    assert torch.allclose(ours_logps.grad, theirs_logps.grad, atol=1e-6)
    assert 0.0 < stats["clip_ratio"].item() < 1.0


def trl_rloo_loss(logps, old_logps, mask, advantages, epsilon):
    """TRL's RLOOTrainer._compute_loss on these tensors: its model call replaced by the given log-probabilities."""
    from trl.trainer.rloo_trainer import RLOOTrainer

    trainer = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logps, torch.zeros_like(logps), None),
        aux_loss_enabled=False,
        epsilon_low=epsilon,
        epsilon_high=epsilon,
        model=SimpleNamespace(training=True),
        _metrics={"train": defaultdict(list)},
        accelerator=_Accelerator(),
    )
    n = logps.shape[0]
    inputs = {
        "prompt_ids": torch.zeros(n, 1, dtype=torch.long),
        "prompt_mask": torch.ones(n, 1),
        "completion_ids": torch.zeros(n, logps.shape[1], dtype=torch.long),
        "completion_mask": mask,
        "advantages": advantages,
        "old_logps": (old_logps * mask).sum(1),
    }
    return RLOOTrainer._compute_loss(trainer, None, inputs)


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_rloo_matches_trls_rloo_trainer(beta):
    """RLOO as TRL's RLOOTrainer defines it: rewards less beta x the k1 KL summed over each sequence (its code,
    read from the pinned TRL), leave-one-out advantages, and a sequence-level clipped ratio whose loss and gradient
    equal RLOOTrainer._compute_loss on the same tensors."""
    from distill.algorithms.grpo_loss import kl_in_reward

    generator = torch.Generator().manual_seed(1)
    shape = (6, 5)
    base = -torch.rand(shape, generator=generator) * 0.5
    old = (base + 0.15 * torch.randn(shape, generator=generator)).clamp(max=0)  # sequence ratios in and out of clip
    ref = (base + 0.2 * torch.randn(shape, generator=generator)).clamp(max=0)
    mask = (torch.rand(shape, generator=generator) > 0.3).float()
    mask[:, 0] = 1.0
    rewards = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    shaped = kl_in_reward(rewards, old, ref, mask, beta)
    by_hand = rewards.reshape(-1) - beta * ((old - ref) * mask).sum(-1)  # TRL: rewards - beta * sum of (old - ref)
    assert torch.allclose(shaped.reshape(-1), by_hand)
    advantages = group_advantages(shaped, "rloo").reshape(-1)
    loo = shaped - (shaped.sum(1, keepdim=True) - shaped) / 2
    assert torch.allclose(advantages, loo.reshape(-1))
    ours_logps, theirs_logps = base.clone().requires_grad_(), base.clone().requires_grad_()
    ours, stats = policy_loss(ours_logps, old, ref, mask, advantages, "rloo", 0.2, beta, shape[1])
    theirs = trl_rloo_loss(theirs_logps, old, mask, advantages, 0.2)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-6)
    ours.backward()
    theirs.backward()
    assert torch.allclose(ours_logps.grad, theirs_logps.grad, atol=1e-6)
    assert 0.0 < stats["clip_ratio"].item() < 1.0
    # the old token-level variant is another loss: per-token ratios averaged per sequence
    token_level, _ = policy_loss(base, old, ref, mask, advantages, "grpo_loo", 0.2, 0.0, shape[1])
    assert token_level.item() != pytest.approx(theirs.item(), abs=1e-4)


def test_rloo_puts_the_kl_in_the_rewards_of_its_rollouts_and_refuses_token_credit():
    from conftest import objective

    records, student, problems = small_bandit()
    torch.manual_seed(0)
    rloo = objective("grpo", student.model, 2, group_size=4, max_new_tokens=4, seed=0, loss_type="rloo", beta=0.5)
    with torch.no_grad():  # move the policy off the reference, so that the KL is not 0
        for parameter in rloo.model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    rloo.bind(student, Alternating(), problems)
    ready, stats = rloo.rollout_batch(problems)
    assert ready["advantages"].dim() == 1 and ready["old_logps"] is not None and float(stats["kl"]) != 0.0
    plain = torch.tensor([i % 2 for i in range(len(ready["advantages"]))], dtype=torch.float).view(-1, 4)
    assert not torch.allclose(ready["advantages"], group_advantages(plain, "rloo").reshape(-1))  # the KL moved them
    with pytest.raises(Exception, match="step_credit gives each token its own advantage"):
        objective("grpo", student.model, 2, loss_type="rloo", step_credit=0.5)


@pytest.mark.parametrize("mask_truncated", [False, True])
def test_samples_cut_at_max_new_tokens_leave_the_loss_when_masked(mask_truncated):
    """DAPO's overlong filter: with two new tokens at most, samples without an end of sequence are truncated; masked,
    their rows carry no loss (their rewards still count in their group's advantages)."""
    from conftest import objective

    records, student, problems = small_bandit()
    torch.manual_seed(0)
    grpo = objective("grpo", student.model, 2, group_size=4, max_new_tokens=2, seed=0, mask_truncated=mask_truncated)
    grpo.bind(student, Alternating(), problems)
    ready, stats = grpo.rollout_batch(problems)
    ends = ready["action_ids"].gather(1, (ready["action_mask"].sum(1, keepdim=True) - 1).clamp(min=0).long())[:, 0]
    if mask_truncated:
        assert 0.0 < float(stats["truncated_share"]) < 1.0
        assert (ready["action_mask"].sum(1) > 0).sum() < len(ready["action_mask"])  # some rows left the loss
        assert (ends[ready["action_mask"].sum(1) > 0] == student.eos_id).all()  # the kept ones all ended
    else:
        assert "truncated_share" not in stats and (ready["action_mask"].sum(1) > 0).all()


class Alternating:
    """Right on every other sample of a batch: every group's rewards differ, so no group is dropped."""

    name = "alternating"

    def answer(self, batch, decompositions):
        from distill.core.contracts import Answer

        return [Answer(f"Final answer: {i % 2}") for i in range(len(batch))]


class BanditAnswerer:
    """The right answer (1) exactly when the decomposition asks about the problem's own person."""

    name = "bandit"

    def answer(self, problems, decompositions):
        from distill.core.contracts import Answer

        return [
            Answer(f"Final answer: {int(d == [f'ask {p.text.split()[0]}'])}") for p, d in zip(problems, decompositions)
        ]


def test_grpo_learns_what_the_answerer_rewards_from_its_own_samples():
    """A BC student copies the data's majority ("ask Zed", never rewarded); GRPO's own samples, scored by the
    answerer, leave it and raise the sampled reward. The measurements that could fail: the greedy share of
    "ask Zed" and the mean reward of 64 samples, before and after."""
    import pytorch_lightning as pl
    from conftest import fit_steps, named_bandit_records, objective, scratch_student

    from distill.core.contracts import Problem
    from distill.measurement.rows import decompose

    pl.seed_everything(0)
    records = named_bandit_records(bad_share=0.6)
    student = scratch_student([r.problem for r in records] + ["ask Zed"], n_layer=2, d_model=64, n_head=2, d_ff=128)
    problems = sorted(
        {r.problem_id: Problem(r.problem_id, r.problem, 1.0) for r in records}.values(), key=lambda p: p.problem_id
    )

    def zed_share():
        return sum(d == ["ask Zed"] for d in decompose(student, problems, max_new_tokens=4, desc="greedy")) / len(
            problems
        )

    fit_steps(objective("bc", student.model, 150, lr=3e-3, warmup_steps=5), student, records, 150)
    grpo = objective(
        "grpo",
        student.model,
        100,
        lr=1e-3,
        warmup_steps=5,
        beta=0.0,
        subquestion_cost=0.0,
        group_size=8,
        max_new_tokens=4,
        seed=0,
    )
    grpo.bind(student, BanditAnswerer(), problems)
    assert len(grpo.make_items(student, records)) == 8  # one item per training problem
    bc_zed, bc_reward = zed_share(), grpo.rollouts(problems)[1].mean().item()
    fit_steps(grpo, student, records, 100, batch_size=4)
    zed, reward = zed_share(), grpo.rollouts(problems)[1].mean().item()
    assert bc_zed >= 0.5 and bc_reward <= 0.1  # BC imitates the majority, whose reward is 0
    assert zed == 0.0 and reward >= bc_reward + 0.2, (bc_zed, bc_reward, zed, reward)


def small_bandit():
    """The named bandit's records (half rewarded), a one-layer student over them and their problems."""
    from conftest import named_bandit_records, scratch_student

    from distill.core.contracts import Problem

    records = named_bandit_records(bad_share=0.5)
    student = scratch_student([r.problem for r in records] + ["ask Zed"], n_layer=1, d_model=32, n_head=2, d_ff=64)
    problems = sorted(
        {r.problem_id: Problem(r.problem_id, r.problem, 1.0) for r in records}.values(), key=lambda p: p.problem_id
    )
    return records, student, problems


def test_a_batch_with_nothing_to_learn_leaves_every_weight_where_it_was():
    """When every group's rewards are equal (all dropped), no optimiser step is taken. A zero loss would still
    move the weights: AdamW's momentum and weight decay, and Muon's orthogonalised update of its momentum buffer,
    which has full size however small the buffer (the drift measured on world v2 with 87.5-100% of groups
    dropped). Step 1 rewards one sample per group, building momentum; step 2 rewards nothing."""
    import pytorch_lightning as pl
    from conftest import objective

    from distill.algorithms.optim import attention_matrices
    from distill.core.contracts import Answer
    from distill.training.episodes import EpisodeDataModule

    class FirstCallOnly:
        name = "first-call"

        def __init__(self):
            self.calls = 0

        def answer(self, problems, decompositions):
            self.calls += 1
            return [Answer(f"Final answer: {int(self.calls == 1 and i % 8 == 0)}") for i in range(len(problems))]

    class Snapshots(pl.Callback):
        def __init__(self):
            self.after = []

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.after.append({n: p.detach().clone() for n, p in module.model.named_parameters()})

    pl.seed_everything(0)
    records, student, problems = small_bandit()
    grpo = objective(
        "grpo",
        student.model,
        2,
        lr=1e-2,
        warmup_steps=0,
        beta=0.0,
        subquestion_cost=0.0,
        group_size=8,
        max_new_tokens=4,
        seed=0,
        muon_lr=0.05,
        weight_decay=0.1,
    )
    grpo.bind(student, FirstCallOnly(), problems)
    assert attention_matrices(student.model)  # Muon is in play
    start = {n: p.detach().clone() for n, p in student.model.named_parameters()}
    snapshots = Snapshots()
    items = grpo.make_items(student, records)
    trainer = pl.Trainer(
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
        callbacks=[snapshots],
    )
    trainer.fit(grpo, EpisodeDataModule(items, items, student.pad_id, batch_size=len(items)))
    first, second = snapshots.after
    assert any(not torch.equal(first[n], start[n]) for n in start)  # step 1 learnt
    assert [n for n in start if not torch.equal(second[n], first[n])] == []  # step 2 moved nothing


def test_a_run_whose_groups_are_all_dropped_for_good_says_it_has_stopped_learning(monkeypatch):
    import pytorch_lightning as pl
    from conftest import objective

    import distill.algorithms.grpo as grpo_module
    from distill.core.contracts import Answer
    from distill.training.episodes import EpisodeDataModule

    class AlwaysWrong:
        name = "always-wrong"

        def answer(self, problems, decompositions):
            return [Answer("Final answer: 0") for _ in problems]

    monkeypatch.setattr(grpo_module, "STALLED_AFTER", 2)
    records, student, problems = small_bandit()
    grpo = objective("grpo", student.model, 3, group_size=4, max_new_tokens=4, seed=0, beta=0.0)
    grpo.bind(student, AlwaysWrong(), problems)
    items = grpo.make_items(student, records)
    trainer = pl.Trainer(
        max_steps=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
    )
    with pytest.warns(
        UserWarning, match="GRPO has stopped learning: every group of the last 2 rollout batches"
    ) as seen:
        trainer.fit(grpo, EpisodeDataModule(items, items, student.pad_id, batch_size=len(items)))
    assert sum("stopped learning" in str(w.message) for w in seen) == 1  # said once, not at every batch


@pytest.mark.parametrize("drop", [False, True])
def test_drop_solved_alone_drops_the_groups_of_problems_the_answerer_solves_with_no_questions(drop):
    """Half the problems are solved by the answerer alone; every group's samples disagree (alternate samples are
    right). Without the setting every group is kept; with it, only the other half."""
    from conftest import objective

    from distill.core.contracts import Answer

    records, student, problems = small_bandit()
    alone = {p.problem_id for p in problems[::2]}

    class HalfAlone:
        name = "half-alone"

        def answer(self, batch, decompositions):
            return [
                Answer(f"Final answer: {int(p.problem_id in alone if not d else i % 2 == 0)}")
                for i, (p, d) in enumerate(zip(batch, decompositions))
            ]

    torch.manual_seed(0)
    grpo = objective("grpo", student.model, 2, group_size=4, max_new_tokens=4, seed=0, drop_solved_alone=drop)
    grpo.bind(student, HalfAlone(), problems)
    ready, stats = grpo.rollout_batch(problems)
    kept = len(ready["advantages"]) // 4
    assert kept == (len(problems) - len(alone) if drop else len(problems))
    assert float(stats["dropped_groups"]) == pytest.approx(1 - kept / len(problems))


class SomeInformative:
    """Every sample of the problems in ``informative`` alternates right and wrong (a group to learn from); every
    sample of the others is wrong (a group whose rewards agree: 0, whatever the sub-questions' cost)."""

    name = "some-informative"

    def __init__(self, informative: set[str]) -> None:
        self.informative = informative

    def answer(self, batch, decompositions):
        from distill.core.contracts import Answer

        return [
            Answer(f"Final answer: {int(p.problem_id in self.informative and i % 2 == 0)}") for i, p in enumerate(batch)
        ]


@pytest.mark.parametrize("refill_rounds", [0, 1, 30])
def test_refill_rolls_out_more_problems_until_the_batch_holds_informative_groups(refill_rounds):
    """A batch of two problems whose groups agree: dropping alone leaves nothing; each refill round draws two more
    training problems, and the batch is cut at two informative groups, from the informative problems only."""
    from conftest import objective

    records, student, problems = small_bandit()
    informative = {p.problem_id for p in problems[2:]}
    torch.manual_seed(0)
    grpo = objective("grpo", student.model, 2, group_size=4, max_new_tokens=4, seed=0, refill_rounds=refill_rounds)
    grpo.bind(student, SomeInformative(informative), problems)
    ready, stats = grpo.rollout_batch(problems[:2])
    if refill_rounds == 0:
        assert ready is None and "rollout_rounds" not in stats
        return
    rounds = int(stats["rollout_rounds"])
    assert 2 <= rounds <= 1 + refill_rounds
    if refill_rounds == 30:  # (six of the eight problems are informative: two draws find two of them)
        assert int(stats["kept_groups"]) == 2 and len(ready["advantages"]) == 2 * 4
    assert ready is None or len(ready["advantages"]) == 4 * int(stats["kept_groups"])
    assert float(stats["dropped_groups"]) == pytest.approx(
        1 - (len(ready["advantages"]) / 4 if ready else 0) / (2 * rounds)
    )


def test_refill_stops_after_its_rounds_when_no_group_is_informative():
    from conftest import objective

    records, student, problems = small_bandit()
    grpo = objective("grpo", student.model, 2, group_size=4, max_new_tokens=4, seed=0, refill_rounds=3)
    grpo.bind(student, SomeInformative(set()), problems)
    ready, stats = grpo.rollout_batch(problems[:2])
    assert ready is None and int(stats["rollout_rounds"]) == 4 and float(stats["dropped_groups"]) == 1.0


def test_refill_without_dynamic_sampling_is_refused():
    from conftest import objective

    records, student, _ = small_bandit()
    with pytest.raises(Exception, match="refill_rounds refills the groups dynamic sampling drops"):
        objective("grpo", student.model, 2, refill_rounds=2, dynamic_sampling=False)


def test_rollouts_sampled_at_a_temperature_are_scored_at_that_temperature():
    """The old policy's and the reference's log-probabilities are those of the distribution the rollouts were
    sampled from (logits / temperature, as TRL): with two updates per batch the first update's ratio is 1."""
    from conftest import objective

    from distill.algorithms.logprobs import grouped_action_logps

    records, student, problems = small_bandit()
    torch.manual_seed(0)
    grpo = objective("grpo", student.model, 2, group_size=4, max_new_tokens=4, seed=0, temperature=0.5,
                     num_iterations=2)  # fmt: skip
    grpo.bind(student, Alternating(), problems)
    ready, _ = grpo.rollout_batch(problems)
    args = (ready["prompt_ids"], ready["prompt_mask"], ready["action_ids"], ready["action_mask"], 4)
    at_half = grouped_action_logps(grpo.model, *args, temperature=0.5)
    assert torch.allclose(ready["old_logps"], at_half) and torch.allclose(ready["ref_logps"], at_half)
    assert not torch.allclose(ready["old_logps"], grouped_action_logps(grpo.model, *args))
    assert torch.allclose(torch.exp(grpo.logps(grpo.model, ready) - ready["old_logps"]), torch.tensor(1.0))


def test_the_trl_peer_is_rewarded_exactly_as_ours():
    """The benchmark against TRL's GRPOTrainer gives it a reward function in TRL's calling convention: it must
    parse TRL's sampled ids as our rollouts do and score them with the same reward (right: 1 - cost x sub-questions)."""

    from distill.bench.rl import trl_reward

    records, student, problems = small_bandit()
    asked = [("ask " + problems[0].text.split()[0],), ("ask Zed",), ("ask Zed", "ask " + problems[1].text.split()[0])]
    ids = [
        sum(
            (
                student.encode(q) + (student.encode(student.delimiter) if i < len(d) - 1 else [student.eos_id])
                for i, q in enumerate(d)
            ),
            [],
        )
        for d in asked
    ]
    score = trl_reward(student, problems, BanditAnswerer(), 0.02)
    assert score(prompts=[""] * 3, completions=[""] * 3, completion_ids=ids, problem_index=[0, 0, 1]) == pytest.approx(
        [0.98, 0.0, 0.0]
    )  # the third asks two questions: not the bandit's one right decomposition


def test_num_iterations_reuses_each_batch_of_rollouts_and_the_clip_engages():
    """With num_iterations=2, the answerer is called on every other step only (the rollouts are reused), and the
    second update's ratio against the sampling policy is no longer 1: with a large learning rate some tokens
    leave the clip range (clip_ratio > 0), which one update per batch can never do."""
    import pytorch_lightning as pl
    from conftest import objective

    from distill.core.contracts import Answer
    from distill.training.episodes import EpisodeDataModule

    class Counting:
        """Rewards the first sample of every group (so every group teaches), counting its calls."""

        name, calls = "counting", 0

        def answer(self, problems, decompositions):
            Counting.calls += 1
            return [Answer(f"Final answer: {int(i % 8 == 0)}") for i in range(len(problems))]

    class ClipLog(pl.Callback):
        clip = []

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            ClipLog.clip.append(float(trainer.callback_metrics.get("train/clip_ratio", -1)))

    pl.seed_everything(0)
    records, student, problems = small_bandit()
    grpo = objective(
        "grpo",
        student.model,
        6,
        lr=1e-1,
        warmup_steps=0,
        beta=0.0,
        subquestion_cost=0.0,
        group_size=8,
        max_new_tokens=4,
        seed=0,
        num_iterations=2,
        dynamic_sampling=False,
    )
    grpo.bind(student, Counting(), problems)
    items = grpo.make_items(student, records)
    trainer = pl.Trainer(
        max_steps=6,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
        callbacks=[ClipLog()],
    )
    trainer.fit(grpo, EpisodeDataModule(items, items, student.pad_id, batch_size=len(items)))
    assert Counting.calls == 3  # steps 0, 2, 4 sample; 1, 3, 5 reuse
    assert ClipLog.clip[0::2] == [0.0, 0.0, 0.0]  # the first update of each batch: ratio 1
    assert max(ClipLog.clip[1::2]) > 0.0
    with pytest.raises(Exception, match="num_iterations must be at least 1"):  # (Hydra wraps the ValueError)
        objective("grpo", student.model, 6, num_iterations=0)


def test_each_token_knows_its_subquestion():
    records, student, problems = small_bandit()
    ask, delim, eos = student.encode("ask Zed"), student.encode(student.delimiter), [student.eos_id]
    actions = delim + ask + delim + delim + ask + eos + ask  # an empty segment first and between; junk after EOS
    assert student.parse(actions) == ["ask Zed", "ask Zed"]
    n, d = len(ask), len(delim)
    assert (
        student.subquestion_of_tokens(actions) == [None] * d + [0] * (n + d) + [None] * d + [1] * (n + 1) + [None] * n
    )


class ContainsAnswerer:
    """Right (1) when any sub-question asks about the problem's own person, wherever it stands."""

    name = "contains"

    def answer(self, problems, decompositions):
        from distill.core.contracts import Answer

        return [
            Answer(f"Final answer: {int(f'ask {p.text.split()[0]}' in d)}") for p, d in zip(problems, decompositions)
        ]


@pytest.mark.parametrize("draws", [1, 3])
def test_step_credit_adds_each_subquestions_removal_credit_to_its_tokens(draws):
    """Two samples of one problem: ["ask Zed", "ask <person>"] (right) and ["ask Zed"] (wrong); dr_grpo outcome
    advantages +0.5 and -0.5. Removal credits: in the right one "ask Zed" 0 (the answer stays right without it)
    and "ask <person>" 1; in the wrong one "ask Zed" 0. With step_credit 0.5 the tokens (terminators included)
    get 0.5 and 1.0, and -0.5; three extra answerer calls, one per sub-question, and with ``credit_draws`` each
    further draw as many again plus one per sample."""
    from conftest import objective

    records, student, problems = small_bandit()
    problem = problems[0]
    right_question = f"ask {problem.text.split()[0]}"
    grpo = objective(
        "grpo",
        student.model,
        2,
        beta=0.0,
        subquestion_cost=0.0,
        group_size=2,
        loss_type="dr_grpo",
        max_new_tokens=8,
        seed=0,
        step_credit=0.5,
        credit_draws=draws,
    )

    class Redrawable(ContainsAnswerer):
        def redrawn(self, m):  # a deterministic answerer: every draw alike, so the mean credit is the same
            return self

    answerer = Redrawable()
    grpo.bind(student, answerer, problems)
    delim, eos = student.encode(student.delimiter), [student.eos_id]
    actions = [
        student.encode("ask Zed") + delim + student.encode(right_question) + eos,
        student.encode("ask Zed") + eos,
    ]
    decompositions = [student.parse(a) for a in actions]
    answers = answerer.answer([problem] * 2, decompositions)
    grpo.rollouts = lambda batch: (actions, torch.tensor([[1.0, 0.0]]), decompositions, answers)
    ready, stats = grpo.rollout_batch([problem])
    mask = ready["action_mask"] > 0
    zed, right = len(student.encode("ask Zed")) + len(delim), len(student.encode(right_question)) + 1
    assert ready["advantages"][0][mask[0]].tolist() == pytest.approx([0.5] * zed + [1.0] * right)
    assert ready["advantages"][1][mask[1]].tolist() == pytest.approx([-0.5] * (zed - len(delim) + 1))
    assert stats["credit_calls"].item() == 3 + (draws - 1) * (3 + 2)  # each later draw: 3 removals, 2 whole answers
