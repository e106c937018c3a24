"""Few-shot prompts for the three roles and parsers that survive malformed replies.

The built-in examples are problems written for this project in the style of GSM8K's training split
(none is a test problem; a test checks it). ``examples_path`` swaps in decomposition examples read from
any records file, e.g. the first problems of the paper's training split.
"""

from __future__ import annotations

import re

from distill.core.records import join_numbered, read_records
from distill.llm.client import ChatRequest

# (problem, sub-questions, answer lines, final answer, judge's view: (sub-question, useful))
EXAMPLES = [
    {
        "problem": "A baker makes 36 muffins in the morning and half as many in the afternoon. She sells "
        "each muffin for $2. How much money does she make if she sells all of them?",
        "subquestions": [
            "How many muffins does the baker make in the afternoon?",
            "How many muffins does she make in total?",
            "How much money does she make if she sells all of them?",
        ],
        "answers": [
            "She makes 36 / 2 = 18 muffins in the afternoon.",
            "She makes 36 + 18 = 54 muffins in total.",
            "She makes 54 x 2 = $108.",
        ],
        "final": "108",
        "judged": [
            ("How many muffins does the baker make in the morning?", False),
            ("How many muffins does the baker make in the afternoon?", True),
            ("How many muffins does she make in total?", True),
            ("How much money does she make if she sells all of them?", True),
        ],
    },
    {
        "problem": "Tom has 5 boxes with 12 pencils in each box. He gives 14 pencils to his sister and "
        "keeps the rest. How many pencils does Tom keep?",
        "subquestions": ["How many pencils does Tom have in all?", "How many pencils does Tom keep?"],
        "answers": ["Tom has 5 x 12 = 60 pencils.", "Tom keeps 60 - 14 = 46 pencils."],
        "final": "46",
        "judged": [
            ("How many pencils does Tom have in all?", True),
            ("How many pencils does his sister have now?", False),
            ("How many pencils does Tom keep?", True),
        ],
    },
    {
        "problem": "A train travels 240 miles in 4 hours. At the same speed, how far does it travel in 7 hours?",
        "subquestions": [
            "How many miles does the train travel in one hour?",
            "How far does the train travel in 7 hours?",
        ],
        "answers": ["The train travels 240 / 4 = 60 miles in one hour.", "In 7 hours it travels 60 x 7 = 420 miles."],
        "final": "420",
        "judged": [
            ("How many miles does the train travel in one hour?", True),
            ("How far does the train travel in 7 hours?", True),
        ],
    },
]

DECOMPOSE = (
    "Break the math word problem into the sub-questions that lead to its answer. Write one "
    'sub-question per line as "Q1: ...", "Q2: ...", in the order they should be answered; the '
    "last one asks what the problem asks. Write nothing else."
)
ANSWER = (
    'Answer the sub-questions of the math word problem in order, one line each as "A1: ...", '
    '"A2: ...", using the earlier answers. Then write the answer to the problem on the last line as '
    '"Final answer: N", where N is a number.'
)
JUDGE = (
    "Judge each sub-question of the math word problem: is answering it a useful step towards the "
    'answer? Write one line per sub-question, "Q1: Yes" or "Q1: No", and nothing else.'
)
# a model that goes on to invent the next few-shot problem stops here
STOP = ("Problem:",)


def _rotated(items: list, shift: int) -> list:
    shift %= max(len(items), 1)
    return items[shift:] + items[:shift]


def decomposition_examples(examples_path: str | None, n_examples: int) -> list[tuple[str, list[str]]]:
    """(problem, sub-questions) pairs for the decomposition prompt."""
    if not examples_path:
        return [(e["problem"], e["subquestions"]) for e in EXAMPLES][:n_examples]
    pairs, seen = [], set()
    for record in read_records(examples_path):
        if record.problem not in seen and record.subquestions:
            seen.add(record.problem)
            pairs.append((record.problem, record.subquestions))
        if len(pairs) == n_examples:
            break
    if not pairs:
        raise ValueError(f"no decompositions to use as examples in {examples_path}")
    return pairs


def decompose_request(problem: str, sample: int, examples: list[tuple[str, list[str]]], max_tokens: int) -> ChatRequest:
    # There is no temperature in the 2.x Messages API: samples differ through the order of the examples
    # (the same order for every problem, so each order's system block is cached) and a note in the turn.
    shots = "\n\n".join(f"Problem: {p}\n{join_numbered(q)}" for p, q in _rotated(examples, sample))
    note = "" if sample == 0 else f"\n\n(Decomposition {sample + 1}: choose your own wording and steps.)"
    return ChatRequest(f"{DECOMPOSE}\n\n{shots}", f"Problem: {problem}{note}", max_tokens, STOP, "Q1:")


def answer_request(problem: str, subquestions: list[str], max_tokens: int) -> ChatRequest:
    shots = "\n\n".join(
        f"Problem: {e['problem']}\n{join_numbered(e['subquestions'])}\n\n"
        f"{join_numbered(e['answers'], 'A')}\nFinal answer: {e['final']}"
        for e in EXAMPLES
    )
    return ChatRequest(
        f"{ANSWER}\n\n{shots}",
        f"Problem: {problem}\n{join_numbered(subquestions)}",
        max_tokens,
        STOP,
        "A1:" if subquestions else "",
    )


def judge_request(problem: str, subquestions: list[str], vote: int, max_tokens: int) -> ChatRequest:
    shots = "\n\n".join(
        f"Problem: {e['problem']}\n{join_numbered([q for q, _ in e['judged']])}\n\n"
        + "\n".join(f"Q{i}: {'Yes' if useful else 'No'}" for i, (_, useful) in enumerate(e["judged"], 1))
        for e in _rotated(EXAMPLES, vote)
    )
    note = "" if vote == 0 else f"\n\n(Reviewer {vote + 1}.)"
    return ChatRequest(
        f"{JUDGE}\n\n{shots}", f"Problem: {problem}\n{join_numbered(subquestions)}{note}", max_tokens, STOP, "Q1:"
    )


_QUESTION_LINE = re.compile(r"^\W*Q(\d+)\s*[:.)]\s*(.+?)\s*$", re.IGNORECASE)


def parse_subquestions(text: str) -> list[str]:
    """The "Qn: ..." lines of a reply, in order, without numbering; [] when there are none."""
    questions = []
    for line in text.splitlines():
        match = _QUESTION_LINE.match(line)
        if match and match.group(2).strip("*").strip():
            questions.append(match.group(2).strip("*").strip())
    return questions


def parse_votes(text: str, n_questions: int) -> list[bool | None]:
    """Yes/No per sub-question from "Qn: Yes" lines; None where the reply says nothing readable."""
    votes: list[bool | None] = [None] * n_questions
    for line in text.splitlines():
        match = _QUESTION_LINE.match(line)
        if not match:
            continue
        index, verdict = int(match.group(1)) - 1, match.group(2).lower()
        if 0 <= index < n_questions and votes[index] is None:
            if verdict.startswith("yes"):
                votes[index] = True
            elif verdict.startswith("no"):
                votes[index] = False
    return votes
