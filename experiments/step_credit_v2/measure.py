"""How well counterfactual step credit finds the sub-questions the oracle calls necessary, beside the judge's
usefulness votes, under the world's fallible answerer:

    python experiments/step_credit_v2/measure.py [--world v2] [--noise decomposition|question] [--draws M] [SEED ...]

For each seed (default 0): the teacher run of the main job on that world (training split, 4 samples per problem,
the configured teacher, answerer and judge), the removal credit of every sub-question (distill.measurement.step_credit:
the answerer's ``noise`` mode, the mean over ``draws`` draws), and the ROC AUC of credit and of usefulness for
"necessary" (distill.synthetic.decisions.necessary: a needed derived quantity other than the target), over all
sub-questions and over those of right decompositions; with the extra answerer calls the credit cost. Then the mean
over seeds with its 95% t-interval."""

import argparse
from pathlib import Path

from hydra import compose, initialize_config_dir

from distill.core.contracts import TRAIN
from distill.core.parts import build_parts
from distill.core.teacher_runs import annotate_batch
from distill.measurement.metrics import mean_interval, roc_auc
from distill.measurement.step_credit import removal_credit
from distill.synthetic.decisions import necessary

CONF = Path(__file__).resolve().parents[2] / "conf"
COLUMNS = ("credit AUC, all", "usefulness AUC, all", "credit AUC, right", "usefulness AUC, right")


def measure(world: str, noise: str, draws: int, seed: int) -> tuple[int, float, list[float | None], float]:
    """Sub-questions, their share necessary, the four AUCs (COLUMNS) and extra calls per decomposition."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"world={world}", f"seed={seed}", f"answerer.noise={noise}"])
    parts = build_parts(cfg)
    problems = parts.dataset.load(TRAIN)
    records, _ = annotate_batch(problems, parts.teacher, parts.answerer, parts.judge, cfg.data.samples_per_problem)
    by_id = {p.problem_id: p for p in problems}
    owners = [by_id[r.problem_id] for r in records]
    credits, calls = removal_credit(owners, [r.subquestions for r in records], parts.answerer, draws=draws)
    rows = [
        (c, u, necessary(p.world, q), bool(r.answer_correctness))
        for r, p, cs in zip(records, owners, credits)
        for q, c, u in zip(r.subquestions, cs, r.usefulness or [None] * len(cs))
    ]

    def auc(column: int, right_only: bool) -> float | None:
        kept = [row for row in rows if row[3] or not right_only]
        return roc_auc([row[column] for row in kept], [row[2] for row in kept])

    share = sum(row[2] for row in rows) / len(rows)
    return len(rows), share, [auc(0, False), auc(1, False), auc(0, True), auc(1, True)], calls / len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--world", default="v2", help="a world of conf/world (default v2)")
    parser.add_argument("--noise", default="decomposition", choices=["decomposition", "question"])
    parser.add_argument("--draws", type=int, default=1, help="draws of the answerer the credit is averaged over")
    args = parser.parse_args()
    print(f"world {args.world}, answerer noise {args.noise}, credit over {args.draws} draw(s)\n")
    print(
        f"| seed | sub-questions | share necessary | {' | '.join(COLUMNS)} | extra answerer calls per decomposition |"
    )
    print("|---|---|---|---|---|---|---|---|")
    aucs = []
    for seed in args.seeds:
        n, share, found, calls = measure(args.world, args.noise, args.draws, seed)
        aucs.append(found)
        cells = " | ".join("n/a" if a is None else f"{a:.3f}" for a in found)
        print(f"| {seed} | {n} | {share:.3f} | {cells} | {calls:.2f} |", flush=True)
    if len(aucs) > 1:
        means = [mean_interval([a[i] for a in aucs if a[i] is not None]) for i in range(len(COLUMNS))]
        cells = " | ".join(f"{m.mean:.3f} [{m.low:.3f}, {m.high:.3f}]" for m in means)
        print(f"| mean [95% CI] | | | {cells} | |")


if __name__ == "__main__":
    main()
