"""The student-versus-LLM gap report over finished runs.

    python -m distill.report DIR [DIR ...] [--out REPORT_DIR] [--no-wandb]

Modules: ``runs`` (``Run``, read from each ``results.json``), ``tables``, ``build`` (``build_report``), and
the report's parts: ``sizes`` (accuracy and cost against student size), ``search`` (recipe-search trials),
``cascade`` (the student-first cascade), ``curves`` (training curves: ``python -m distill.report.curves``).

Reads every ``results.json`` below the given run or multirun folders and writes, into the report folder
(``outputs/reports/<name of the first DIR>`` unless ``--out``):
- ``accuracy_<answerer>.md`` / ``.csv``: rows are algorithms plus the LLM's own decompositions, columns
  are student sizes and their average; each cell is the mean over seeds with a 95% interval of a proportion
  (``accuracy_interval``: seeds and problems resampled, inside [0, 1]);
- ``cost.md`` / ``.csv``: parameters, decode latency per problem, peak memory; the teacher's tokens and
  dollars per 1,000 problems where its usage was recorded;
- ``accuracy_vs_params.png``: accuracy against student parameters (the sizes as ticks), teacher@1 and the
  teacher's best-of-n as lines, and a money panel: dollars per 1,000 problems, student against LLM
  (``distill.report.sizes``);
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

from distill.report.build import build_report
from distill.report.runs import Run, find_runs

__all__ = ["Run", "build_report", "find_runs"]
