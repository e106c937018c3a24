"""An answerer that replays answers from files (the paper's evaluation files, or our records)."""

from __future__ import annotations

from distill.core.contracts import Answer, Problem
from distill.core.records import read_records


def _key(problem_id: str, subquestions: list[str]) -> tuple[str, tuple[str, ...]]:
    return problem_id, tuple(" ".join(q.split()).lower() for q in subquestions)


class ReplayAnswerer:
    """Looks each (problem, sub-questions) up in ``paths``; a pair not found comes back as an error."""

    def __init__(self, paths: list[str], name: str = "replay"):
        if isinstance(paths, str):
            paths = [paths]
        self.name = name
        self.answers: dict[tuple[str, tuple[str, ...]], str] = {}
        for path in paths:
            for record in read_records(path):
                if record.answerer_output is not None:
                    self.answers.setdefault(_key(record.problem_id, record.subquestions), record.answerer_output)
        if not self.answers:
            raise ValueError(f"no answers to replay in {paths}")

    def answer(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Answer]:
        out = []
        for problem, questions in zip(problems, decompositions):
            text = self.answers.get(_key(problem.problem_id, questions))
            out.append(
                Answer(text)
                if text is not None
                else Answer("", error="replay: no answer for these sub-questions in the replay files")
            )
        return out
