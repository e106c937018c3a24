"""Where a step of online RL goes, ours and TRL's GRPOTrainer, under cProfile, alone on the machine:

    python experiments/bench/rl_profile.py STUDENT [--steps 50] [--seed 0]

STUDENT: a saved student (the race's: ``python -m distill.bench --only rl --student-steps 3000`` prints where it
trained one). Both sides run ``distill.bench.rl``'s race (one thread, its settings, the same batches) for ``--steps``
steps; each side's wall time is split by the cumulative time of the functions that do each part of a step:
sampling, the answerer's reward, the log-probabilities (policy, old policy and reference forwards), the backward,
the optimiser. "other" is the rest (Lightning's or Transformers' loop, collation, logging). Not product code."""

import argparse
import cProfile
import pstats

import torch

from distill.bench.common import bench_inputs
from distill.bench.rl import SETTINGS, ours, trls

# (part, the function names whose cumulative time it is); each side's names do not call one another
PARTS = {
    "ours": [
        ("sampling", ["decode_actions"]),
        ("reward (answerer)", ["answer"]),
        ("log-probabilities", ["grouped_action_logps"]),
        ("backward", ["backward"]),
        ("optimiser", ["_single_tensor_adam", "_multi_tensor_adam", "_fused_adam"]),
    ],
    "trl": [
        ("sampling", ["generate"]),
        ("reward (answerer)", ["score"]),
        ("log-probabilities", ["_get_per_token_logps_and_entropies"]),
        ("backward", ["backward"]),
        ("optimiser", ["_single_tensor_adam", "_multi_tensor_adam", "_fused_adam"]),
    ],
}


def split(profile: cProfile.Profile, parts: list[tuple[str, list[str]]]) -> tuple[float, dict[str, float]]:
    stats = pstats.Stats(profile).stats  # (file, line, name) -> (calls, primitive calls, own, cumulative, callers)
    total = max(row[3] for row in stats.values())
    found = {}
    for part, names in parts:
        # a function's cumulative time once: the largest among its entries (recursion counts once in cProfile)
        found[part] = sum(max((r[3] for (_, _, n), r in stats.items() if n == name), default=0.0) for name in names)
    found["other"] = total - sum(found.values())
    return total, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("student")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    inputs = bench_inputs(args.student, 2000, 32, 0)
    s = {**SETTINGS, "seed": args.seed}
    rows = {}
    for side, run in (("ours", ours), ("trl", trls)):
        profile = cProfile.Profile()
        profile.enable()
        run(inputs.make_student(), inputs.train_problems, inputs.answerer, args.steps, s)
        profile.disable()
        rows[side] = split(profile, PARTS[side])
    names = list(rows["ours"][1])
    print(f"{args.steps} steps each, one thread; seconds (share of the side's profiled time)\n")
    print("| part | ours | TRL | TRL / ours |")
    print("|---|---|---|---|")
    for name in names + ["total"]:
        a = rows["ours"][0] if name == "total" else rows["ours"][1][name]
        b = rows["trl"][0] if name == "total" else rows["trl"][1][name]
        share = lambda x, side: "" if name == "total" else f" ({x / rows[side][0]:.0%})"  # noqa: E731
        ratio = f"{b / a:.2f}" if a > 0 else "-"
        print(f"| {name} | {a:.1f}{share(a, 'ours')} | {b:.1f}{share(b, 'trl')} | {ratio} |")


if __name__ == "__main__":
    main()
