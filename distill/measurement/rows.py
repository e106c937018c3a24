"""Evaluation: the student decomposes test problems, the answerer answers, metrics and cost come out.

The same answerer run on the teacher's own decompositions of the same problems gives the LLM row, and
the gap between the two is the headline number.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from distill.core.contracts import Answerer, Dataset, Decomposition, Judge, Problem, Teacher
from distill.core.records import Record, group_by_problem
from distill.core.teacher_runs import judged_records
from distill.measurement.decoding import LMScorer, Scorer, decode_tokens
from distill.measurement.metrics import bootstrap_ci
from distill.measurement.selectors import Sampling, selector_rows
from distill.students import Student


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return None


class DecodeMemory:
    """Memory that decoding needs: the weights plus the peak growth of resident memory while decoding.

    A background thread samples the process's resident set (Linux); on a GPU, CUDA's peak allocation
    is used instead. Process-wide peaks would include training, which inference never pays.
    """

    def __init__(self, model: torch.nn.Module, interval_s: float = 0.005) -> None:
        self.weights_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
        self.interval_s = interval_s
        self.peak_mb = 0.0

    def __enter__(self) -> DecodeMemory:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self.base = _rss_mb()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss = _rss_mb()
            if rss is not None:
                self.peak = max(self.peak, rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if torch.cuda.is_available():
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        elif self.base is None:
            self.peak_mb = float("nan")
        else:
            self.peak_mb = self.weights_mb + max(0.0, self.peak - self.base)


@torch.no_grad()
def decode_actions(
    student: Student,
    problems: list[Problem],
    batch_size: int = 64,
    max_new_tokens: int = 96,
    scorer_factory: Callable[[], Scorer] | None = None,
    desc: str = "student decomposes",
    sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    repeats: int = 1,
) -> list[list[int]]:
    """The action tokens the student generates for each problem (batched, KV-cached; prompts of similar
    length together); greedy unless ``sample``. With ``repeats`` > 1, that many decodes of each problem (rows
    i x repeats to (i + 1) x repeats - 1; ``batch_size`` counts decodes), each prompt prefilled once."""
    student.model.eval()
    # one scorer for every batch (each prefill starts afresh): built once, not per batch
    scorer = scorer_factory() if scorer_factory else LMScorer(student.model)
    order = sorted(range(len(problems)), key=lambda i: len(problems[i].text))
    results: list[list[int]] = [[] for _ in range(len(problems) * repeats)]
    per_batch = max(1, batch_size // repeats)
    for start in tqdm(range(0, len(order), per_batch), desc=desc, unit="batch", leave=False):
        rows = order[start : start + per_batch]
        prompts = [student.prompt_ids(problems[i].text) for i in rows]
        budget = min(max_new_tokens, student.max_length - max(len(p) for p in prompts))
        outputs = decode_tokens(
            scorer,
            prompts,
            student.eos_id,
            student.pad_id,
            max_new_tokens=budget,
            sample=sample,
            temperature=temperature,
            generator=generator,
            repeats=repeats,
        )
        for n, i in enumerate(rows):
            results[i * repeats : (i + 1) * repeats] = outputs[n * repeats : (n + 1) * repeats]
    return results


def decompose(
    student: Student,
    problems: list[Problem],
    batch_size: int = 64,
    max_new_tokens: int = 96,
    scorer_factory: Callable[[], Scorer] | None = None,
    desc: str = "student decomposes",
) -> list[list[str]]:
    """Greedy decompositions of each problem: the sub-questions of :func:`decode_actions`."""
    return [
        student.parse(out)
        for out in decode_actions(student, problems, batch_size, max_new_tokens, scorer_factory, desc)
    ]


def score_decompositions(
    problems: list[Problem],
    decompositions: list[list[str]],
    answerer: Answerer,
    judge: Judge | None,
    source: str,
    dataset: Dataset | None = None,
) -> tuple[dict[str, Any], list[Record]]:
    """Accuracy (with a bootstrap interval), sub-question count and usefulness, plus the records; with
    ``dataset``, the diagnostics its structure allows (the synthetic world's decision points, accuracy by
    chain length, garbled share)."""
    records = judged_records(problems, decompositions, answerer, judge, source)
    # an answer that never came (an API call failed after its retries) counts as wrong, and is counted
    correct = [r.answer_correctness or 0.0 for r in records]
    scores = [u for r in records for u in (r.usefulness or [])]
    metrics = {
        "accuracy": float(np.mean(correct)) if correct else float("nan"),
        "accuracy_ci95": bootstrap_ci(correct),
        "n_problems": len(records),
        "mean_subquestions": float(np.mean([len(d) for d in decompositions])) if decompositions else 0.0,
        "usefulness_rate": float(np.mean(scores)) if scores else None,
        "answerer_errors": sum("call_error" in r.meta for r in records),
    }
    if dataset is not None:
        metrics.update(dataset.diagnostics(problems, decompositions, correct))
    return metrics, records


def evaluate_student(
    student: Student,
    problems: list[Problem],
    answerer: Answerer,
    judge: Judge | None,
    batch_size: int = 64,
    scorer_factory: Callable[[], Scorer] | None = None,
    dataset: Dataset | None = None,
) -> tuple[dict[str, Any], list[Record]]:
    """The student's row: quality metrics (with ``dataset``'s diagnostics) and inference cost (latency per
    problem, peak memory)."""
    with DecodeMemory(student.model) as memory:
        start = time.perf_counter()
        decompositions = decompose(student, problems, batch_size=batch_size, scorer_factory=scorer_factory)
        seconds = time.perf_counter() - start
    metrics, records = score_decompositions(problems, decompositions, answerer, judge, student.name, dataset)
    metrics.update(
        params=student.n_params,
        latency_ms_per_problem=1000 * seconds / max(1, len(problems)),
        decode_batch_size=batch_size,
        peak_memory_mb=memory.peak_mb,
    )
    return metrics, records


def student_selectors(
    student: Student, problems: list[Problem], answerer: Answerer, sampling: Sampling, batch_size: int = 64
) -> dict[str, Any]:
    """The student's rows over ``sampling.student`` decompositions sampled per problem (the selectors of
    ``distill.measurement.selectors``), to set beside the teacher's over as many of its samples."""
    generator = torch.Generator().manual_seed(sampling.seed)
    per_problem: list[list[Record]] = [[] for _ in problems]
    for i in range(sampling.student):
        actions = decode_actions(
            student,
            problems,
            batch_size,
            sample=True,
            temperature=sampling.temperature,
            generator=generator,
            desc=f"student sample {i + 1}/{sampling.student}",
        )
        records = judged_records(problems, [student.parse(a) for a in actions], answerer, None, student.name)
        for samples, record in zip(per_problem, records):
            samples.append(record)
    return {**selector_rows(per_problem), "temperature": sampling.temperature}


def evaluate_teacher(
    teacher: Teacher,
    problems: list[Problem],
    answerer: Answerer,
    judge: Judge | None,
    given: list[Record] | None = None,
    dataset: Dataset | None = None,
    n_samples: int = 1,
) -> tuple[dict[str, Any], list[Record]]:
    """The LLM row: the teacher's own first-sample decompositions through the same answerer (teacher@1), and
    with ``n_samples`` > 1 its rows over that many samples per problem (``selectors``: mean, label-free
    best-of-n, majority vote).

    ``given``: decompositions the data set already holds (e.g. the paper's test file); used instead of
    asking the teacher when they cover every problem. ``dataset``: add its diagnostics.
    """
    held = group_by_problem(given or [])
    if all(p.problem_id in held for p in problems):
        samples = [[Decomposition(r.subquestions) for r in held[p.problem_id][:n_samples]] for p in problems]
        source = (held[problems[0].problem_id][0].teacher if problems else None) or teacher.name
    else:
        samples = teacher.decompose(problems, n_samples)
        source = teacher.name
    metrics, records = score_decompositions(
        problems, [s[0].subquestions for s in samples], answerer, judge, source, dataset
    )
    usage = [s[0].usage for s in samples if s[0].usage]
    if usage:
        metrics["usage_per_problem"] = {
            key: float(np.mean([u.get(key, 0) for u in usage]))
            for key in sorted({k for u in usage for k, v in u.items() if isinstance(v, (int, float))})
        }
    if n_samples > 1:
        rest = [(p, d) for p, s in zip(problems, samples) for d in s[1:]]
        more = iter(judged_records([p for p, _ in rest], [d.subquestions for _, d in rest], answerer, None, source))
        metrics["selectors"] = selector_rows(
            [[first, *(next(more) for _ in s[1:])] for first, s in zip(records, samples)]
        )
    return metrics, records
