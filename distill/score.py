"""Score answerer outputs the paper's way.

    python -m distill.score FILE [FILE ...]

One line per file: its path, the number of items, how many are correct, and the accuracy. Reads the
paper's evaluation and raw files and our own records (see ``distill.core.records``).
"""

from __future__ import annotations

import sys

from distill.core.errors import OneLineParser
from distill.core.final_answer import is_correct
from distill.core.records import Record, read_records


def record_correct(record: Record) -> bool:
    """Re-score the transcript when there is one; otherwise trust the stored correctness."""
    if record.answerer_output is not None and record.true_answer is not None:
        return is_correct(record.answerer_output, record.true_answer)
    return bool(record.answer_correctness)


def score_file(path: str) -> tuple[int, int]:
    """(items, correct) for one file."""
    records = read_records(path)
    return len(records), sum(record_correct(r) for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m distill.score", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="evaluation or records files (JSONL, or one JSON list)")
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            n, correct = score_file(path)
        except (OSError, ValueError, KeyError) as err:
            print(f"{path}\terror: {err}", file=sys.stderr)
            status = 1
            continue
        if n == 0:
            print(f"{path}\terror: no records in the file", file=sys.stderr)
            status = 1
            continue
        accuracy = correct / n
        print(f"{path}\titems={n}\tcorrect={correct}\taccuracy={accuracy:.3f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
