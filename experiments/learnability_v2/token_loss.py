"""Where a world-v2 student's loss sits: each action token of the teacher's right test decompositions, under
teacher forcing, sorted into the item it names, the person it names, and the rest (template words, delimiters).
For each kind: mean loss (nats) and the share of tokens that the student's argmax gets right. A question names
its item before its person ("How many apples does Alra have?"), so the item token picks among the problem's
items, and the person token, given the item, picks the quantity.

    python experiments/learnability_v2/token_loss.py RUN_FOLDER [RUN_FOLDER ...] [--max-records 400]

It reads each run's ``student/`` and ``teacher_eval_records.jsonl`` (both stay on the machine that ran it).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch

from distill.students.student import Student, student_folder
from distill.synthetic.world_v2 import ITEMS, NAMES


def kind_of(token: str, position_in_question: int) -> str:
    if token in NAMES:
        return "person"
    if token in ITEMS:
        return "item"
    return "first word" if position_in_question == 0 else "other"


@torch.no_grad()
def token_table(run: Path, max_records: int) -> dict[str, dict[str, float]]:
    student = Student.load(student_folder(run))
    student.model.eval()
    lines = (run / "teacher_eval_records.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    records = [r for r in records if r.get("answer_correctness") == 1.0 and r["subquestions"]][:max_records]
    loss, right, count = defaultdict(float), defaultdict(float), defaultdict(int)
    for record in records:
        episode = student.episode(record["problem"], record["subquestions"])
        ids = torch.tensor([episode.input_ids])
        logits = student.model(input_ids=ids).logits[0, :-1]
        targets = ids[0, 1:]
        nll = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
        hit = logits.argmax(-1) == targets
        start = episode.action_mask.index(1)
        in_question = 0
        for position in range(start, len(episode.input_ids)):
            token = student.tokenizer.convert_ids_to_tokens(int(ids[0, position]))
            kind = kind_of(token, in_question)
            loss[kind] += float(nll[position - 1])
            right[kind] += float(hit[position - 1])
            count[kind] += 1
            in_question = 0 if position in episode.terminators else in_question + 1
    total = sum(count.values())
    table = {
        kind: {
            "tokens": count[kind],
            "share_of_tokens": count[kind] / total,
            "mean_loss": loss[kind] / count[kind],
            "share_of_loss": loss[kind] / sum(loss.values()),
            "argmax_right": right[kind] / count[kind],
        }
        for kind in sorted(count)
    }
    table["all"] = {"tokens": total, "records": len(records), "mean_loss": sum(loss.values()) / total}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--max-records", type=int, default=400)
    args = parser.parse_args()
    print("| run | token kind | tokens | share of tokens | mean loss | share of loss | argmax right |")
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        table = token_table(run, args.max_records)
        overall = table.pop("all")
        for kind, row in table.items():
            print(
                f"| {run.name} | {kind} | {row['tokens']} | {row['share_of_tokens']:.3f} | {row['mean_loss']:.3f} | "
                f"{row['share_of_loss']:.3f} | {row['argmax_right']:.3f} |"
            )
        print(
            f"| {run.name} | all ({overall['records']} right teacher decompositions) | {overall['tokens']} | 1 | "
            f"{overall['mean_loss']:.3f} | 1 | |"
        )


if __name__ == "__main__":
    main()
