"""The report's tables: accuracy per answerer, where decompositions go right or wrong, cost, and student size
against the LLM; each a header and rows of text cells, written as Markdown and CSV."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from distill.measurement.metrics import Interval, accuracy_interval, mean_interval
from distill.report.runs import Run

LLM_ROW = "LLM (teacher)"
AVERAGE = "average"


def _by_params(runs: list[Run]) -> list[str]:
    """Student sizes, smallest first."""
    params = {r.student: r.params for r in runs}
    return sorted(params, key=params.get)


def accuracy_table(runs: list[Run]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and missing (algorithm, student, seed) cells for one answerer's runs."""
    students = _by_params(runs)
    algorithms = sorted({r.algorithm for r in runs})
    seeds = sorted({r.seed for r in runs})
    acc: dict[tuple[str, str, int], float] = {(r.algorithm, r.student, r.seed): r.accuracy for r in runs}
    n = max(r.n_problems for r in runs)
    missing = [
        f"{a} / {s} / seed {seed}" for a in algorithms for s in students for seed in seeds if (a, s, seed) not in acc
    ]
    header = ["algorithm", *students, AVERAGE]
    rows = []
    for a in algorithms:
        cells = []
        for s in students:
            values = [acc[a, s, seed] for seed in seeds if (a, s, seed) in acc]
            cells.append(accuracy_interval(values, n).text() if values else "missing")
        # the average over sizes, per seed that has every size; the interval is over those seeds
        per_seed = [
            statistics.fmean(acc[a, s, seed] for s in students)
            for seed in seeds
            if all((a, s, seed) in acc for s in students)
        ]
        rows.append([a, *cells, accuracy_interval(per_seed, n).text() if per_seed else "missing"])
    teacher = {r.seed: r.teacher_accuracy for r in runs}  # the same row for every student of a seed
    llm = accuracy_interval(list(teacher.values()), n).text()
    rows.append([LLM_ROW, *[llm] * len(students), llm])
    return header, rows, missing


def algorithm_groups(runs: list[Run]) -> list[tuple[tuple[str, str], list[Run]]]:
    """Runs grouped by (algorithm, student), by student size then algorithm."""
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in runs:
        groups[r.algorithm, r.student].append(r)
    return sorted(groups.items(), key=lambda kv: (kv[1][0].params, kv[0][0]))


def diagnostics_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Per algorithm and student: where decompositions go right or wrong, the mean over seeds with a 95% interval:
    for the shares (garbled, gold branch, accuracy by length) the bounded two-level bootstrap of a proportion over
    the fewest problems any seed had for it (``accuracy_interval``); a t-interval for mean sub-questions, and for an
    accuracy by length whose problem count a run did not record (runs before the count was kept), cut to [0, 1]."""
    habits = sorted({h for r in runs for h in r.decisions})
    lengths = sorted({n for r in runs for n in r.accuracy_by_steps}, key=int)
    header = [
        "algorithm",
        "student",
        "mean sub-questions",
        "garbled share",
        *[f"gold at {h}" for h in habits],
        *[f"accuracy, {n} steps" for n in lengths],
    ]

    def cell(values: list[float]) -> str:
        return mean_interval(values).text() if values else "n/a"

    def share(pairs: list[tuple[float, int | None]]) -> str:
        """Rates with the problems behind each."""
        if not pairs:
            return "n/a"
        rates, counts = [r for r, _ in pairs], [n for _, n in pairs]
        if None in counts:
            t = mean_interval(rates)
            return t.text() if t.low is None else replace(t, low=max(t.low, 0.0), high=min(t.high, 1.0)).text()
        return accuracy_interval(rates, min(counts)).text()

    rows = []
    for (algorithm, student), group in algorithm_groups(runs):
        rows.append(
            [
                algorithm,
                student,
                cell([r.mean_subquestions for r in group]),
                share([(r.garbled_rate, r.n_problems) for r in group if r.garbled_rate is not None]),
                *[share([r.decisions[h] for r in group if h in r.decisions]) for h in habits],
                *[share([r.accuracy_by_steps[n] for r in group if n in r.accuracy_by_steps]) for n in lengths],
            ]
        )
    return header, rows


def cost_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    header = [
        "model",
        "parameters",
        "latency ms/problem",
        "peak memory MB",
        "teacher tokens / 1k problems",
        "teacher $ / 1k problems",
    ]
    rows = []
    for (algorithm, student), group in algorithm_groups(runs):
        rows.append(
            [
                f"{student} ({algorithm})",
                f"{group[0].params:,}",
                f"{statistics.fmean(r.latency_ms for r in group):.1f}",
                f"{statistics.fmean(r.memory_mb for r in group):.0f}",
                "",
                "",
            ]
        )
    usage = [r.teacher_usage for r in runs if r.teacher_usage]
    tokens = [u.get("input_tokens", 0) + u.get("output_tokens", 0) for u in usage]
    dollars = [u["cost_usd"] for u in usage if "cost_usd" in u]
    rows.append(
        [
            LLM_ROW,
            "unknown",
            "",
            "",
            f"{1000 * statistics.fmean(tokens):,.0f}" if tokens else "n/a",
            f"{1000 * statistics.fmean(dollars):.2f}" if dollars else "n/a",
        ]
    )
    return header, rows


def _size_row(algorithm: str, student: str, group: list[Run], acc: Interval, llm: Interval) -> list[str]:
    ood = [r.ood for r in group if r.ood]
    return [
        algorithm, student, f"{group[0].params:,}", acc.text(), llm.text(),
        mean_interval([r.accuracy / r.teacher_accuracy for r in group]).text(),
        mean_interval([s for s, _ in ood]).text() if ood else "n/a",
        mean_interval([t for _, t in ood]).text() if ood else "n/a",
        mean_interval([s / t for s, t in ood]).text() if ood else "n/a",
        f"{statistics.fmean(r.latency_ms for r in group):.1f}", f"{statistics.fmean(r.memory_mb for r in group):.0f}",
    ]  # fmt: skip


def size_table(runs: list[Run], margin: float = 0.05) -> tuple[list[str], list[list[str]], list[str]]:
    """One answerer's runs, per algorithm and student size (smallest first): accuracy, the student-to-LLM
    ratio of accuracy (per seed, then mean [95% t-interval]), the same on the ood split, and the student's
    cost; and, per algorithm, the smallest student whose mean accuracy is within ``margin`` of teacher@1 (the
    teacher's first sample), and of the teacher's label-free best-of-n where the runs have it."""
    header = ["algorithm", "student", "parameters", "accuracy", "LLM accuracy", "student / LLM", "ood accuracy",
              "ood LLM accuracy", "ood student / LLM", "latency ms/problem", "peak memory MB"]  # fmt: skip
    rows = []
    smallest: dict[tuple[str, str], str] = {}
    # by algorithm, smallest size first within each (a stable sort of the size-ordered groups)
    for (algorithm, student), group in sorted(algorithm_groups(runs), key=lambda kv: kv[0][0]):
        n = group[0].n_problems
        acc = accuracy_interval([r.accuracy for r in group], n)
        llm = accuracy_interval([r.teacher_accuracy for r in group], n)
        rows.append(_size_row(algorithm, student, group, acc, llm))
        best = [r.honest["teacher_best_of_n"] for r in group if r.honest and "teacher_best_of_n" in r.honest]
        targets = {"teacher@1": [r.teacher_accuracy for r in group]}
        if len(best) == len(group):
            targets["teacher best-of-n"] = best
        for row_name, values in targets.items():
            target = accuracy_interval(values, n)
            if (algorithm, row_name) not in smallest and target.mean - acc.mean <= margin:
                gap = mean_interval([t - r.accuracy for t, r in zip(values, group)])
                shown = row_name.replace("-n", f"-{group[0].teacher_n}")
                smallest[algorithm, row_name] = (
                    f"{algorithm} against {shown}: {student} ({group[0].params:,} parameters), {acc.text()} "
                    f"against {target.text()}; gap {gap.text()}"
                )
    rows_named = ["teacher@1"] + (
        ["teacher best-of-n"] if any(r.honest and "teacher_best_of_n" in r.honest for r in runs) else []
    )
    statements = [
        smallest.get((a, row_name), f"{a} against {row_name}: none of the sizes here is within {margin}")
        for a in sorted({r.algorithm for r in runs})
        for row_name in rows_named
    ]
    return header, rows, statements


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
