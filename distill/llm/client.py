"""What every LLM client shares: the request and reply types, the response cache and token prices."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    """One chat turn: fixed instructions (cacheable on the server) and the item-specific user text."""

    system: str
    user: str
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    # how the reply should begin (e.g. "Q1:"); clients that can, start the reply with it (local models)
    reply_prefix: str = ""


@dataclass
class Completion:
    text: str
    # what this use of the reply cost: input_tokens, output_tokens, cache_*_input_tokens, cost_usd, requests
    # (HTTP requests answered); a reply reused from the cache or shared with an identical request of the
    # same call has only cached = 1 and costs nothing
    usage: dict[str, Any] = field(default_factory=dict)
    # set when no reply came (retries exhausted, batch row errored or expired, malformed reply); the item
    # stays undone
    error: str | None = None
    # the reply stopped at max_tokens: its text is cut
    truncated: bool = False


def reused(completion: Completion) -> Completion:
    """The same reply used again (from the cache, or for an identical request): it costs nothing now."""
    usage = {} if completion.error else {"cached": 1}
    return Completion(completion.text, usage, completion.error, completion.truncated)


def fan_out(keys: list[str], fresh: dict[str, Completion], cached: dict[str, Completion]) -> list[Completion]:
    """One completion per request key, in order: the first use of a reply fetched now carries its usage,
    every other use (a repeated key, a reply from the cache) is :func:`reused`."""
    out, charged = [], set()
    for key in keys:
        if key in fresh and key not in charged:
            charged.add(key)
            out.append(fresh[key])
        else:
            out.append(reused(fresh[key] if key in fresh else cached[key]))
    return out


class LLMClient(Protocol):
    name: str

    def complete(self, requests: list[ChatRequest], desc: str = "") -> list[Completion]:
        """One completion per request, in order; failures come back with ``error`` set, not raised."""


def request_key(model: str, request: ChatRequest, **params: Any) -> str:
    """A stable hash of everything that determines a reply."""
    payload = json.dumps(
        {
            "model": model,
            "system": request.system,
            "user": request.user,
            "max_tokens": request.max_tokens,
            "stop": list(request.stop),
            "reply_prefix": request.reply_prefix,
            **params,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class ResponseCache:
    """Replies by request key in a SQLite file, committed one by one, so nothing paid for is asked twice."""

    def __init__(self, path: str | Path | None):
        self.db = None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path))
            self.db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT, usage TEXT)")
            # Message Batches still running when a run stopped: resumed instead of submitted again
            self.db.execute("CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, keys TEXT)")
            self.db.commit()

    def get(self, key: str) -> Completion | None:
        if self.db is None:
            return None
        row = self.db.execute("SELECT text, usage FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        usage = json.loads(row[1])
        return Completion(row[0], usage, truncated=bool(usage.pop("truncated", 0)))

    def put(self, key: str, completion: Completion) -> None:
        if self.db is None or completion.error is not None:
            return
        usage = {**completion.usage, **({"truncated": 1} if completion.truncated else {})}
        self.db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", (key, completion.text, json.dumps(usage)))
        self.db.commit()

    def pending_batches(self) -> dict[str, list[str]]:
        if self.db is None:
            return {}
        return {row[0]: json.loads(row[1]) for row in self.db.execute("SELECT id, keys FROM batches")}

    def add_batch(self, batch_id: str, keys: list[str]) -> None:
        if self.db is not None:
            self.db.execute("INSERT OR REPLACE INTO batches VALUES (?, ?)", (batch_id, json.dumps(keys)))
            self.db.commit()

    def remove_batch(self, batch_id: str) -> None:
        if self.db is not None:
            self.db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            self.db.commit()


@dataclass
class Prices:
    """US dollars per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_write: float = 0.0
    cache_read: float = 0.0
    batch_discount: float = 0.5  # Message Batches cost this share of the normal price

    def cost(self, usage: dict[str, Any], batch: bool = False) -> float:
        dollars = (
            usage.get("input_tokens", 0) * self.input
            + usage.get("output_tokens", 0) * self.output
            + (usage.get("cache_creation_input_tokens") or 0) * self.cache_write
            + (usage.get("cache_read_input_tokens") or 0) * self.cache_read
        ) / 1e6
        return dollars * (self.batch_discount if batch else 1.0)
