"""Student first, LLM when unsure: confidence scores and the cascade's accuracy against cost.

    python -m distill.cascade ckpt_path=outputs/train/RUN [cascade.target.kind=deferred cascade.target.value=0.3]

The student decomposes the validation and test problems; each confidence score
(``distill.measurement.confidence``) is measured by its ROC AUC for predicting a right answer; the LLM
decomposes the same problems. On validation, a threshold is chosen for the target (a share deferred, a
budget in dollars per problem, or an accuracy; by default the LLM's own validation accuracy) with the
score that meets it best; on test, the cascade is reported across thresholds next to the student alone
and the LLM alone. Writes ``cascade.json`` and ``deferred_records.jsonl`` (the test problems sent to the
LLM at the chosen point, with the student's decompositions: for review or for the LLM to annotate) into
the run folder. Pass the same ``dataset``/``teacher``/``answerer`` choices as the run was trained with.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from distill.core.contracts import Critic, Problem
from distill.core.errors import UsageError, hydra_task
from distill.core.parts import Parts, build_parts
from distill.core.records import Record, write_json, write_records
from distill.core.secrets import redact
from distill.measurement.cascade_curve import Split, apgr, apply, choose_threshold, curve, share_for_llm_fraction
from distill.measurement.confidence import Confidence, confidence_scores, reliability
from distill.measurement.metrics import bootstrap_ci, roc_auc
from distill.measurement.rows import decode_actions, evaluate_teacher, score_decompositions
from distill.students import Student
from distill.training.saved_run import check_same_setting, load_trained

# scores that need the student's decomposition answered before deciding (the answer is then already paid)
ANSWERED_FIRST = ("answered", "agreement")


def usd(usage: dict[str, Any] | None, nominal: float) -> float:
    """Recorded dollars of a call where its usage has them, else the nominal price."""
    return float(usage["cost_usd"]) if usage and "cost_usd" in usage else nominal


@dataclass
class Measured:
    """One split, measured once: the student's records and confidence, the LLM's records, per-problem costs."""

    problems: list[Problem]
    records: list[Record]  # the student's greedy decompositions, answered
    llm_records: list[Record]  # the LLM's own decompositions of the same problems, same answerer
    confidence: Confidence
    decode_seconds: float  # per problem, greedy, batched
    answer_usd: float  # per problem: answering one decomposition
    llm_usd: np.ndarray  # per problem: the LLM's decomposition and its answer

    def split(self, score: str, prices: DictConfig) -> Split:
        """The cascade's ingredients for one score, in dollars per problem."""
        n = len(self.problems)
        seconds = self.decode_seconds + self.confidence.seconds[score] / n
        extra_usd = sum(usd(u, prices.answerer_call_usd) for u in self.confidence.answerer_usage.get(score, [])) / n
        answered_first = score in ANSWERED_FIRST
        return Split(
            scores=np.asarray(self.confidence.scores[score], dtype=float),
            student_correct=correctness(self.records),
            llm_correct=correctness(self.llm_records),
            llm_cost=self.llm_usd,
            student_cost=(
                seconds * prices.student_hour_usd / 3600 + extra_usd + (self.answer_usd if answered_first else 0.0)
            ),
            kept_cost=0.0 if answered_first else self.answer_usd,
        )


def correctness(records: list[Record]) -> np.ndarray:
    return np.array([r.answer_correctness or 0.0 for r in records])  # a failed answer call counts as wrong


def measure(cfg: DictConfig, student: Student, parts: Parts, split: str, critic: Critic | None) -> Measured:
    c = cfg.cascade
    problems: list[Problem] = parts.dataset.load(split)
    start = time.perf_counter()
    actions = decode_actions(student, problems, c.batch_size, desc=f"student decomposes ({split})")
    decode_seconds = (time.perf_counter() - start) / max(1, len(problems))
    _, records = score_decompositions(problems, [student.parse(a) for a in actions], parts.answerer, None, student.name)
    confidence = confidence_scores(
        student,
        problems,
        actions,
        [r.answerer_output for r in records],
        parts.answerer,
        c.n_samples,
        c.temperature,
        cfg.seed,
        c.batch_size,
        critic,
    )
    _, llm_records = evaluate_teacher(parts.teacher, problems, parts.answerer, None, parts.dataset.records(split))
    llm_usd = np.array(
        [
            usd(r.usage.get("teacher"), c.prices.llm_call_usd)
            + usd(r.usage.get("answerer"), c.prices.answerer_call_usd)
            for r in llm_records
        ]
    )
    answer_usd = float(np.mean([usd(r.usage.get("answerer"), c.prices.answerer_call_usd) for r in records]))
    return Measured(problems, records, llm_records, confidence, decode_seconds, answer_usd, llm_usd)


def score_quality(v: Any, t: Any, test_curve: list[Any], alone: tuple[float, float], bins: int) -> dict[str, Any]:
    """How well one confidence score ranks the student's right answers (ROC AUC on test and validation,
    reliability), and the cascade on it: APGR on test, LLM calls for 95% of the LLM's accuracy."""
    return {
        "roc_auc": roc_auc(t.scores.tolist(), (t.student_correct > 0).tolist()),
        "val_roc_auc": roc_auc(v.scores.tolist(), (v.student_correct > 0).tolist()),
        "reliability": reliability(t.scores.tolist(), t.student_correct.tolist(), bins),
        "apgr": apgr([point for _, point in test_curve], *alone),
        "llm_share_for_95": share_for_llm_fraction(v, t, 0.95),
    }


def rows_of(student_correct: Any, llm_correct: Any, test: Any, prices: Any) -> dict[str, dict[str, Any]]:
    """The student's and the LLM's rows on test: accuracy with its interval, cost per problem, latency."""
    return {
        "student": {
            "accuracy": float(student_correct.mean()),
            "accuracy_ci95": bootstrap_ci(student_correct.tolist()),
            "cost": test.decode_seconds * prices.student_hour_usd / 3600 + test.answer_usd,
            "latency_s": test.decode_seconds,
        },
        "llm": {
            "accuracy": float(llm_correct.mean()),
            "accuracy_ci95": bootstrap_ci(llm_correct.tolist()),
            "cost": float(test.llm_usd.mean()),
            "latency_s": prices.llm_latency_s,
            "cost_source": "usage"
            if any("cost_usd" in r.usage.get("teacher", {}) for r in test.llm_records)
            else "nominal",
        },
    }


def on_validation(v: Any, kind: str, target: float) -> tuple[bool, float]:
    """How well a score (its validation split ``v``) meets the target: reached first, then cheaper (accuracy
    target) or more accurate (share or budget target)."""
    threshold, reached = choose_threshold(v, kind, target)
    point = apply(v, threshold)
    return reached, -point.cost if kind == "accuracy" else point.accuracy


def chosen_point(test_split: Any, score: str, threshold: float, reached: bool) -> dict[str, Any]:
    """The cascade at the threshold chosen on validation, measured on test, with its accuracy's interval."""
    deferred_or_not = np.where(test_split.scores < threshold, test_split.llm_correct, test_split.student_correct)
    return {
        "score": score,
        "val_share": None,
        **finite(asdict(apply(test_split, threshold))),
        "chosen": True,
        "target_reached_on_validation": reached,
        "accuracy_ci95": bootstrap_ci(deferred_or_not.tolist()),
    }


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    if cfg.get("threads"):
        torch.set_num_threads(cfg.threads)
    c = cfg.cascade
    student, _, critic, folder = load_trained(cfg.ckpt_path)
    mismatch = check_same_setting(folder, cfg)
    parts = build_parts(cfg)
    val = measure(cfg, student, parts, c.val_split, critic)
    test = measure(cfg, student, parts, cfg.dataset.split, critic)
    scores = list(test.confidence.scores)
    if c.score is not None and c.score not in scores:
        raise UsageError(f"cascade.score={c.score!r} is not measured for this student; valid: {', '.join(scores)}")
    splits = {s: (val.split(s, c.prices), test.split(s, c.prices)) for s in scores}
    # the default target: the LLM's own accuracy on validation
    target = c.target.value if c.target.value is not None else float(correctness(val.llm_records).mean())

    # RouteLLM's figures per score, on test: APGR over the validation-chosen curve, and the share of LLM calls
    # that reaches 95% of the LLM's accuracy (the threshold chosen on validation)
    curves = {s: curve(v, t, list(np.linspace(0, 1, c.n_points))) for s, (v, t) in splits.items()}
    alone = {s: (float(t.student_correct.mean()), float(t.llm_correct.mean())) for s, (_, t) in splits.items()}
    confidence = {s: score_quality(v, t, curves[s], alone[s], c.reliability_bins) for s, (v, t) in splits.items()}

    chosen_score = c.score or max(scores, key=lambda score: on_validation(splits[score][0], c.target.kind, target))
    threshold, reached = choose_threshold(splits[chosen_score][0], c.target.kind, target)

    points = [
        {"score": s, "val_share": share, **finite(asdict(point)), "chosen": False}
        for s in splits
        for share, point in curves[s]
    ]
    test_split = splits[chosen_score][1]
    chosen = chosen_point(test_split, chosen_score, threshold, reached)
    points.append(chosen)
    n = len(test.problems)
    result = {
        "split": cfg.dataset.split,
        "val_split": c.val_split,
        "n_problems": n,
        "answerer": parts.answerer.name,
        "teacher": parts.teacher.name,
        "params": student.n_params,
        "confidence": confidence,
        "target": {"kind": c.target.kind, "value": target, "score": chosen_score},
        "points": points,
        "chosen": chosen,
        **rows_of(correctness(test.records), correctness(test.llm_records), test, c.prices),
        "chosen_latency_s": test.decode_seconds
        + test.confidence.seconds[chosen_score] / n
        + chosen["deferred"] * c.prices.llm_latency_s,
        "config": redact(OmegaConf.to_container(cfg, resolve=True)),
        "setting_mismatch": mismatch,
    }
    write_json(out_dir / "cascade.json", result)
    deferred = [mark(r, s) for r, s in zip(test.records, test_split.scores) if s < threshold]
    write_records(out_dir / "deferred_records.jsonl", deferred)
    return result


def finite(point: dict[str, Any]) -> dict[str, Any]:
    """JSON has no infinity: an infinite threshold (defer everything) is written as null."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in point.items()}


def mark(record: Record, score: float) -> Record:
    record.meta.update(cascade_deferred=True, cascade_score=float(score))
    return record


def print_cascade(result: dict[str, Any], out_dir: Path) -> None:
    print(f"\n{'score':16s} {'ROC AUC':>8s} {'val AUC':>8s} {'APGR':>8s} {'LLM share for 95%':>18s}")
    for name, c in result["confidence"].items():
        auc = lambda x: f"{x:8.3f}" if x is not None else f"{'n/a':>8s}"  # noqa: E731
        print(
            f"{name:16s} {auc(c['roc_auc'])} {auc(c['val_roc_auc'])} {auc(c['apgr'])} "
            f"{c['llm_share_for_95']['llm_share']:18.3f}"
        )
    s, llm, ch = result["student"], result["llm"], result["chosen"]
    print(f"\n{'':10s} {'accuracy':>9s} {'deferred':>9s} {'$ / 1k problems':>16s}")
    print(f"{'student':10s} {s['accuracy']:9.3f} {0.0:9.3f} {1000 * s['cost']:16.4g}")
    print(
        f"{'cascade':10s} {ch['accuracy']:9.3f} {ch['deferred']:9.3f} {1000 * ch['cost']:16.4g}  "
        f"(defer {result['target']['score']} < {ch['threshold']}; target {result['target']['kind']} "
        f"{result['target']['value']:.3f} on {result['val_split']})"
    )
    print(f"{'LLM':10s} {llm['accuracy']:9.3f} {1.0:9.3f} {1000 * llm['cost']:16.4g}  ({llm['cost_source']} prices)")
    print(f"cascade in {out_dir / 'cascade.json'}")


@hydra.main(config_path="../conf", config_name="cascade", version_base="1.3")
@hydra_task
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    result = run(cfg, out_dir)
    print_cascade(result, out_dir)
    return result["chosen"]["accuracy"]


if __name__ == "__main__":
    main()
