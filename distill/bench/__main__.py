"""Speed benchmarks side by side with the paper's loops, Hugging Face and one request at a time.

    python -m distill.bench [--quick] [--student RUN_OR_STUDENT] [--only GROUP ...] [--threads N] [--out DIR]

With no arguments: the decoding, training and teacher groups, the rows of the README's performance table, on a
small student trained first (1,000 Filtered BC steps with its configured recipe, a minute or two) unless
``--student`` names one; ``--only time_to_accuracy`` times recipes to an accuracy (several minutes). Each row is
printed as it lands and ``bench.json`` (a list of rows ``{"benchmark", "ours", "baseline", "unit", "ratio",
"setting"}``, ``ratio`` > 1 meaning ours is better) is rewritten after each, into ``DIR`` (default
``$DISTILL_OUTPUT_DIR/bench/<time>``). ``--quick`` runs every group for a few seconds (a smoke test; its
figures mean little). Timings are wall clock on this machine: run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import torch

from distill.bench.common import bench_inputs
from distill.bench.decoding import decoding_rows
from distill.bench.teacher import teacher_rows
from distill.bench.time_to_accuracy import OLD_RECIPE, new_recipes, time_to_accuracy_rows
from distill.bench.training import matmul_peak_flops, training_rows
from distill.core.errors import OneLineParser, add_debug_flag, one_line_errors, positive_int

GROUPS = ("decode", "train", "teacher", "time_to_accuracy", "rl")
DEFAULT_GROUPS = ("decode", "train", "teacher")  # the README's table; time_to_accuracy and rl on request (--only)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m distill.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every group for a few seconds (smoke test)")
    parser.add_argument(
        "--student",
        default=None,
        help="a saved student or run folder to decode and train (default: train a small one first)",
    )
    parser.add_argument(
        "--student-steps",
        type=positive_int,
        default=1000,
        help="without --student: Filtered BC steps of the student trained here (1000; the RL race: 3000, the main "
        "job's, so that the race starts where online RL does)",
    )
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--problems", type=positive_int, default=200, help="test problems decoded per setting")
    parser.add_argument("--repeats", type=positive_int, default=2, help="timed runs per contender (the best counts)")
    parser.add_argument("--out", type=Path, default=None, help="folder for bench.json")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=GROUPS,
        default=None,
        help=f"benchmark groups to run (default: {' '.join(DEFAULT_GROUPS)}; --quick: all)",
    )
    parser.add_argument(
        "--new-recipe",
        nargs="+",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help=f"time_to_accuracy: a recipe to compare, as changes to the configured one (keys: "
        f"{', '.join(OLD_RECIPE)}; recipe=NAME starts from conf/recipe/NAME.yaml); repeat for "
        f"several (default: the configured recipe and recipe=small_speedrun)",
    )
    parser.add_argument(
        "--probe-every", type=positive_int, default=100, help="time_to_accuracy: steps between validations"
    )
    parser.add_argument(
        "--rl-steps", type=positive_int, default=30, help="rl: optimiser steps each for ours and TRL's GRPOTrainer"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="time_to_accuracy: the runs' seed (as distill.train seed=); rl: both sides' sampling and batch order",
    )
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    args.only = args.only or list(GROUPS if args.quick else DEFAULT_GROUPS)
    return args


def rows_of(args: argparse.Namespace) -> Iterable[dict]:
    """Every row of the chosen groups, as each is measured."""
    quick, repeats = args.quick, 1 if args.quick else args.repeats
    if {"decode", "train", "rl"} & set(args.only):
        inputs = bench_inputs(
            args.student, 200 if quick else 2000, 32 if quick else args.problems, 0 if quick else args.student_steps
        )
    if "decode" in args.only:
        yield from decoding_rows(
            inputs.make_student(), inputs.test_problems, [1, 16] if quick else [1, 64], 24 if quick else 64, repeats
        )
    if "train" in args.only:
        student = inputs.make_student()
        items = [
            {"input_ids": e.input_ids, "action_mask": e.action_mask}
            for e in (student.episode(r.problem, r.subquestions) for r in inputs.records)
        ]
        peak = matmul_peak_flops(256 if quick else 2048, 3 if quick else 10)
        yield from training_rows(inputs.make_student, items, 16, 10 if quick else 300, repeats, peak)
    if "rl" in args.only:  # online GRPO against TRL's GRPOTrainer, from the same trained student
        from distill.bench.rl import rl_rows  # imports TRL (the dev extra) only here

        yield from rl_rows(
            inputs.make_student,
            inputs.train_problems,
            inputs.test_problems,
            inputs.answerer,
            2 if quick else args.rl_steps,
            {"group_size": 4, "problems_per_step": 2, "seed": args.seed} if quick else {"seed": args.seed},
        )
    if "teacher" in args.only:
        yield from teacher_rows(2 if quick else 16, 0.02 if quick else 0.15)
    if "time_to_accuracy" in args.only:
        news = new_recipes(args.new_recipe, quick)
        yield from time_to_accuracy_rows(news, quick, 10 if quick else args.probe_every, args.seed)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with one_line_errors(args.debug):
        run_benchmarks(args)


def machine() -> dict[str, object]:
    """Where and when a row was measured: the CPU model, its cores, and the date (figures depend on the CPU)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cores": os.cpu_count(), "date": datetime.now().strftime("%Y-%m-%d")}


def run_benchmarks(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or Path(os.environ.get("DISTILL_OUTPUT_DIR", "outputs")) / "bench" / datetime.now().strftime(
        "%Y-%m-%d_%H-%M-%S"
    )
    out.mkdir(parents=True, exist_ok=True)
    print(f"benchmarks: {', '.join(args.only)}; rows into {out / 'bench.json'} as they land", flush=True)
    rows = []
    where = machine()
    for r in rows_of(args):
        rows.append({**r, "machine": where})
        (out / "bench.json").write_text(json.dumps(rows, indent=2) + "\n")
        base = "" if r["baseline"] is None else f"{r['baseline']:.3f}"
        ours = "never" if r["ours"] is None else f"{r['ours']:.3f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        print(
            f"{r['benchmark']}: ours {ours}, baseline {base or '-'}, ratio {ratio or '-'} ({r['unit']}; "
            f"{r['setting']})",
            flush=True,
        )
    print(f"bench.json in {out}")


if __name__ == "__main__":
    main()
