"""How well counterfactual step credit finds the sub-questions the oracle calls necessary, beside the judge's
usefulness votes: python experiments/step_credit_v2/measure.py [SEED ...]   (world v2, k = 1 answerer, default 0)

For each seed: the teacher run of the main job (training split, 4 samples per problem, the configured teacher,
answerer and judge), the removal credit of every sub-question (distill.measurement.step_credit), and the ROC AUC
of credit and of usefulness for "necessary" (distill.synthetic.decisions.necessary: a needed derived quantity
other than the target), over all sub-questions and over those of right decompositions; with the extra answerer
calls the credit cost."""

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from distill.core.contracts import TRAIN
from distill.core.parts import build_parts
from distill.core.teacher_runs import annotate_batch
from distill.measurement.metrics import roc_auc
from distill.measurement.step_credit import removal_credit
from distill.synthetic.decisions import necessary

CONF = Path(__file__).resolve().parents[2] / "conf"

print(
    "| seed | sub-questions | share necessary | credit AUC, all | usefulness AUC, all | credit AUC, right "
    "decompositions | usefulness AUC, right | extra answerer calls per decomposition |"
)
print("|---|---|---|---|---|---|---|---|")
for seed in map(int, sys.argv[1:] or ["0"]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["world=v2", f"seed={seed}"])
    parts = build_parts(cfg)
    problems = parts.dataset.load(TRAIN)
    records, _ = annotate_batch(problems, parts.teacher, parts.answerer, parts.judge, cfg.data.samples_per_problem)
    by_id = {p.problem_id: p for p in problems}
    record_problems = [by_id[r.problem_id] for r in records]
    credits, calls = removal_credit(record_problems, [r.subquestions for r in records], parts.answerer)
    rows = [
        (c, u, necessary(p.world, q), bool(r.answer_correctness))
        for r, p, cs in zip(records, record_problems, credits)
        for q, c, u in zip(r.subquestions, cs, r.usefulness or [None] * len(cs))
    ]

    def auc(column: int, right_only: bool) -> str:
        kept = [row for row in rows if row[3] or not right_only]
        value = roc_auc([row[column] for row in kept], [row[2] for row in kept])
        return "n/a" if value is None else f"{value:.3f}"

    share = sum(row[2] for row in rows) / len(rows)
    print(
        f"| {seed} | {len(rows)} | {share:.3f} | {auc(0, False)} | {auc(1, False)} | {auc(0, True)} | "
        f"{auc(1, True)} | {calls / len(records):.2f} |"
    )
