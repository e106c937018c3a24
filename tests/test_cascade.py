"""The cascade: hand-made cases with known curve points, confidence scores checked against direct
computation, and the command end to end on a tiny trained student."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import compose_config, scratch_student

from distill import cascade, train
from distill.measurement.cascade_curve import (
    Point,
    Split,
    apgr,
    apply,
    choose_threshold,
    curve,
    share_for_llm_fraction,
    threshold_for_share,
)
from distill.measurement.confidence import action_logprobs, reliability
from distill.measurement.decoding import LMScorer, decode_tokens


def hand_made(**changes) -> Split:
    """Four problems: the student is right on its two surest, the LLM on all but the second."""
    fields = dict(
        scores=np.array([0.9, 0.8, 0.3, 0.1]),
        student_correct=np.array([1.0, 1.0, 0.0, 0.0]),
        llm_correct=np.array([1.0, 0.0, 1.0, 1.0]),
        llm_cost=np.ones(4),
        student_cost=0.1,
        kept_cost=0.05,
    )
    return Split(**{**fields, **changes})


def test_cascade_points_of_a_hand_made_case():
    split = hand_made()
    alone = apply(split, -math.inf)
    assert (alone.deferred, alone.accuracy, alone.cost) == (0.0, 0.5, pytest.approx(0.15))
    half = apply(split, 0.5)  # the two unsure problems go to the LLM, which gets both right
    assert (half.deferred, half.accuracy) == (0.5, 1.0)
    assert half.cost == pytest.approx(0.1 + (0.05 + 0.05 + 1 + 1) / 4)
    everything = apply(split, math.inf)
    assert (everything.deferred, everything.accuracy, everything.cost) == (1.0, 0.75, pytest.approx(1.1))


def test_thresholds_for_a_share_never_defer_more_and_keep_ties_together():
    scores = np.array([0.9, 0.8, 0.3, 0.1])
    assert threshold_for_share(scores, 0.5) == 0.8  # defers 0.1 and 0.3
    assert threshold_for_share(scores, 0.6) == 0.8
    assert threshold_for_share(scores, 1.0) == math.inf
    assert np.mean(scores < threshold_for_share(scores, 0.0)) == 0.0
    tied = np.array([0.5, 0.5, 0.5, 0.9])
    assert threshold_for_share(tied, 0.5) == 0.5  # deferring any of the ties would defer 3 of 4
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        threshold_for_share(scores, 1.5)


def test_choose_threshold_for_each_target():
    split = hand_made()
    assert choose_threshold(split, "accuracy", 1.0) == (0.8, True)  # the cheapest cascade reaching 1.0
    assert choose_threshold(split, "accuracy", 1.01) == (math.inf, False)
    # costs per threshold: 0.1 -> 0.15 (acc 0.5), 0.3 -> 0.3875 (acc 0.75), 0.8 -> 0.625 (acc 1.0)
    assert choose_threshold(split, "budget", 0.4) == (0.3, True)
    assert choose_threshold(split, "budget", 0.01) == (0.1, False)
    assert choose_threshold(split, "deferred", 0.3) == (0.3, True)
    with pytest.raises(ValueError, match="valid: deferred, budget, accuracy"):
        choose_threshold(split, "latency", 1.0)


def test_curve_applies_validation_thresholds_unchanged_on_test():
    validation = hand_made()
    test = hand_made(scores=np.array([0.85, 0.2, 0.75, 0.95]))
    ((share, point),) = curve(validation, test, [0.5])
    assert share == 0.5 and point.threshold == 0.8  # chosen on validation
    assert point.deferred == 0.5  # on test, 0.2 and 0.75 fall below it
    assert point.accuracy == 0.5  # kept: student right (1st), wrong (4th); deferred: LLM wrong (2nd), right (3rd)


def test_apgr_and_the_llm_share_for_95_percent_worked_by_hand():
    split = hand_made()  # student alone 0.5, LLM alone 0.75: the gap is 0.25
    points = [apply(split, t) for t in (0.3, 0.8)]  # (0.25 deferred, 0.75), (0.5, 1.0)
    # PGR at shares 0, 0.25, 0.5, 1: 0, 1, 2, 1; trapezoids 0.125 + 0.375 + 0.75 (beyond 1: it beats the LLM)
    assert apgr(points, 0.5, 0.75) == pytest.approx(1.25)
    on_the_line = [Point(0.0, x, 0.5 + 0.25 * x, 0.0) for x in (0.2, 0.6)]  # deferring at random
    assert apgr(on_the_line, 0.5, 0.75) == pytest.approx(0.5)
    assert apgr(points, 0.75, 0.75) is None  # no gap to recover
    # 95% of the LLM's 0.75 is 0.7125: the cheapest validation cascade reaching it defers 1 of 4 (threshold 0.3)
    assert share_for_llm_fraction(split, split, 0.95) == {
        "fraction": 0.95,
        "llm_share": 0.25,
        "accuracy": 0.75,
        "llm_accuracy": 0.75,
        "reached_on_validation": True,
    }


def test_split_lengths_must_agree():
    with pytest.raises(ValueError, match="llm_correct has 3 entries for 4 scores"):
        hand_made(llm_correct=np.ones(3))


def test_reliability_bins_by_quantile_and_keeps_ties():
    bins = reliability([0.1, 0.4, 0.2, 0.3], [0, 1, 0, 1], n_bins=2)
    assert [(b["score_mean"], b["accuracy"], b["n"]) for b in bins] == [
        (pytest.approx(0.15), 0.0, 2),
        (pytest.approx(0.35), 1.0, 2),
    ]
    assert [b["n"] for b in reliability([0.5] * 4, [0, 1, 1, 1], n_bins=2)] == [4]


def test_action_logprobs_are_the_greedy_steps_log_probabilities():
    """Teacher-forced log-probabilities of greedy tokens equal the maximum of each decoding step's
    log-softmax, for prompts of different lengths decoded in one padded batch."""
    torch.manual_seed(0)
    student = scratch_student(["a b c d e f g h"] * 4, n_layer=1, d_model=16, n_head=2, d_ff=32)
    prompts = [student.encode("a b c"), student.encode("d e f g h a")]
    outputs = decode_tokens(LMScorer(student.model), prompts, student.eos_id, student.pad_id, max_new_tokens=5)
    got = action_logprobs(student.model, prompts, outputs, student.pad_id)
    for prompt, out, logps in zip(prompts, outputs, got):
        ids = list(prompt)
        for token, logp in zip(out, logps):
            with torch.no_grad():
                step = torch.log_softmax(student.model(input_ids=torch.tensor([ids])).logits[0, -1], -1)
            assert int(step.argmax()) == token
            assert float(step.max()) == pytest.approx(float(logp), abs=1e-4)
            ids.append(token)
        assert len(logps) == len(out)


SHRINK = [
    "student=tiny",
    "dataset.sizes.train=120",
    "dataset.sizes.validation=30",
    "dataset.sizes.test=40",
    "data.samples_per_problem=2",
    "data.max_val_problems=20",
    "trainer.val_check_interval=20",
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = compose_config(
        "train",
        SHRINK
        + [
            "algorithm=bc",
            "logger=none",
            "trainer.max_steps=40",
            "trainer.enable_progress_bar=false",
            "stage_cache=null",
        ],
    )
    train.run(cfg, out)
    return out


def test_cascade_command_end_to_end(trained_run):
    data = [o for o in SHRINK if o.startswith("dataset.")]
    cfg = compose_config("cascade", [f"ckpt_path={trained_run}", "cascade.n_samples=2", "cascade.n_points=5"] + data)
    result = cascade.run(cfg, trained_run)
    on_disk = json.loads((trained_run / "cascade.json").read_text())
    assert on_disk["chosen"] == result["chosen"] and on_disk["n_problems"] == 40
    assert set(on_disk["confidence"]) == {"sequence_prob", "min_token_prob", "mean_token_prob", "answered", "agreement"}
    for c in on_disk["confidence"].values():
        assert c["roc_auc"] is None or 0.0 <= c["roc_auc"] <= 1.0
        assert sum(b["n"] for b in c["reliability"]) == 40
        assert c["apgr"] is None or c["apgr"] >= 0.0
        assert 0.0 <= c["llm_share_for_95"]["llm_share"] <= 1.0
    saved = json.loads((trained_run / "results.json").read_text())
    assert on_disk["student"]["accuracy"] == saved["student"]["accuracy"]  # the same greedy decompositions
    assert on_disk["llm"]["accuracy"] == saved["teacher"]["accuracy"]
    assert on_disk["llm"]["cost"] == pytest.approx(0.002) and on_disk["llm"]["cost_source"] == "nominal"
    for score in on_disk["confidence"]:
        curve_points = [p for p in on_disk["points"] if p["score"] == score and not p["chosen"]]
        assert [p["val_share"] for p in curve_points] == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert curve_points[-1]["deferred"] == 1.0 and curve_points[-1]["threshold"] is None
        assert curve_points[-1]["accuracy"] == on_disk["llm"]["accuracy"]  # everything deferred: the LLM
        assert all(a["cost"] <= b["cost"] + 1e-12 for a, b in zip(curve_points, curve_points[1:]))
    # the deferred problems at the chosen point, with the student's decompositions, for review
    deferred = (trained_run / "deferred_records.jsonl").read_text().splitlines()
    assert len(deferred) == round(on_disk["chosen"]["deferred"] * 40)
    assert all(json.loads(line)["meta"]["cascade_deferred"] for line in deferred)


def test_cascade_names_valid_scores(trained_run):
    cfg = compose_config(
        "cascade",
        [
            f"ckpt_path={trained_run}",
            "cascade.n_samples=0",
            "cascade.score=value",
            "dataset.sizes.validation=5",
            "dataset.sizes.test=5",
        ],
    )
    with pytest.raises(ValueError, match="valid: sequence_prob, min_token_prob, mean_token_prob, answered"):
        cascade.run(cfg, trained_run)
