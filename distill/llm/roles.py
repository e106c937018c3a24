"""Teacher, answerer and judge played by any LLM client (Anthropic, local Hugging Face)."""

from __future__ import annotations

from distill.core.contracts import Answer, Decomposition, Judgement, Problem
from distill.core.final_answer import extract_final_answer
from distill.core.records import add_usage
from distill.llm import prompts
from distill.llm.client import ChatRequest, Completion, LLMClient


class LLMTeacher:
    """Decomposes each problem ``n_samples`` times; an unparseable reply is kept with its raw text."""

    def __init__(
        self, client: LLMClient, max_tokens: int, examples_path: str | None, n_examples: int, name: str | None = None
    ):
        self.client, self.max_tokens = client, max_tokens
        self.name = name or client.name
        self.examples = prompts.decomposition_examples(examples_path, n_examples)

    def decompose(self, problems: list[Problem], n_samples: int) -> list[list[Decomposition]]:
        requests = [
            prompts.decompose_request(p.text, s, self.examples, self.max_tokens)
            for p in problems
            for s in range(n_samples)
        ]
        replies = self.client.complete(requests, desc="decompose")
        out = []
        for i in range(len(problems)):
            samples = []
            for reply in replies[i * n_samples : (i + 1) * n_samples]:
                questions = prompts.parse_subquestions(reply.text)
                # no "Qn:" lines: recorded with no sub-questions and the reply as it came
                meta = {} if questions or reply.error else {"unparsed_decomposition": reply.text}
                if reply.truncated:
                    meta["truncated"] = ["teacher"]
                samples.append(
                    Decomposition(questions, raw_text=reply.text, usage=reply.usage, meta=meta, error=reply.error)
                )
            out.append(samples)
        return out


class LLMAnswerer:
    """Answers the sub-questions in order, then "Final answer: N"; the reply is scored as it is."""

    def __init__(self, client: LLMClient, max_tokens: int, name: str | None = None):
        self.client, self.max_tokens = client, max_tokens
        self.name = name or client.name

    def answer(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Answer]:
        requests = [prompts.answer_request(p.text, qs, self.max_tokens) for p, qs in zip(problems, decompositions)]
        replies = self.client.complete(requests, desc="answer")
        return [
            Answer(
                r.text,
                usage=r.usage,
                error=r.error,
                meta={
                    **({} if r.error or extract_final_answer(r.text) is not None else {"no_final_answer": True}),
                    **({"truncated": ["answerer"]} if r.truncated else {}),
                },
            )
            for r in replies
        ]


class LLMJudge:
    """``n_votes`` Yes/No verdicts per sub-question; usefulness = share of readable votes that say yes."""

    def __init__(self, client: LLMClient, n_votes: int, max_tokens: int, name: str | None = None):
        self.client, self.n_votes, self.max_tokens = client, n_votes, max_tokens
        self.name = name or client.name

    def judge(self, problems: list[Problem], decompositions: list[list[str]]) -> list[Judgement]:
        # an empty decomposition (an unparseable reply) has nothing to judge: no request for it
        asked = [i for i, qs in enumerate(decompositions) if qs]
        requests: list[ChatRequest] = [
            prompts.judge_request(problems[i].text, decompositions[i], v, self.max_tokens)
            for i in asked
            for v in range(self.n_votes)
        ]
        replies = self.client.complete(requests, desc="judge")
        out = [Judgement([]) for _ in decompositions]
        for n, i in enumerate(asked):
            out[i] = self._judgement(decompositions[i], replies[n * self.n_votes : (n + 1) * self.n_votes])
        return out

    @staticmethod
    def _judgement(questions: list[str], replies: list[Completion]) -> Judgement:
        usage: dict = {}
        for reply in replies:
            add_usage(usage, reply.usage)
        errors = [r.error for r in replies if r.error]
        if errors:
            return Judgement([], usage=usage, error=errors[0])
        votes = [prompts.parse_votes(r.text, len(questions)) for r in replies]
        usefulness, unread = [], []
        for i in range(len(questions)):
            readable = [v[i] for v in votes if v[i] is not None]
            # a sub-question no vote could be read for scores 0 and is listed in meta
            usefulness.append(sum(readable) / len(readable) if readable else 0.0)
            if len(readable) < len(votes):
                unread.append(i)
        meta: dict = {"judge_votes": [r.text for r in replies]}
        if any(r.truncated for r in replies):
            meta["truncated"] = ["judge"]
        if unread:
            meta["unreadable_votes"] = unread
        return Judgement(usefulness, usage=usage, meta=meta)
