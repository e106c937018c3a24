"""ILQL against cases with known answers."""

import pytest
import torch
from conftest import fit_steps, named_bandit_records, objective, scratch_student

from distill.algorithms.ilql import ILQLScorer, ValueHeads, ilql_losses, token_rewards
from distill.measurement.decoding import LMScorer, decode_tokens


def fit_tables(actions, rewards, mask, n_states, n_actions, gamma, tau, steps=3000, cql=0.0):
    """Free Q tables (two heads) and a V table, trained by the ILQL losses alone.

    State t of every episode is table row t; the target Q heads follow the online ones with Polyak
    rate 1, so that the fixed point is the closed-form one.
    """
    torch.manual_seed(0)
    q = [torch.zeros(n_states, n_actions, requires_grad=True) for _ in range(2)]
    v = torch.zeros(n_states + 1, requires_grad=True)
    opt = torch.optim.Adam(q + [v], lr=0.05)
    B, T = actions.shape
    for _ in range(steps):
        qs = [qi[:T].expand(B, T, n_actions) for qi in q]
        target = [qi.detach()[:T].expand(B, T, n_actions) for qi in q]
        losses = ilql_losses(qs, target, v[: T + 1].expand(B, T + 1), actions, rewards, mask, gamma, tau, cql)
        opt.zero_grad()
        losses.total.backward()
        opt.step()
    return [qi.detach() for qi in q], v.detach()


def test_one_step_bandit_closed_form():
    """One state, two actions seen equally often, rewards 1 and 0: Q = r, V = expectile_tau{1, 0} = tau."""
    actions = torch.tensor([[0], [1]] * 8)
    rewards = torch.tensor([[1.0], [0.0]] * 8)
    mask = torch.ones_like(rewards)
    for tau in (0.5, 0.9):
        q, v = fit_tables(actions, rewards, mask, 1, 2, gamma=0.99, tau=tau)
        for qi in q:
            assert qi[0].tolist() == pytest.approx([1.0, 0.0], abs=0.02)
        assert v[0].item() == pytest.approx(tau, abs=0.02)


def test_two_step_chain_closed_form():
    """s0 -a0-> s1, then a0 (reward 1) or a1 (reward 0) in equal shares; gamma discounts the bootstrap.

    Q(s1, a0) = 1, Q(s1, a1) = 0, V(s1) = tau; Q(s0, a0) = 0 + gamma * V(s1); V(s0) = Q(s0, a0).
    """
    gamma, tau = 0.9, 0.8
    actions = torch.tensor([[0, 0], [0, 1]] * 8)
    rewards = torch.tensor([[0.0, 1.0], [0.0, 0.0]] * 8)
    mask = torch.ones_like(rewards)
    q, v = fit_tables(actions, rewards, mask, 2, 2, gamma, tau)
    assert q[0][1].tolist() == pytest.approx([1.0, 0.0], abs=0.02)
    assert v[1].item() == pytest.approx(tau, abs=0.02)
    assert q[0][0, 0].item() == pytest.approx(gamma * tau, abs=0.02)
    assert v[0].item() == pytest.approx(gamma * tau, abs=0.02)


def test_bellman_target_sign_and_detached_bootstrap():
    q = [torch.tensor([[[0.0, 0.0], [0.0, 0.0]]], requires_grad=True)]
    v = torch.tensor([[0.0, 2.0, 0.0]], requires_grad=True)
    actions = torch.tensor([[0, 0]])
    rewards = torch.tensor([[1.0, 0.0]])
    mask = torch.tensor([[1.0, 0.0]])  # one real step, then padding: step 0 is terminal
    losses = ilql_losses(q, [q[0].detach()], v, actions, rewards, mask, gamma=0.5, tau=0.5, cql_weight=0.0)
    # terminal: target = r = 1, Q loss = (0 - 1)^2
    assert losses.q.item() == pytest.approx(1.0)
    mask = torch.tensor([[1.0, 1.0]])  # now step 1 is an action: target_0 = 1 + 0.5 * V(s1) = 2
    losses = ilql_losses(q, [q[0].detach()], v, actions, rewards, mask, gamma=0.5, tau=0.5, cql_weight=0.0)
    assert losses.q.item() == pytest.approx((0 - 2.0) ** 2 / 2 + (0 - 0.0) ** 2 / 2)
    losses.q.backward()
    assert v.grad is None or torch.all(v.grad == 0)  # the bootstrap V(s') is detached


def test_masks_exclude_prompt_padding_and_cql_is_masked():
    torch.manual_seed(0)
    q = [torch.randn(2, 4, 5), torch.randn(2, 4, 5)]
    v = torch.randn(2, 5)
    actions = torch.randint(0, 5, (2, 4))
    rewards = torch.randn(2, 4)
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    base = ilql_losses(q, q, v, actions, rewards, mask, 0.9, 0.7, 1.0)
    # change everything at masked steps (Q, rewards, actions): no loss term may move
    q2 = [qi.clone() for qi in q]
    rewards2, actions2 = rewards.clone(), actions.clone()
    off = mask == 0
    for qi in q2:
        qi[off] = torch.randn_like(qi[off]) * 100
    rewards2[off] = 1000.0
    actions2[off] = (actions2[off] + 1) % 5
    other = ilql_losses(q2, q2, v, actions2, rewards2, mask, 0.9, 0.7, 1.0)
    for name in ["q", "v", "cql"]:
        assert getattr(other, name).item() == pytest.approx(getattr(base, name).item(), rel=1e-5), name


def test_polyak_moves_targets_by_exactly_the_rate():
    heads = ValueHeads(4, 6)
    before = [p.clone() for p in heads.target_q.parameters()]
    with torch.no_grad():
        for p in heads.q.parameters():
            p.add_(1.0)
    online = [p.clone() for p in heads.q.parameters()]
    heads.polyak_update(0.1)
    for b, o, t in zip(before, online, heads.target_q.parameters()):
        assert torch.allclose(t, 0.9 * b + 0.1 * o)


def test_token_rewards_full_and_sparse():
    full = token_rewards([5, 9], [1.0, 0.5], 1.0, 10, usefulness_weight=1.0, correctness_weight=1.0)
    assert full[5] == 1.0 and full[9] == 1.5 and sum(full) == 2.5
    sparse = token_rewards([5, 9], [1.0, 0.5], 1.0, 10, usefulness_weight=0.0, correctness_weight=1.0)
    assert sparse[9] == 1.0 and sum(sparse) == 1.0


def _bandit_records(n_prompts=12, bad_share=0.7):
    from distill.core.records import Record

    names = ["Tom", "Anna", "Ben", "Cara", "Dan", "Eve", "Finn", "Gia", "Hugo", "Iris", "Jack", "Kim"][:n_prompts]
    records = []
    for name in names:
        for i in range(10):
            good = i >= round(10 * bad_share)
            records.append(
                Record(
                    f"p-{name}",
                    f"{name} picks one thing .",
                    ["good choice" if good else "bad choice"],
                    1.0,
                    float(good),
                    None,
                )
            )
    return records


def test_value_guided_decoding_prefers_the_rewarded_continuation():
    """A bandit: 'bad' is the data's majority (BC's greedy choice), only 'good' is rewarded."""
    import pytorch_lightning as pl

    pl.seed_everything(0)
    records = _bandit_records()
    student = scratch_student(
        [r.problem for r in records] + ["good choice bad choice"], n_layer=1, d_model=32, n_head=2, d_ff=64
    )

    def train(module, steps):
        fit_steps(module, student, records, steps)

    train(objective("bc", student.model, 150, lr=3e-3, warmup_steps=5), 150)
    student.model.requires_grad_(False)
    ilql = objective(
        "ilql",
        student.model,
        300,
        lr=3e-3,
        warmup_steps=5,
        gamma=0.99,
        tau=0.7,
        cql_weight=0.01,
        polyak_rate=0.05,
        usefulness_weight=0.0,
        correctness_weight=1.0,
    )
    train(ilql, 300)
    student.model.eval()
    ilql.eval()

    prompts = [student.prompt_ids(r.problem) for r in records[::10]]
    good = student.tokenizer.convert_tokens_to_ids("good")

    def share_good(scorer):
        outs = decode_tokens(scorer, prompts, student.eos_id, student.pad_id, max_new_tokens=4)
        return sum(o[0] == good for o in outs) / len(outs)

    bc_share = share_good(LMScorer(student.model))
    guided = share_good(ILQLScorer(student.model, ilql.trunk, ilql.heads, beta=4.0))
    assert bc_share <= 0.2  # BC imitates the majority
    assert guided >= 0.8 and guided > bc_share
    # beta = 0 is exactly BC greedy decoding
    plain = decode_tokens(LMScorer(student.model), prompts, student.eos_id, student.pad_id, max_new_tokens=4)
    zero = decode_tokens(
        ILQLScorer(student.model, ilql.trunk, ilql.heads, beta=0.0),
        prompts,
        student.eos_id,
        student.pad_id,
        max_new_tokens=4,
    )
    assert zero == plain


def test_top_k_restricts_to_the_policys_top_tokens():
    torch.manual_seed(0)
    student = scratch_student(["a b c d e f g h"], n_layer=1, d_model=16, n_head=2, d_ff=32)
    heads = ValueHeads(16, student.model.get_output_embeddings().weight.shape[0])
    prompt = [student.prompt_ids("a b c")]
    ids, mask = torch.tensor(prompt), torch.ones(1, len(prompt[0]), dtype=torch.long)
    pos = torch.arange(len(prompt[0]))[None]
    logp = LMScorer(student.model).prefill(ids, mask, pos)
    scores = ILQLScorer(student.model, student.model, heads, beta=100.0, top_k=3).prefill(ids, mask, pos)
    allowed = torch.isfinite(scores[0]).nonzero().flatten().tolist()
    assert sorted(allowed) == sorted(logp[0].topk(3).indices.tolist())


def test_n_step_targets_one_step_and_monte_carlo_by_hand():
    from distill.algorithms.ilql import n_step_targets

    # one episode of three actions after a prompt step, then padding; gamma 0.5
    rewards = torch.tensor([[9.0, 1.0, 2.0, 4.0, 7.0]])
    mask = torch.tensor([[0.0, 1.0, 1.0, 1.0, 0.0]])
    next_v = torch.tensor([[10.0, 20.0, 30.0, 40.0, 50.0]])  # V of the state after each step
    one = n_step_targets(rewards, next_v, mask, 0.5, 1)
    # r_t + 0.5 V(s_t+1) while the next step is an action; the last action has no bootstrap
    assert (one * mask).tolist() == [[0.0, 1 + 0.5 * 20, 2 + 0.5 * 30, 4.0, 0.0]]
    two = n_step_targets(rewards, next_v, mask, 0.5, 2)
    assert (two * mask).tolist() == [[0.0, 1 + 0.5 * 2 + 0.25 * 30, 2 + 0.5 * 4, 4.0, 0.0]]
    mc = n_step_targets(rewards, next_v, mask, 0.5, None)
    assert (mc * mask).tolist() == [[0.0, 1 + 0.5 * 2 + 0.25 * 4, 2 + 0.5 * 4, 4.0, 0.0]]
    with pytest.raises(ValueError, match="n_step"):
        n_step_targets(rewards, next_v, mask, 0.5, 0)


def test_two_step_chain_closed_form_with_monte_carlo_targets():
    """Monte Carlo targets on the two-step chain: Q(s0, a0) is the mean discounted return, gamma * 0.5."""
    gamma, tau = 0.9, 0.5
    actions = torch.tensor([[0, 0], [0, 1]] * 8)
    rewards = torch.tensor([[0.0, 1.0], [0.0, 0.0]] * 8)
    mask = torch.ones_like(rewards)
    torch.manual_seed(0)
    q = [torch.zeros(2, 2, requires_grad=True) for _ in range(2)]
    v = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam(q + [v], lr=0.05)
    for _ in range(2000):
        qs = [qi.expand(16, 2, 2) for qi in q]
        losses = ilql_losses(
            qs,
            [qi.detach().expand(16, 2, 2) for qi in q],
            v.expand(16, 3),
            actions,
            rewards,
            mask,
            gamma,
            tau,
            0.0,
            n_step=None,
        )
        opt.zero_grad()
        losses.total.backward()
        opt.step()
    assert q[0][0, 0].item() == pytest.approx(gamma * 0.5, abs=0.02)
    assert q[0][1].tolist() == pytest.approx([1.0, 0.0], abs=0.02)


def test_centred_usefulness_makes_a_useless_question_cost():
    paper = token_rewards([5, 9], [1.0, 0.0], 1.0, 10, usefulness_weight=1.0, correctness_weight=1.0)
    centred = token_rewards(
        [5, 9], [1.0, 0.0], 1.0, 10, usefulness_weight=1.0, correctness_weight=1.0, usefulness_baseline=0.5
    )
    assert paper[5] == 1.0 and paper[9] == 1.0  # the useless question is free
    assert centred[5] == 0.5 and centred[9] == -0.5 + 1.0  # and now it costs as much as a useful one earns


def test_polyak_moves_once_per_optimiser_step_under_gradient_accumulation(monkeypatch):
    import pytorch_lightning as pl

    from distill.training.episodes import EpisodeDataModule

    records = _bandit_records(n_prompts=4)
    student = scratch_student(
        [r.problem for r in records] + ["good choice bad choice"], n_layer=1, d_model=16, n_head=2, d_ff=32
    )
    ilql = objective("ilql", student.model, 5)
    calls = []
    monkeypatch.setattr(ilql.heads, "polyak_update", lambda rate: calls.append(rate))
    items = ilql.make_items(student, records)
    trainer = pl.Trainer(
        max_steps=5,
        accumulate_grad_batches=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
    )
    trainer.fit(ilql, EpisodeDataModule(items, items, student.pad_id, batch_size=2))
    assert trainer.global_step == 5 and len(calls) == 5


def test_advantage_standardised_per_state_over_the_candidates():
    from distill.algorithms.ilql import standardize

    values = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[True, True, True, False]])
    z = standardize(values, mask)
    assert z[0, :3].tolist() == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-3)


def test_value_guidance_finds_a_choice_that_depends_on_the_prompt():
    """Which token is right depends on the prompt (the name it contains), not on a fixed word."""
    import pytorch_lightning as pl

    pl.seed_everything(0)
    records = named_bandit_records()
    student = scratch_student([r.problem for r in records] + ["ask Zed"], n_layer=2, d_model=64, n_head=2, d_ff=128)

    def train(module, steps):
        fit_steps(module, student, records, steps)

    train(objective("bc", student.model, 300, lr=3e-3, warmup_steps=5), 300)
    student.model.requires_grad_(False)
    ilql = objective(
        "ilql",
        student.model,
        400,
        lr=3e-3,
        warmup_steps=5,
        gamma=0.99,
        tau=0.7,
        cql_weight=0.01,
        polyak_rate=0.05,
        usefulness_weight=0.0,
        correctness_weight=1.0,
        n_step=None,
    )
    train(ilql, 400)
    prompts = [
        student.prompt_ids(f"{n} has one thing .") for n in ["Tom", "Anna", "Ben", "Cara", "Dan", "Eve", "Finn", "Gia"]
    ]
    names = ["Tom", "Anna", "Ben", "Cara", "Dan", "Eve", "Finn", "Gia"]

    def picks(scorer):
        outs = decode_tokens(scorer, prompts, student.eos_id, student.pad_id, max_new_tokens=4)
        parsed = [student.parse(o) for o in outs]
        right = sum(p == [f"ask {n}"] for p, n in zip(parsed, names)) / len(names)
        return right, sum(p == ["ask Zed"] for p in parsed) / len(names)

    bc_right, bc_zed = picks(LMScorer(student.model))
    right, zed = picks(ILQLScorer(student.model, ilql.trunk, ilql.heads, beta=8.0, top_k=3))
    assert bc_zed >= 0.8  # greedy BC asks the majority's Zed
    assert zed <= 0.2 and right >= 0.6, (right, zed)
