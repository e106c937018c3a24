"""How close the AI judge's votes come to a person who labels every record: for Filtered BC's usefulness filters
(the mean score, `min_usefulness`; the least useful sub-question's score, `min_question_usefulness`) at each
threshold, how many right records each keeps, and its precision and recall against the records the person keeps
(accepted, outcome right).

    python experiments/label_budget_window1/judge_agreement.py outputs/label_budget/person_all_seed1

FOLDER: a run.sh labelling folder whose store holds a label for every record (`person_all`)."""

import sys
from pathlib import Path

from distill.core.records import read_records
from distill.review.store import STORE_FILE, LabelStore, record_keys


def main(folder: Path) -> None:
    records = read_records(folder / "records.jsonl")
    store = LabelStore(folder / STORE_FILE)
    reviews = store.reviews()  # the labels merged over reviewers, as training applies them
    store.close()
    decided = [reviews[k] for k in record_keys(records) if k in reviews and reviews[k].decision]
    if len(decided) < len(records):
        sys.exit(f"{folder}: {len(decided)} of {len(records)} records have a person's decision; label them all first")
    person = [review.decision == "accept" and review.outcome != "wrong" for review in decided]
    right = [(r, p) for r, p in zip(records, person) if r.answer_correctness == 1.0]
    wanted = sum(person)
    print(f"{len(records)} records, {len(right)} right, the person keeps {wanted}\n")
    print("| filter | threshold | right records kept | of them the person keeps | precision | recall |")
    print("|---|---|---|---|---|---|")
    rules = {"mean (min_usefulness)": lambda u: sum(u) / len(u), "least (min_question_usefulness)": min}
    for name, score in rules.items():
        for threshold in (0.34, 0.5, 0.67, 0.8, 1.0):
            kept = [p for r, p in right if r.usefulness and score(r.usefulness) >= threshold]
            good = sum(kept)
            print(f"| {name} | {threshold} | {len(kept)} | {good} | {good / max(1, len(kept)):.3f} | "
                  f"{good / max(1, wanted):.3f} |")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]))
