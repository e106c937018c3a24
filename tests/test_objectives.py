"""DPO/IPO and group-baseline AWR: losses and weights against hand-computed values, preference pairs,
and a bandit whose right answer depends on the prompt, where BC imitates the majority and DPO must not."""

import math

import pytest
import torch
from conftest import fit_steps, named_bandit_records, objective, scratch_student

from distill.algorithms.awr import group_weights
from distill.algorithms.dpo import dpo_loss, preference_pairs
from distill.core.records import Record
from distill.measurement.decoding import LMScorer, decode_tokens
from distill.training.episodes import collate


def test_dpo_sigmoid_and_ipo_losses_by_hand():
    t = torch.tensor
    # h = (-1 - -1.5) - (-2 - -1.5) = 1.0
    args = (t([-1.0]), t([-2.0]), t([-1.5]), t([-1.5]))
    assert dpo_loss(*args, beta=0.1, loss_type="sigmoid", label_smoothing=0.0).item() == pytest.approx(
        math.log(1 + math.exp(-0.1)), abs=1e-6
    )
    smoothed = 0.9 * math.log(1 + math.exp(-0.1)) + 0.1 * math.log(1 + math.exp(0.1))
    assert dpo_loss(*args, beta=0.1, loss_type="sigmoid", label_smoothing=0.1).item() == pytest.approx(
        smoothed, abs=1e-6
    )
    assert dpo_loss(*args, beta=0.1, loss_type="ipo", label_smoothing=0.0).item() == pytest.approx((1 - 5) ** 2)
    with pytest.raises(ValueError, match="valid: sigmoid, ipo"):
        dpo_loss(*args, beta=0.1, loss_type="hinge", label_smoothing=0.0)


def test_preference_pairs_right_over_wrong_and_more_useful_among_equals():
    def rec(pid, qs, right, useful):
        return Record(pid, "P", qs, 1.0, float(right), useful)

    a, b = rec("p", ["a"], 1, [0.5]), rec("p", ["b"], 1, [1.0])
    c, d = rec("p", ["c"], 0, [1.0]), rec("p", ["c"], 0, [0.0])  # d repeats c's decomposition
    other = rec("q", ["x"], 0, [1.0])  # another problem: never paired with p's samples
    names = lambda pairs: sorted((x.subquestions[0], y.subquestions[0]) for x, y in pairs)
    assert names(preference_pairs([a, b, c, d, other], None)) == [("a", "c"), ("a", "c"), ("b", "c"), ("b", "c")]
    assert names(preference_pairs([a, b, c, d], 0.4)) == [("a", "c"), ("a", "c"), ("b", "a"), ("b", "c"), ("b", "c")]


def test_awr_group_weights_by_hand():
    recs = [
        Record("p", "P", [f"q{i}"], 1.0, c, [u])
        for i, (c, u) in enumerate([(1.0, 1.0), (0.0, 1.0), (0.0, 0.0), (1.0, 0.0)])
    ]
    recs.append(Record("q", "Q", ["z"], 1.0, 0.0, [0.0]))  # a lone sample: its own baseline, weight 1
    # correctness only: returns 1, 0, 0, 1 around a mean of 0.5
    w = group_weights(recs, temperature=0.5, max_weight=100.0, correctness_weight=1.0, usefulness_weight=0.0)
    assert w == pytest.approx([math.e, 1 / math.e, 1 / math.e, math.e, 1.0])
    # with mean usefulness: returns 2, 1, 0, 1 around 1; the clip caps exp(2) at 5
    w = group_weights(recs, temperature=0.5, max_weight=5.0, correctness_weight=1.0, usefulness_weight=1.0)
    assert w == pytest.approx([5.0, 1.0, math.exp(-2), 1.0, 1.0])
    # temperature -> 0: only each problem's best samples keep weight (Filtered BC on the best)
    w = group_weights(recs[:4], temperature=1e-4, max_weight=1e6, correctness_weight=1.0, usefulness_weight=0.0)
    assert w[1] / w[0] < 1e-12 and w[0] == w[3]


def test_collate_pads_each_sequence_of_a_pair_on_its_own():
    items = [
        {
            "chosen_input_ids": [5, 6, 7],
            "chosen_action_mask": [0, 1, 1],
            "rejected_input_ids": [5, 8],
            "rejected_action_mask": [0, 1],
            "ref_chosen_logp": -1.0,
        },
        {
            "chosen_input_ids": [5],
            "chosen_action_mask": [0],
            "rejected_input_ids": [5, 9, 9, 9],
            "rejected_action_mask": [0, 1, 1, 1],
            "ref_chosen_logp": -2.0,
        },
    ]
    batch = collate(items, pad_id=0)
    assert batch["chosen_input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["rejected_attention_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert batch["ref_chosen_logp"].tolist() == [-1.0, -2.0]


def test_dpo_learns_the_prompt_specific_choice_that_bc_does_not():
    import pytorch_lightning as pl

    pl.seed_everything(0)
    records = named_bandit_records()
    student = scratch_student([r.problem for r in records] + ["ask Zed"], n_layer=2, d_model=64, n_head=2, d_ff=128)

    def train(module, steps):
        fit_steps(module, student, records, steps)

    prompts = {r.problem_id: r.problem for r in records}

    def shares():
        """Share of prompts answered with their own name, and with the majority's "ask Zed"."""
        student.model.eval()
        ids = [student.prompt_ids(text) for text in prompts.values()]
        outs = decode_tokens(LMScorer(student.model), ids, student.eos_id, student.pad_id, max_new_tokens=4)
        parsed = [student.parse(o) for o in outs]
        right = sum(p == [f"ask {text.split()[0]}"] for p, text in zip(parsed, prompts.values())) / len(prompts)
        return right, sum(p == ["ask Zed"] for p in parsed) / len(prompts)

    train(objective("bc", student.model, 150, lr=3e-3, warmup_steps=5), 150)
    bc_right, bc_zed = shares()
    dpo = objective("dpo", student.model, 200, lr=1e-3, warmup_steps=5, beta=0.5, nll_weight=1.0)
    assert len(dpo.make_items(student, records)) == 8 * 3 * 7  # every right sample over every wrong one
    train(dpo, 200)
    right, zed = shares()
    assert bc_zed >= 0.8 and bc_right <= 0.2  # BC imitates the majority
    # DPO leaves the majority's wrong choice entirely; copying the prompt's name is imperfect at this size
    assert zed == 0.0 and right >= bc_right + 0.3
