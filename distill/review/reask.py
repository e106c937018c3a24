"""The automatic alternative to a person's label: ask the answerer again and relabel by the majority.

A record's automatic label is one draw of a fallible answerer. Re-asking it ``reasks`` more times (independent
draws, ``distill.review.strategies.reask_outcomes``) and taking the majority of those and the original answer
(a tie keeps the original) gives an outcome label at the price of LLM calls instead of reviewer hours. The labels
go into the same store as a person's, as reviewer ``ask-<reasks>``, so training applies them the same way
(``distill.review.apply``).

Its price is what the calls would cost if Claude answered (``conf/client/anthropic.yaml``'s prices): each call is
``distill.llm.prompts.answer_request`` for the record (its fixed instructions read from the prompt cache, its
problem and sub-questions as input) and a reply as long as the record's own transcript, at four characters a
token (the convention of ``distill.llm.local_server``; no tokenizer of Claude's is available offline).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from distill.core.contracts import Answerer, Problem
from distill.core.records import Record
from distill.llm.client import Prices
from distill.llm.prompts import answer_request
from distill.review.queue import QueueItem
from distill.review.store import LabelStore, record_keys
from distill.review.strategies import reask_outcomes

CLAUDE = Path(__file__).resolve().parents[2] / "conf" / "client" / "anthropic.yaml"
CHARS_PER_TOKEN = 4


def reask_review(
    store: LabelStore,
    records: list[Record],
    items: list[QueueItem],
    problems: dict[str, Problem],
    answerer: Answerer,
    reasks: int,
) -> int:
    """Label the outcome of ``items``' records by the majority of the original answer and ``reasks`` more; the
    answerer calls it took."""
    chosen = [records[item.index] for item in items]
    keys = record_keys(records)
    for item, record, again in zip(items, chosen, reask_outcomes(chosen, problems, answerer, reasks)):
        votes = [bool(record.answer_correctness), *again]
        right = 2 * sum(votes) > len(votes) or (2 * sum(votes) == len(votes) and votes[0])
        store.add(keys[item.index], f"ask-{reasks}", "outcome", "right" if right else "wrong", stratum=item.stratum)
    return reasks * len(chosen)


def claude_prices() -> tuple[str, Prices]:
    """The model the project's Claude client calls and its prices (``conf/client/anthropic.yaml``)."""
    client = OmegaConf.load(CLAUDE)
    return str(client.model), Prices(**OmegaConf.to_container(client.prices))  # type: ignore[arg-type]


def call_usd(record: Record, prices: Prices) -> float:
    """What answering ``record``'s decomposition once would cost at ``prices`` (the module's docstring)."""
    request = answer_request(record.problem, record.subquestions, max_tokens=512)
    usage = {
        "cache_read_input_tokens": len(request.system) // CHARS_PER_TOKEN,
        "input_tokens": len(request.user) // CHARS_PER_TOKEN,
        "output_tokens": len(record.answerer_output or "") // CHARS_PER_TOKEN,
    }
    return prices.cost(usage)
