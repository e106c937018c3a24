"""The student next to the teacher on one split: ``results.json``, the decomposition records, the test
metrics sent to the logger, and the summary printed at the end of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import Logger

from distill.core.contracts import Answerer, Critic, Problem, ScorerFactories, Teacher
from distill.core.parts import Parts
from distill.core.records import Record, write_json, write_records
from distill.measurement.rows import evaluate_student, evaluate_teacher, score_decompositions, student_selectors
from distill.measurement.selectors import Sampling
from distill.students import Student


def side_by_side(
    student: Student,
    problems: list[Problem],
    parts: Parts,
    given: list[Record] | None,
    scorers: ScorerFactories,
    batch_size: int,
    critic: Critic | None = None,
    sampling: Sampling | None = None,
) -> tuple[dict[str, Any], list[Record], list[Record]]:
    """The student's row (once per decoding in ``scorers``; the first is the main row, the others go
    under ``student_variants``), the teacher's row on the same problems (from ``given`` decompositions
    when the data set has them), the gap, and the records of both. The main row also holds the data set's
    policy diagnostics where it has some (the synthetic world's decision-token margins, with the
    ``critic``'s advantage gaps for a value-guided student). With ``sampling``, both rows also get their
    selectors over n samples per problem (``selectors``: first, mean, label-free best-of-n, majority), and
    the data set's baselines (the synthetic world's text rule and gold decomposition) their accuracy."""
    variants: dict[str, dict[str, Any]] = {}
    student_records: list[Record] = []
    for label, factory in scorers.items():
        metrics, records = evaluate_student(
            student,
            problems,
            parts.answerer,
            parts.judge,
            batch_size=batch_size,
            scorer_factory=factory,
            dataset=parts.dataset,
        )
        variants[label] = metrics
        if len(variants) == 1:
            student_records = records
    main = next(iter(variants))
    margins = parts.dataset.policy_diagnostics(student, problems, critic)
    if margins is not None:
        variants[main]["decision_margins"] = margins
    if sampling and sampling.student:
        variants[main]["selectors"] = student_selectors(student, problems, parts.answerer, sampling, batch_size)
    teacher_metrics, teacher_records = evaluate_teacher(
        parts.teacher, problems, parts.answerer, parts.judge, given, parts.dataset, sampling.teacher if sampling else 1
    )
    # with the selectors only: the extra splits (evaluate_run's ood) would compute them to throw them away
    baselines = baseline_accuracies(problems, parts.dataset.baselines(), parts.answerer) if sampling else {}
    results = {
        "student": variants[main],
        "teacher": teacher_metrics,
        "gap": teacher_metrics["accuracy"] - variants[main]["accuracy"],
        "answerer": parts.answerer.name,
        "decoding": main,
        **({"baselines": baselines} if baselines else {}),
        **({"student_variants": variants} if len(variants) > 1 else {}),
    }
    return results, student_records, teacher_records


def baseline_accuracies(problems: list[Problem], baselines: dict[str, Teacher], answerer: Answerer) -> dict[str, float]:
    """Each baseline's accuracy through ``answerer`` (one decomposition per problem); where there are surface rules
    (``rule_<name>``), ``rule`` is the best of them on these problems (an optimistic pick: a bar, not a method)."""
    out = {
        name: score_decompositions(
            problems, [d[0].subquestions for d in teacher.decompose(problems, 1)], answerer, None, name
        )[0]["accuracy"]
        for name, teacher in baselines.items()
    }
    rules = [v for k, v in out.items() if k.startswith("rule_")]
    return {"rule": max(rules), **out} if rules else out


def evaluate_run(
    student: Student,
    parts: Parts,
    split: str,
    also_splits: list[str],
    scorers: ScorerFactories,
    critic: Critic | None,
    batch_size: int,
    sampling: Sampling | None = None,
) -> tuple[dict[str, Any], list[Record], list[Record]]:
    """:func:`side_by_side` on ``split``, and on each of ``also_splits`` (e.g. ood: generalisation beyond the
    training chains; the main decoding only) the student, teacher and gap under ``splits.<name>``."""
    results, student_records, teacher_records = side_by_side(
        student, parts.dataset.load(split), parts, parts.dataset.records(split), scorers, batch_size, critic, sampling
    )
    results["split"] = split
    main = next(iter(scorers))
    for extra_split in also_splits:
        extra, _, _ = side_by_side(
            student,
            parts.dataset.load(extra_split),
            parts,
            parts.dataset.records(extra_split),
            {main: scorers[main]},
            batch_size,
        )
        results.setdefault("splits", {})[extra_split] = {k: extra[k] for k in ("student", "teacher", "gap")}
    return results, student_records, teacher_records


def write_results(
    out_dir: Path, results: dict[str, Any], student_records: list[Record], teacher_records: list[Record]
) -> None:
    """``results.json``, ``eval_records.jsonl`` (the student's) and ``teacher_eval_records.jsonl``."""
    write_records(out_dir / "eval_records.jsonl", student_records)
    write_records(out_dir / "teacher_eval_records.jsonl", teacher_records)
    write_json(out_dir / "results.json", results)


def log_test(
    logger: Logger | bool, results: dict[str, Any], student_records: list[Record], n_samples: int = 50
) -> None:
    """Test metrics of both rows, and a table of sample decompositions where the logger shows tables (W&B)."""
    if not logger:
        return
    for row in ("student", "teacher"):
        logger.log_metrics({f"test/{row}_{k}": v for k, v in results[row].items() if isinstance(v, float)})
    if hasattr(logger, "log_table"):  # WandbLogger; CSV has no tables
        rows = [
            [r.problem, "\n".join(r.subquestions), r.answer_correctness, str(r.usefulness), r.answerer_output]
            for r in student_records[:n_samples]
        ]
        logger.log_table(
            key="test/samples",
            columns=["problem", "subquestions", "correct", "usefulness", "answerer_output"],
            data=rows,
        )


def print_summary(results: dict[str, Any], out_dir: Path) -> None:
    s, t = results["student"], results["teacher"]
    lo, hi = s["accuracy_ci95"]
    print(f"\n{'':10s} {'accuracy':>9s} {'95% CI':>15s} {'sub-q':>6s} {'useful':>7s}")
    print(
        f"{'student':10s} {s['accuracy']:9.3f} {f'[{lo:.3f}, {hi:.3f}]':>15s} {s['mean_subquestions']:6.2f} "
        f"{s['usefulness_rate'] if s['usefulness_rate'] is not None else float('nan'):7.3f}"
    )
    print(
        f"{'teacher':10s} {t['accuracy']:9.3f} {'':>15s} {t['mean_subquestions']:6.2f} "
        f"{t['usefulness_rate'] if t['usefulness_rate'] is not None else float('nan'):7.3f}"
    )
    for label, row in (("student", s), ("teacher", t)):
        if "selectors" in row:
            sel = row["selectors"]
            sampled = f"  (temperature {sel['temperature']:g})" if "temperature" in sel else ""
            print(
                f"{label + ' x' + str(sel['n']):10s} first {sel['first']['accuracy']:.3f}  mean "
                f"{sel['mean']['accuracy']:.3f}  best-of-{sel['n']} {sel['best_of_n']['accuracy']:.3f}  majority "
                f"{sel['majority']['accuracy']:.3f}{sampled}"
            )
    if results.get("baselines"):
        print("baselines: " + ", ".join(f"{k} {v:.3f}" for k, v in results["baselines"].items()))
    print(
        f"gap (teacher - student) {results['gap']:.3f} on {s['n_problems']} {results['split']} problems, "
        f"answerer {results['answerer']}"
    )
    print(
        f"student: {s['params']:,} parameters, {s['latency_ms_per_problem']:.1f} ms/problem "
        f"(batch {s['decode_batch_size']}), {s['peak_memory_mb']:.0f} MB"
    )
    print(f"results in {out_dir / 'results.json'}")
