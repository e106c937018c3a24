"""The student-versus-LLM gap report over finished runs.

    python -m distill.report DIR [DIR ...] [--out REPORT_DIR] [--no-wandb]

Reads every ``results.json`` below the given run or multirun folders and writes, into the report folder
(``outputs/reports/<name of the first DIR>`` unless ``--out``):
- ``accuracy_<answerer>.md`` / ``.csv``: rows are algorithms plus the LLM's own decompositions, columns
  are student sizes and their average; each cell is the mean over seeds with a 95% interval of a proportion
  (``accuracy_interval``: seeds and problems resampled, inside [0, 1]);
- ``cost.md`` / ``.csv``: parameters, decode latency per problem, peak memory; the teacher's tokens and
  dollars per 1,000 problems where its usage was recorded;
- ``accuracy_vs_params.png``: accuracy against student parameters (the sizes as ticks), teacher@1 and the
  teacher's best-of-n as lines, and a money panel: dollars per 1,000 problems, student against LLM
  (``distill.size_plot``);
- ``sizes_<answerer>.csv``: per algorithm and size, accuracy and the student-to-LLM ratio on test and on the
  ``ood`` split (runs with ``eval.also_splits=[ood]``) next to the student's cost; ``report.md`` names the
  smallest student within 0.05 of teacher@1 and of the teacher's best-of-n per algorithm;
- ``search.csv``, ``search_shared.csv``, ``search_trials.csv`` and ``search_history.png`` for recipe-search trials
  (``conf/sweep_recipe.yaml``; kept out of the tables above): each size's best trial, the settings every size
  tried side by side, every trial, and
  validation accuracy against each searched hyper-parameter;
- ``cascade.md`` / ``.csv`` and ``accuracy_vs_cost.png``, for runs with a ``cascade.json`` (``distill.cascade``):
  accuracy against dollars for each student alone, its cascade and the LLM, and operating points;
- ``runs.csv``: one line per run (accuracy, the teacher's, other decodings such as ILQL's betas, folder; and where
  a run has them, both rows' selectors over n samples and the data set's baselines: ``teacher_best_of_n``, ...);
- ``report.md``: all of the above plus the runs that are missing or failed;
and logs the tables and the plot to W&B (offline unless WANDB_MODE says otherwise) as a ``report`` run.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from distill.cascade_report import cascade_table, confidence_table, plot_cost
from distill.core.errors import OneLineParser, UsageError, add_debug_flag, fraction, one_line_errors
from distill.measurement.metrics import accuracy_interval, mean_interval
from distill.search_report import plot_search, search_table, search_trial, shared_settings_table
from distill.size_plot import plot_sizes

LLM_ROW = "LLM (teacher)"
AVERAGE = "average"


@dataclass
class Run:
    path: Path
    answerer: str
    algorithm: str
    student: str
    seed: int
    accuracy: float
    teacher_accuracy: float
    n_problems: int  # test problems behind each accuracy (its interval is that of a proportion)
    params: int
    latency_ms: float
    memory_mb: float
    teacher_usage: dict[str, float]
    variants: dict[str, float]  # other decodings of the same student (ILQL's betas): label -> accuracy
    mean_subquestions: float
    # synthetic world only: per habit's decision point the gold-branch rate and its problems, the garbled share,
    # and per chain length the accuracy and its problems (None in runs made before that count was recorded)
    decisions: dict[str, tuple[float, int]]
    garbled_rate: float | None
    accuracy_by_steps: dict[str, tuple[float, int | None]]
    cascade: dict[str, Any] | None = None  # the run's cascade.json (distill.cascade), if it has one
    ood: tuple[float, float] | None = None  # (student, LLM) accuracy on the ood split (eval.also_splits)
    trial: dict[str, Any] | None = None  # a recipe-search trial (sweep_group=recipe): its recipe and score
    # the honest rows (world v2's results): teacher and student selectors over n samples, the data set's baselines
    honest: dict[str, float] | None = None
    teacher_n: int | None = None  # teacher samples per problem behind its selectors (best-of-n), if it has them


def algorithm_label(config: dict[str, Any]) -> str:
    """The objective's name, with the reward's when the objective's rewards are token-level values that the
    reward group sets (``usefulness_baseline``): there the reward is part of the method (full or sparse)."""
    name = config["algorithm"]["name"]
    reads_reward = "usefulness_baseline" in (config["algorithm"].get("module") or {})
    return f"{name}-{config['reward']['name']}" if reads_reward else name


def honest_rows(results: dict[str, Any]) -> dict[str, float] | None:
    """The selectors of both rows and the baselines of a run that has them (``<row>_<selector>``, ``rule``,
    ``gold``), else None."""
    out = {f"{row}_{name}": sel[name]["accuracy"] for row in ("teacher", "student")
           if (sel := results[row].get("selectors")) for name in ("mean", "best_of_n", "majority")}
    out.update(results.get("baselines") or {})
    return out or None


def read_run(path: Path) -> Run:
    results = json.loads(path.read_text())
    config, student, teacher = results["config"], results["student"], results["teacher"]
    return Run(
        path=path.parent, answerer=results["answerer"], algorithm=algorithm_label(config),
        student=config["student"].get("name") or student.get("name") or "student", seed=config["seed"],
        accuracy=student["accuracy"], teacher_accuracy=teacher["accuracy"], n_problems=student["n_problems"],
        params=student["params"],
        latency_ms=student["latency_ms_per_problem"], memory_mb=student["peak_memory_mb"],
        teacher_usage=teacher.get("usage_per_problem") or {},
        variants={k: v["accuracy"] for k, v in (results.get("student_variants") or {}).items()},
        mean_subquestions=student["mean_subquestions"],
        decisions={h: (d["gold_rate"], d["n"]) for h, d in (student.get("decisions") or {}).items()},
        garbled_rate=student.get("garbled_rate"),
        accuracy_by_steps={n: (a, (student.get("problems_by_steps") or {}).get(n))
                           for n, a in (student.get("accuracy_by_steps") or {}).items()},
        cascade=json.loads((path.parent / "cascade.json").read_text()) if (path.parent / "cascade.json").exists() else None,
        ood=(ood["student"]["accuracy"], ood["teacher"]["accuracy"]) if (ood := results.get("splits", {}).get("ood")) else None,
        # a recipe search's trial (conf/sweep_recipe.yaml); every run now returns validation accuracy to sweepers
        trial=search_trial(results) if config.get("sweep_group") == "recipe" else None,
        honest=honest_rows(results),
        teacher_n=(teacher.get("selectors") or {}).get("n"),
    )


def find_runs(folders: list[Path]) -> tuple[list[Run], list[str]]:
    """Finished runs, and the Hydra run folders below ``folders`` that have no results (failed or running)."""
    runs, missing, seen = [], [], set()
    for folder in folders:
        for path in sorted(folder.glob("**/results.json")):
            if path.resolve() in seen:  # folders that overlap
                continue
            seen.add(path.resolve())
            try:
                runs.append(read_run(path))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
                why = f"not valid JSON ({error.msg}, line {error.lineno})" if isinstance(error, json.JSONDecodeError) \
                    else f"not a results file ({type(error).__name__}: {error})"
                print(f"skipped {path}: {why}", file=sys.stderr)
                missing.append(f"{path}: skipped, {why}")
        for hydra_dir in sorted(folder.glob("**/.hydra")):
            run_dir = hydra_dir.parent
            if not (run_dir / "results.json").exists():
                overrides = yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) \
                    if (hydra_dir / "overrides.yaml").exists() else []
                missing.append(f"{run_dir}: no results.json (failed or unfinished; overrides: "
                               f"{' '.join(overrides) or 'none'})")
    return runs, missing


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
    missing = [f"{a} / {s} / seed {seed}" for a in algorithms for s in students for seed in seeds
               if (a, s, seed) not in acc]
    header = ["algorithm", *students, AVERAGE]
    rows = []
    for a in algorithms:
        cells = []
        for s in students:
            values = [acc[a, s, seed] for seed in seeds if (a, s, seed) in acc]
            cells.append(accuracy_interval(values, n).text() if values else "missing")
        # the average over sizes, per seed that has every size; the interval is over those seeds
        per_seed = [statistics.fmean(acc[a, s, seed] for s in students) for seed in seeds
                    if all((a, s, seed) in acc for s in students)]
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
    header = ["algorithm", "student", "mean sub-questions", "garbled share", *[f"gold at {h}" for h in habits],
              *[f"accuracy, {n} steps" for n in lengths]]

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
        rows.append([algorithm, student, cell([r.mean_subquestions for r in group]),
                     share([(r.garbled_rate, r.n_problems) for r in group if r.garbled_rate is not None]),
                     *[share([r.decisions[h] for r in group if h in r.decisions]) for h in habits],
                     *[share([r.accuracy_by_steps[n] for r in group if n in r.accuracy_by_steps]) for n in lengths]])
    return header, rows


def cost_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    header = ["model", "parameters", "latency ms/problem", "peak memory MB", "teacher tokens / 1k problems",
              "teacher $ / 1k problems"]
    rows = []
    for (algorithm, student), group in algorithm_groups(runs):
        rows.append([f"{student} ({algorithm})", f"{group[0].params:,}",
                     f"{statistics.fmean(r.latency_ms for r in group):.1f}",
                     f"{statistics.fmean(r.memory_mb for r in group):.0f}", "", ""])
    usage = [r.teacher_usage for r in runs if r.teacher_usage]
    tokens = [u.get("input_tokens", 0) + u.get("output_tokens", 0) for u in usage]
    dollars = [u["cost_usd"] for u in usage if "cost_usd" in u]
    rows.append([LLM_ROW, "unknown", "", "", f"{1000 * statistics.fmean(tokens):,.0f}" if tokens else "n/a",
                 f"{1000 * statistics.fmean(dollars):.2f}" if dollars else "n/a"])
    return header, rows


def size_table(runs: list[Run], margin: float = 0.05) -> tuple[list[str], list[list[str]], list[str]]:
    """One answerer's runs, per algorithm and student size (smallest first): accuracy, the student-to-LLM
    ratio of accuracy (per seed, then mean [95% t-interval]), the same on the ood split, and the student's
    cost; and, per algorithm, the smallest student whose mean accuracy is within ``margin`` of teacher@1 (the
    teacher's first sample), and of the teacher's label-free best-of-n where the runs have it."""
    header = ["algorithm", "student", "parameters", "accuracy", "LLM accuracy", "student / LLM",
              "ood accuracy", "ood LLM accuracy", "ood student / LLM", "latency ms/problem", "peak memory MB"]
    rows = []
    smallest: dict[tuple[str, str], str] = {}
    # by algorithm, smallest size first within each (a stable sort of the size-ordered groups)
    for (algorithm, student), group in sorted(algorithm_groups(runs), key=lambda kv: kv[0][0]):
        ood = [r.ood for r in group if r.ood]
        n = group[0].n_problems
        acc = accuracy_interval([r.accuracy for r in group], n)
        llm = accuracy_interval([r.teacher_accuracy for r in group], n)
        rows.append([algorithm, student, f"{group[0].params:,}", acc.text(), llm.text(),
                     mean_interval([r.accuracy / r.teacher_accuracy for r in group]).text(),
                     mean_interval([s for s, _ in ood]).text() if ood else "n/a",
                     mean_interval([t for _, t in ood]).text() if ood else "n/a",
                     mean_interval([s / t for s, t in ood]).text() if ood else "n/a",
                     f"{statistics.fmean(r.latency_ms for r in group):.1f}",
                     f"{statistics.fmean(r.memory_mb for r in group):.0f}"])
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
                    f"against {target.text()}; gap {gap.text()}")
    rows_named = ["teacher@1"] + (["teacher best-of-n"] if any(r.honest and "teacher_best_of_n" in r.honest
                                                                for r in runs) else [])
    statements = [smallest.get((a, row_name), f"{a} against {row_name}: none of the sizes here is within {margin}")
                  for a in sorted({r.algorithm for r in runs}) for row_name in rows_named]
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


def build_report(folders: list[Path], out: Path, budget_share: float = 0.5) -> dict[str, Any]:
    found, failed = find_runs(folders)
    if not found:
        raise UsageError(f"no readable results.json below {', '.join(map(str, folders))}"
                         + (f"; unfinished or skipped runs: {len(failed)}" if failed else ""))
    runs = [r for r in found if not r.trial]  # recipe-search trials have a section of their own
    trials = [r for r in found if r.trial]
    cells: dict[tuple[str, str, str, int], list[Path]] = {}
    for r in runs:
        cells.setdefault((r.answerer, r.algorithm, r.student, r.seed), []).append(r.path)
    for (answerer, algorithm, student, seed), paths in cells.items():
        if len(paths) > 1:  # a table keeps one run per cell: variants of one objective would be mixed silently
            raise UsageError(f"{len(paths)} runs fill one cell (answerer {answerer}, {algorithm}, {student}, "
                             f"seed {seed}): {', '.join(map(str, paths))}; report variants of one objective separately")
    out.mkdir(parents=True, exist_ok=True)
    sections = [f"# Student-versus-LLM report\n\nFrom {len(runs)} runs and {len(trials)} recipe-search trials in "
                f"{', '.join(map(str, folders))}.\n"
                "Cells: mean test accuracy over seeds [95% interval, seeds and problems resampled]; `average` is the mean over student "
                "sizes per seed. The LLM row scores the teacher's own decompositions with the same answerer.\n"]
    tables, all_missing = {}, list(failed)
    if trials:
        header, rows = search_table(trials)
        write_csv(out / "search.csv", header, rows)
        write_csv(out / "search_trials.csv", ["student", "params", *trials[0].trial, "test_accuracy", "path"],
                  [[r.student, r.params, *r.trial.values(), r.accuracy, str(r.path)]
                   for r in sorted(trials, key=lambda r: (r.params, str(r.path)))])
        tables["search"] = (header, rows)
        plot_search(trials, out / "search_history.png")
        sections.append("## Recipe search (conf/sweep_recipe.yaml)\n\nEach size's best trial on validation "
                        "accuracy (its test accuracy beside, never used to choose); every trial of "
                        f"every size is in search_trials.csv.\n\n{markdown(header, rows)}\n"
                        "![search history](search_history.png)\n")
        header, rows = shared_settings_table(trials)
        if rows and len({r.student for r in trials}) > 1:
            write_csv(out / "search_shared.csv", header, rows)
            tables["search_shared"] = (header, rows)
            sections.append(f"### The settings every size tried\n\n{markdown(header, rows)}")
    for answerer in sorted({r.answerer for r in runs}):
        header, rows, missing = accuracy_table([r for r in runs if r.answerer == answerer])
        slug = answerer.replace("/", "_").replace(" ", "_")
        (out / f"accuracy_{slug}.md").write_text(markdown(header, rows))
        write_csv(out / f"accuracy_{slug}.csv", header, rows)
        sections.append(f"## Accuracy, answerer {answerer}\n\n{markdown(header, rows)}")
        tables[f"accuracy_{slug}"] = (header, rows)
        header, rows = diagnostics_table([r for r in runs if r.answerer == answerer])
        write_csv(out / f"diagnostics_{slug}.csv", header, rows)
        sections.append(f"## Decision points and errors, answerer {answerer}\n\n"
                        "Share of test problems with each teacher habit's decision point where the student takes "
                        "the gold branch; garbled share: decompositions asking for a quantity the problem does "
                        "not have; accuracy by the number of steps the answer needs.\n\n"
                        f"{markdown(header, rows)}")
        tables[f"diagnostics_{slug}"] = (header, rows)
        header, rows, smallest = size_table([r for r in runs if r.answerer == answerer])
        write_csv(out / f"sizes_{slug}.csv", header, rows)
        sections.append(f"## Student size against the LLM, answerer {answerer}\n\nThe smallest student whose "
                        "mean test accuracy is within 0.05 of teacher@1 and of the teacher's best-of-n, per "
                        "algorithm:\n\n"
                        + "".join(f"- {s}\n" for s in smallest)
                        + "\nPer size: accuracy and its ratio to the LLM's (per seed, then mean [95% t-interval]), "
                        "on test and on the ood split (longer chains than any training problem), next to the "
                        f"student's cost (decode latency at the evaluation batch size, peak memory).\n\n"
                        f"{markdown(header, rows)}")
        tables[f"sizes_{slug}"] = (header, rows)
        all_missing += [f"answerer {answerer}: {m}" for m in missing]
    if not runs:
        (out / "report.md").write_text("\n".join(sections))
        return {"runs": 0, "missing": all_missing, "tables": tables, "out": out}
    honest = sorted({k for r in runs for k in (r.honest or {})})  # columns of runs that have them (world v2)
    write_csv(out / "runs.csv", ["answerer", "algorithm", "student", "seed", "accuracy", "teacher_accuracy",
                                 "ood_accuracy", "ood_teacher_accuracy", "variants", "path", *honest],
              [[r.answerer, r.algorithm, r.student, r.seed, f"{r.accuracy:.3f}", f"{r.teacher_accuracy:.3f}",
                *([f"{r.ood[0]:.3f}", f"{r.ood[1]:.3f}"] if r.ood else ["", ""]),
                " ".join(f"{k}:{v:.3f}" for k, v in r.variants.items()), str(r.path),
                *(f"{(r.honest or {})[k]:.3f}" if k in (r.honest or {}) else "" for k in honest)]
               for r in sorted(runs, key=lambda r: (r.answerer, r.algorithm, r.params, r.seed))])
    header, rows = cost_table(runs)
    (out / "cost.md").write_text(markdown(header, rows))
    write_csv(out / "cost.csv", header, rows)
    tables["cost"] = (header, rows)
    sections.append(f"## Inference cost\n\n{markdown(header, rows)}")
    plot_sizes(runs, out / "accuracy_vs_params.png")
    sections.append("## Accuracy and cost against student size\n\n"
                    "![accuracy and cost against parameters](accuracy_vs_params.png)\n\n"
                    "Left: each point is one algorithm and student size under one answerer, mean over seeds with "
                    "a 95% interval inside [0, 1]; black lines: teacher@1, red lines: the teacher's label-free "
                    "best-of-n. Right: dollars per 1,000 problems for one decomposition (the student's decode time "
                    "at conf/cascade.yaml's compute price; the LLM's recorded prices where it ran, else nominal).\n")
    if any(r.cascade for r in runs):
        header, rows = cascade_table(runs, budget_share)
        (out / "cascade.md").write_text(markdown(header, rows))
        write_csv(out / "cascade.csv", header, rows)
        tables["cascade"] = (header, rows)
        plot_cost(runs, out / "accuracy_vs_cost.png")
        sections.append("## Student first, LLM when unsure (distill.cascade)\n\n"
                        "Dollars per 1,000 test problems (nominal prices where no usage was recorded: see each "
                        "run's cascade.json). The cascade's threshold and score were chosen on the validation "
                        "split; the two operating points on the right are read off each seed's test curve.\n\n"
                        f"{markdown(header, rows)}\n![accuracy against cost](accuracy_vs_cost.png)\n")
        header, rows = confidence_table(runs)
        write_csv(out / "confidence.csv", header, rows)
        tables["confidence"] = (header, rows)
        sections.append("### Confidence scores\n\nHow well each score tells the student's right answers from its "
                        "wrong ones (ROC AUC on test), and the cascade deferring on it: test accuracy / deferred "
                        f"share, the threshold chosen on validation for each share.\n\n{markdown(header, rows)}")
    sections.append("## Missing or failed runs\n\n" + ("\n".join(f"- {m}" for m in all_missing) or "none") + "\n")
    (out / "report.md").write_text("\n".join(sections))
    return {"runs": len(runs), "missing": all_missing, "tables": tables, "out": out}


def log_to_wandb(report: dict[str, Any], name: str, project: str = "distill") -> None:
    import wandb

    run = wandb.init(project=project, group=name, name=f"report-{name}", job_type="report",
                     dir=str(report["out"]), mode=os.environ.get("WANDB_MODE", "offline"))
    for key, (header, rows) in report["tables"].items():
        run.log({key: wandb.Table(columns=header, data=rows)})
    for plot_name in ("accuracy_vs_params", "accuracy_vs_cost", "search_history"):
        if (report["out"] / f"{plot_name}.png").exists():
            run.log({plot_name: wandb.Image(str(report["out"] / f"{plot_name}.png"))})
    run.summary["n_runs"] = report["runs"]
    run.summary["n_missing"] = len(report["missing"])
    run.finish()


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(description="Tables and plot of student-versus-LLM accuracy and cost.")
    parser.add_argument("folders", nargs="+", type=Path, help="run or multirun folders (searched recursively)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default outputs/reports/NAME)")
    parser.add_argument("--name", default=None, help="report name and W&B group (default: first folder's name)")
    parser.add_argument("--no-wandb", action="store_true", help="do not log the report to W&B")
    parser.add_argument("--budget-share", type=fraction, default=0.5,
                        help="cascade table: best accuracy within this share of the LLM's cost, in [0, 1] (default 0.5)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    with one_line_errors(args.debug):
        absent = [str(folder) for folder in args.folders if not folder.is_dir()]
        if absent:
            raise UsageError(f"no such folder: {', '.join(absent)}")
        name = args.name or args.folders[0].resolve().name
        out = args.out or Path("outputs") / "reports" / name
        report = build_report(args.folders, out, args.budget_share)
        if not args.no_wandb:
            log_to_wandb(report, name)
        print((out / "report.md").read_text())
        print(f"{report['runs']} runs, {len(report['missing'])} missing or failed (unreadable ones included); report in {out}")


if __name__ == "__main__":
    main()
