"""``build_report``: the report folder from the runs below some folders (what each file holds: ``distill.report``).

Each section writes its files into the report folder and returns its Markdown and its tables (logged to W&B)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.core.errors import UsageError
from distill.report.cascade import cascade_table, confidence_table, plot_cost
from distill.report.runs import Run, find_runs
from distill.report.search import plot_search, search_table, shared_settings_table
from distill.report.sizes import plot_sizes
from distill.report.tables import accuracy_table, cost_table, diagnostics_table, markdown, size_table, write_csv

Tables = dict[str, tuple[list[str], list[list[str]]]]


def build_report(folders: list[Path], out: Path, budget_share: float = 0.5) -> dict[str, Any]:
    found, failed = find_runs(folders)
    if not found:
        raise UsageError(
            f"no readable results.json below {', '.join(map(str, folders))}"
            + (f"; unfinished or skipped runs: {len(failed)}" if failed else "")
        )
    runs = [r for r in found if not r.trial]  # recipe-search trials have a section of their own
    trials = [r for r in found if r.trial]
    check_one_run_per_cell(runs)
    out.mkdir(parents=True, exist_ok=True)
    sections = [
        f"# Student-versus-LLM report\n\nFrom {len(runs)} runs and {len(trials)} recipe-search trials in "
        f"{', '.join(map(str, folders))}.\n"
        "Cells: mean test accuracy over seeds [95% interval, seeds and problems resampled]; `average` is the mean "
        "over student "
        "sizes per seed. The LLM row scores the teacher's own decompositions with the same answerer.\n"
    ]
    tables: Tables = {}
    missing = list(failed)
    if trials:
        sections += search_sections(trials, out, tables)
    for answerer in sorted({r.answerer for r in runs}):
        sections += answerer_sections([r for r in runs if r.answerer == answerer], answerer, out, tables, missing)
    if runs:
        write_runs_csv(runs, out)
        sections += cost_sections(runs, out, tables)
        if any(r.cascade for r in runs):
            sections += cascade_sections(runs, out, tables, budget_share)
        sections.append("## Missing or failed runs\n\n" + ("\n".join(f"- {m}" for m in missing) or "none") + "\n")
    (out / "report.md").write_text("\n".join(sections))
    return {"runs": len(runs), "missing": missing, "tables": tables, "out": out}


def check_one_run_per_cell(runs: list[Run]) -> None:
    """A table keeps one run per cell: variants of one objective would be mixed silently."""
    cells: dict[tuple[str, str, str, int], list[Path]] = {}
    for r in runs:
        cells.setdefault((r.answerer, r.algorithm, r.student, r.seed), []).append(r.path)
    for (answerer, algorithm, student, seed), paths in cells.items():
        if len(paths) > 1:
            raise UsageError(
                f"{len(paths)} runs fill one cell (answerer {answerer}, {algorithm}, {student}, "
                f"seed {seed}): {', '.join(map(str, paths))}; report variants of one objective separately"
            )


def search_sections(trials: list[Run], out: Path, tables: Tables) -> list[str]:
    header, rows = search_table(trials)
    write_csv(out / "search.csv", header, rows)
    assert trials[0].trial is not None
    write_csv(
        out / "search_trials.csv",
        ["student", "params", *trials[0].trial, "test_accuracy", "path"],
        [
            [r.student, r.params, *(r.trial or {}).values(), r.accuracy, str(r.path)]
            for r in sorted(trials, key=lambda r: (r.params, str(r.path)))
        ],
    )
    tables["search"] = (header, rows)
    plot_search(trials, out / "search_history.png")
    sections = [
        "## Recipe search (conf/sweep_recipe.yaml)\n\nEach size's best trial on validation "
        "accuracy (its test accuracy beside, never used to choose); every trial of "
        f"every size is in search_trials.csv.\n\n{markdown(header, rows)}\n"
        "![search history](search_history.png)\n"
    ]
    header, rows = shared_settings_table(trials)
    if rows and len({r.student for r in trials}) > 1:
        write_csv(out / "search_shared.csv", header, rows)
        tables["search_shared"] = (header, rows)
        sections.append(f"### The settings every size tried\n\n{markdown(header, rows)}")
    return sections


def answerer_sections(runs: list[Run], answerer: str, out: Path, tables: Tables, missing: list[str]) -> list[str]:
    """One answerer's accuracy, diagnostics and size tables."""
    header, rows, absent = accuracy_table(runs)
    slug = answerer.replace("/", "_").replace(" ", "_")
    (out / f"accuracy_{slug}.md").write_text(markdown(header, rows))
    write_csv(out / f"accuracy_{slug}.csv", header, rows)
    tables[f"accuracy_{slug}"] = (header, rows)
    sections = [f"## Accuracy, answerer {answerer}\n\n{markdown(header, rows)}"]
    header, rows = diagnostics_table(runs)
    write_csv(out / f"diagnostics_{slug}.csv", header, rows)
    tables[f"diagnostics_{slug}"] = (header, rows)
    sections.append(
        f"## Decision points and errors, answerer {answerer}\n\n"
        "Share of test problems with each teacher habit's decision point where the student takes "
        "the gold branch; garbled share: decompositions asking for a quantity the problem does "
        "not have; accuracy by the number of steps the answer needs.\n\n"
        f"{markdown(header, rows)}"
    )
    header, rows, smallest = size_table(runs)
    write_csv(out / f"sizes_{slug}.csv", header, rows)
    tables[f"sizes_{slug}"] = (header, rows)
    sections.append(
        f"## Student size against the LLM, answerer {answerer}\n\nThe smallest student whose "
        "mean test accuracy is within 0.05 of teacher@1 and of the teacher's best-of-n, per "
        "algorithm:\n\n"
        + "".join(f"- {s}\n" for s in smallest)
        + "\nPer size: accuracy and its ratio to the LLM's (per seed, then mean [95% t-interval]), "
        "on test and on the ood split (longer chains than any training problem), next to the "
        f"student's cost (decode latency at the evaluation batch size, peak memory).\n\n"
        f"{markdown(header, rows)}"
    )
    missing += [f"answerer {answerer}: {m}" for m in absent]
    return sections


def write_runs_csv(runs: list[Run], out: Path) -> None:
    """One line per run; the selector and baseline columns of the runs that have them (world v2 on)."""
    honest = sorted({k for r in runs for k in (r.honest or {})})
    write_csv(
        out / "runs.csv",
        [
            "answerer",
            "algorithm",
            "student",
            "seed",
            "accuracy",
            "teacher_accuracy",
            "ood_accuracy",
            "ood_teacher_accuracy",
            "variants",
            "path",
            *honest,
        ],
        [
            [
                r.answerer,
                r.algorithm,
                r.student,
                r.seed,
                f"{r.accuracy:.3f}",
                f"{r.teacher_accuracy:.3f}",
                *([f"{r.ood[0]:.3f}", f"{r.ood[1]:.3f}"] if r.ood else ["", ""]),
                " ".join(f"{k}:{v:.3f}" for k, v in r.variants.items()),
                str(r.path),
                *(f"{(r.honest or {})[k]:.3f}" if k in (r.honest or {}) else "" for k in honest),
            ]
            for r in sorted(runs, key=lambda r: (r.answerer, r.algorithm, r.params, r.seed))
        ],
    )


def cost_sections(runs: list[Run], out: Path, tables: Tables) -> list[str]:
    header, rows = cost_table(runs)
    (out / "cost.md").write_text(markdown(header, rows))
    write_csv(out / "cost.csv", header, rows)
    tables["cost"] = (header, rows)
    plot_sizes(runs, out / "accuracy_vs_params.png")
    return [
        f"## Inference cost\n\n{markdown(header, rows)}",
        "## Accuracy and cost against student size\n\n"
        "![accuracy and cost against parameters](accuracy_vs_params.png)\n\n"
        "Left: each point is one algorithm and student size under one answerer, mean over seeds with "
        "a 95% interval inside [0, 1]; black lines: teacher@1, red lines: the teacher's label-free "
        "best-of-n. Right: dollars per 1,000 problems for one decomposition (the student's decode time "
        "at conf/cascade.yaml's compute price; the LLM's recorded prices where it ran, else nominal).\n",
    ]


def cascade_sections(runs: list[Run], out: Path, tables: Tables, budget_share: float) -> list[str]:
    header, rows = cascade_table(runs, budget_share)
    (out / "cascade.md").write_text(markdown(header, rows))
    write_csv(out / "cascade.csv", header, rows)
    tables["cascade"] = (header, rows)
    plot_cost(runs, out / "accuracy_vs_cost.png")
    sections = [
        "## Student first, LLM when unsure (distill.cascade)\n\n"
        "Dollars per 1,000 test problems (nominal prices where no usage was recorded: see each "
        "run's cascade.json). The cascade's threshold and score were chosen on the validation "
        "split; the two operating points on the right are read off each seed's test curve.\n\n"
        f"{markdown(header, rows)}\n![accuracy against cost](accuracy_vs_cost.png)\n"
    ]
    header, rows = confidence_table(runs)
    write_csv(out / "confidence.csv", header, rows)
    tables["confidence"] = (header, rows)
    sections.append(
        "### Confidence scores\n\nHow well each score tells the student's right answers from its "
        "wrong ones (ROC AUC on test), and the cascade deferring on it: test accuracy / deferred "
        f"share, the threshold chosen on validation for each share.\n\n{markdown(header, rows)}"
    )
    return sections
