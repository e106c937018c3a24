"""How hard the configured synthetic world is, measured with its own roles: what a test bed that tells methods
apart must show (experiments/calibration maps every level of the ladder with it).

    python -m distill.synthetic.calibration [world=v1|ordered|...|v2] [answerer.k=2] ...

Takes ``distill.train``'s config (the same overrides) and prints, on the evaluation split (``dataset.split``)
through the configured answerer: every surface rule and their best, the gold decomposition, gold plus two
irrelevant sub-questions, no sub-questions (the answerer alone), and the teacher's rows (first sample, mean,
label-free best-of-n, majority vote, ``eval.teacher_samples`` samples); over the training teacher run,
P(correct | the answerer gave a number); and the teacher's accuracy by number of operations on the evaluation
and ``ood`` splits. Writes ``calibration.json`` into the run folder.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from distill.core.contracts import TRAIN, Problem
from distill.core.errors import hydra_task
from distill.core.final_answer import extract_final_answer
from distill.core.parts import build_parts
from distill.core.records import group_by_problem
from distill.core.teacher_runs import annotate_batch, judged_records
from distill.measurement.results import baseline_accuracies
from distill.measurement.selectors import selector_rows
from distill.synthetic.teacher import GoldTeacher
from distill.synthetic.world import world_of


def accuracy(problems: list[Problem], decompositions: list[list[str]], answerer: Any) -> float:
    records = judged_records(problems, decompositions, answerer, None, "calibration")
    return sum(r.answer_correctness or 0.0 for r in records) / max(1, len(records))


def with_irrelevant(problem: Problem, questions: list[str], n: int, seed: int) -> list[str]:
    """``questions`` with ``n`` sub-questions about quantities the target does not need, at seeded places."""
    world = world_of(problem)
    relevant = world.ancestors(world.target) | {world.target}
    pool = [i for i in range(len(world.quantities)) if i not in relevant]
    rng = random.Random(f"{seed}|{problem.problem_id}")
    out = list(questions)
    for i in rng.sample(pool, min(n, len(pool))):
        out.insert(rng.randint(0, len(out)), world.quantities[i].questions()[0])
    return out


def by_operations(records_per_problem: list[list[Any]], problems: list[Problem]) -> dict[str, float]:
    """The teacher's mean accuracy over its samples, per number of operations the answer needs."""
    groups: dict[int, list[float]] = defaultdict(list)
    for problem, records in zip(problems, records_per_problem):
        groups[world_of(problem).n_steps] += [r.answer_correctness or 0.0 for r in records]
    return {str(n): round(sum(v) / len(v), 3) for n, v in sorted(groups.items())}


def calibrate(cfg: DictConfig) -> dict[str, Any]:
    parts = build_parts(cfg)
    problems = parts.dataset.load(cfg.dataset.split)
    n = cfg.eval.teacher_samples
    # the data set's baselines (each surface rule and their best, gold, none), as every run's results.json has them
    gold = [d[0].subquestions for d in GoldTeacher().decompose(problems, 1)]
    out: dict[str, Any] = {
        "dataset": parts.dataset.name,
        "split": cfg.dataset.split,
        "answerer": parts.answerer.name,
        **baseline_accuracies(problems, parts.dataset.baselines(), parts.answerer),
        "gold_plus_2_irrelevant": accuracy(
            problems, [with_irrelevant(p, g, 2, cfg.seed) for p, g in zip(problems, gold)], parts.answerer
        ),
    }
    split_rows = {}
    for split in dict.fromkeys([cfg.dataset.split, "ood"]):
        split_problems = parts.dataset.load(split)
        records, _ = annotate_batch(split_problems, parts.teacher, parts.answerer, None, n)
        grouped = list(group_by_problem(records).values())
        split_rows[split] = {"teacher": selector_rows(grouped), "by_operations": by_operations(grouped, split_problems)}
    out["teacher"] = split_rows[cfg.dataset.split]["teacher"]
    out["teacher_by_operations"] = {s: r["by_operations"] for s, r in split_rows.items()}
    out["ood_teacher"] = split_rows["ood"]["teacher"]
    train_records, _ = annotate_batch(
        parts.dataset.load(TRAIN), parts.teacher, parts.answerer, None, cfg.data.samples_per_problem
    )
    answered = [r for r in train_records if extract_final_answer(r.answerer_output) is not None]
    out["train_run"] = {
        "records": len(train_records),
        "answered": len(answered),
        "p_correct_given_answered": sum(r.answer_correctness or 0.0 for r in answered) / max(1, len(answered)),
        "accuracy": sum(r.answer_correctness or 0.0 for r in train_records) / len(train_records),
    }
    return out


def print_calibration(out: dict[str, Any]) -> None:
    t = out["teacher"]
    print(f"{out['dataset']} ({out['split']}, answerer {out['answerer']}):")
    rules = {k[len("rule_") :]: v for k, v in out.items() if k.startswith("rule_")}
    print(
        "  surface rules: "
        + "   ".join(f"{name} {v:.3f}" for name, v in rules.items())
        + f"   (best {out['rule']:.3f})"
    )
    print(
        f"  gold {out['gold']:.3f}   gold + 2 irrelevant {out['gold_plus_2_irrelevant']:.3f}   no sub-questions "
        f"{out['none']:.3f}"
    )
    print(
        f"  teacher@1 {t['first']['accuracy']:.3f}   mean {t['mean']['accuracy']:.3f}   best-of-{t['n']} "
        f"{t['best_of_n']['accuracy']:.3f}   majority {t['majority']['accuracy']:.3f}   "
        f"(ood: teacher@1 {out['ood_teacher']['first']['accuracy']:.3f})"
    )
    run = out["train_run"]
    print(
        f"  training teacher run: accuracy {run['accuracy']:.3f}, P(correct | answered) "
        f"{run['p_correct_given_answered']:.3f} ({run['answered']} of {run['records']} answered)"
    )
    for split, table in out["teacher_by_operations"].items():
        print(f"  teacher accuracy by operations ({split}): " + ", ".join(f"{k}: {v:.3f}" for k, v in table.items()))


@hydra.main(config_path="../../conf", config_name="train", version_base="1.3")
@hydra_task
def main(cfg: DictConfig) -> None:
    out = calibrate(cfg)
    print_calibration(out)
    path = Path(HydraConfig.get().runtime.output_dir) / "calibration.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"calibration in {path}")


if __name__ == "__main__":
    main()
