"""``python -m distill.report DIR [DIR ...] [--out REPORT_DIR] [--no-wandb]``: the report, and its W&B run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distill.core.errors import OneLineParser, UsageError, add_debug_flag, fraction, one_line_errors
from distill.report.build import build_report


def log_to_wandb(report: dict[str, Any], name: str, project: str = "distill") -> None:
    import wandb

    run = wandb.init(
        project=project,
        group=name,
        name=f"report-{name}",
        job_type="report",
        dir=str(report["out"]),
        mode=os.environ.get("WANDB_MODE", "offline"),
    )
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
    parser.add_argument(
        "--budget-share",
        type=fraction,
        default=0.5,
        help="cascade table: best accuracy within this share of the LLM's cost, in [0, 1] (default 0.5)",
    )
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
        print(
            f"{report['runs']} runs, {len(report['missing'])} missing or failed (unreadable ones included); "
            f"report in {out}"
        )


if __name__ == "__main__":
    main()
