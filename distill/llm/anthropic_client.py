"""Claude through the official ``anthropic`` SDK (2.x): concurrent requests or Message Batches.

Every reply is cached by a hash of model, prompt and parameters, so a re-run never pays twice; the
transient failures (408/409/429/5xx, connection errors) are retried ``max_retries`` times (honouring
``retry-after-ms``), and when the retries run out the item comes back with ``error`` set and stays undone.
The number of requests in flight adapts to the server: a 429 halves it (retries wait behind the limit
like any request), and runs of successes raise it back to ``concurrency``. Authentication, permission and
bad-request errors stop the run at once: retrying them cannot help. ``ANTHROPIC_API_KEY`` and
``ANTHROPIC_BASE_URL`` are honoured, so any server implementing the Messages API works.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import anthropic
import httpx2
from tqdm import tqdm

from distill.core.errors import FatalCallError, UsageError
from distill.llm.client import ChatRequest, Completion, Prices, ResponseCache, fan_out, request_key

# failures worth a later retry (the SDK already retried them max_retries times); anything else raises
TRANSIENT_ERRORS = (
    anthropic.RateLimitError,
    anthropic.InternalServerError,
    anthropic.APIConnectionError,
    anthropic.APIResponseValidationError,
    anthropic.ConflictError,
)
MAX_BATCH_REQUESTS = 100_000
# failures no retry can fix, and what to check for each
FATAL_ERRORS = {
    anthropic.AuthenticationError: "authentication failed: check the API key (ANTHROPIC_API_KEY)",
    anthropic.PermissionDeniedError: "permission denied: the API key may not use this model or endpoint",
    anthropic.NotFoundError: "not found: check the model name (client.model) and ANTHROPIC_BASE_URL",
    anthropic.BadRequestError: "bad request: the server refused the request as sent",
}


class AdaptiveLimit:
    """At most ``limit`` requests in flight, adapted to the server (additive increase, multiplicative
    decrease, as TCP does): a 429 halves the limit, and every ``limit`` successes raise it by one, up to
    ``maximum``. Only requests started under the current limit move it: the 429s of requests sent before a
    cut are the same congestion, already answered, and count once."""

    def __init__(self, maximum: int, adaptive: bool = True) -> None:
        if maximum < 1:
            raise ValueError(f"concurrency must be at least 1, got {maximum}")
        self.maximum = self.limit = maximum
        self.adaptive = adaptive
        self.in_flight = self.successes = self.rate_limited = self.generation = 0
        self._free = asyncio.Condition()

    async def acquire(self) -> int:
        """Wait for a free slot; the generation of the limit the request starts under."""
        async with self._free:
            await self._free.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            return self.generation

    async def release(self) -> None:
        async with self._free:
            self.in_flight -= 1
            self._free.notify_all()

    def saw_429(self, generation: int) -> None:
        self.rate_limited += 1
        if self.adaptive and generation == self.generation:
            self.limit, self.successes, self.generation = max(1, self.limit // 2), 0, self.generation + 1

    def succeeded(self, generation: int) -> None:
        if self.adaptive and generation == self.generation:
            self.successes += 1
            if self.successes >= self.limit and self.limit < self.maximum:
                self.limit, self.successes, self.generation = self.limit + 1, 0, self.generation + 1


def retry_delay(err: Exception, attempt: int) -> float:
    """Seconds before retrying: the server's ``retry-after-ms`` / ``retry-after`` when it sent one (up to a
    minute), else exponential backoff from 0.5 s (capped at 8 s) with jitter, as the SDK does."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            if name in headers and 0 <= float(headers[name]) * scale <= 60:
                return float(headers[name]) * scale
        except ValueError:
            pass
    return min(8.0, 0.5 * 2**attempt) * (1 - 0.25 * random.random())


def fatal(err: anthropic.APIStatusError) -> FatalCallError:
    """One line naming the cause; the SDK's exception stays attached as the cause."""
    hint = next(text for kind, text in FATAL_ERRORS.items() if isinstance(err, kind))
    message = getattr(err, "message", str(err))
    return FatalCallError(f"{hint} (HTTP {err.status_code}: {message})")


class AnthropicClient:
    def __init__(
        self,
        model: str,
        prices: dict[str, float],
        cache_path: str | None,
        concurrency: int = 16,
        adaptive_concurrency: bool = True,
        max_retries: int = 4,
        timeout: float = 120.0,
        mode: str = "messages",
        poll_seconds: float = 30.0,
        api_key: str | None = None,
        base_url: str | None = None,
        name: str | None = None,
        transport: httpx2.BaseTransport | None = None,  # tests: an httpx2.MockTransport
        strict: bool = False,  # validate every reply against the SDK's types (tests)
    ):
        if mode not in ("messages", "batch"):
            raise ValueError(f"mode must be 'messages' or 'batch', not {mode!r}")
        self.model, self.mode, self.concurrency = model, mode, concurrency
        self.adaptive_concurrency = adaptive_concurrency
        self.limit: AdaptiveLimit | None = None  # the last concurrent run's limiter (its 429 count, final limit)
        self.prices = Prices(**prices)
        self.poll_seconds = poll_seconds
        self.cache = ResponseCache(cache_path)
        self.name = name or model
        self.transport = transport
        # None lets the SDK read ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL
        self.max_retries = max_retries
        self.client_args: dict[str, Any] = dict(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout,
            _strict_response_validation=strict,
        )
        self.batch_errors: dict[str, str] = {}

    def complete(self, requests: list[ChatRequest], desc: str = "") -> list[Completion]:
        keys = [request_key(self.model, r) for r in requests]
        cached = {key: c for key in set(keys) if (c := self.cache.get(key)) is not None}
        todo = {key: r for key, r in zip(keys, requests) if key not in cached}
        fresh: dict[str, Completion] = {}
        if todo:
            try:
                if self.mode == "batch":
                    fresh = self._complete_batch(todo, desc)
                else:
                    fresh = asyncio.run(self._complete_concurrently(todo, desc))
            except tuple(FATAL_ERRORS) as err:
                raise fatal(err) from err
        return fan_out(keys, fresh, cached)

    # --- building requests and reading replies -------------------------------------------------
    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            # the fixed instructions and examples: one cached block, identical across items
            "system": [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": request.user}],
        }
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        return params

    def _completion(self, message: Any, batch: bool) -> Completion:
        """The reply as a Completion; a reply without a readable text ``content`` or ``usage`` (an HTML page,
        a body that is not a message) is a failed call, kept out of the cache and retried by the next run."""
        content, u = getattr(message, "content", None), getattr(message, "usage", None)
        if not isinstance(content, list) or u is None or not isinstance(getattr(u, "input_tokens", None), int):
            shown = message if isinstance(message, str) else type(message).__name__
            return Completion("", {}, error=f"malformed reply (no message content and usage): {str(shown)[:120]!r}")
        text = "".join(block.text for block in content if getattr(block, "type", "") == "text")
        usage = {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens or 0,
            "cache_creation_input_tokens": u.cache_creation_input_tokens or 0,
            "cache_read_input_tokens": u.cache_read_input_tokens or 0,
            "requests": 1,
        }
        usage["cost_usd"] = self.prices.cost(usage, batch=batch)
        if batch:
            usage["batch"] = 1
        return Completion(text, usage, truncated=getattr(message, "stop_reason", None) == "max_tokens")

    def _sdk(self, asynchronous: bool):
        if not (
            self.client_args["api_key"] or os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")
        ):
            raise UsageError(
                f"{self.name}: no Anthropic API key; set ANTHROPIC_API_KEY (replies already in the cache need none)"
            )
        if asynchronous:  # the concurrent path retries itself, behind its adaptive limit
            http = httpx2.AsyncClient(transport=self.transport) if self.transport else None
            return anthropic.AsyncAnthropic(**{**self.client_args, "max_retries": 0}, http_client=http)
        http = httpx2.Client(transport=self.transport) if self.transport else None
        return anthropic.Anthropic(**self.client_args, http_client=http)

    # --- Messages API, bounded concurrency -----------------------------------------------------
    async def _complete_concurrently(self, todo: dict[str, ChatRequest], desc: str) -> dict[str, Completion]:
        limit = self.limit = AdaptiveLimit(self.concurrency, self.adaptive_concurrency)
        bar = tqdm(total=len(todo), desc=f"{self.name} {desc}".strip(), unit="request", leave=False)

        async def one(client: anthropic.AsyncAnthropic, key: str, request: ChatRequest) -> tuple[str, Completion]:
            for attempt in range(self.max_retries + 1):
                generation = await limit.acquire()  # a retry queues behind the limit like any request
                try:
                    message = await client.messages.create(**self._params(request))
                    limit.succeeded(generation)
                    break
                except TRANSIENT_ERRORS as err:
                    error = err
                    if isinstance(err, anthropic.RateLimitError):
                        limit.saw_429(generation)
                except ValueError as err:  # a 200 whose body is not JSON
                    return key, Completion("", {}, error=f"malformed reply (not JSON): {err}")
                finally:
                    await limit.release()
                if attempt == self.max_retries:
                    return key, Completion("", {}, error=f"{type(error).__name__}: {error}")
                await asyncio.sleep(retry_delay(error, attempt))
            completion = self._completion(message, batch=False)
            self.cache.put(key, completion)  # durable before the next request starts (errors are not kept)
            bar.set_postfix(in_flight=f"<={limit.limit}", rate_limited=limit.rate_limited, refresh=False)
            bar.update(1)
            return key, completion

        try:
            async with self._sdk(asynchronous=True) as client:
                pairs = await asyncio.gather(*(one(client, k, r) for k, r in todo.items()))
        finally:
            bar.close()
        return dict(pairs)

    # --- Message Batches: half price, results within 24 h --------------------------------------
    def _complete_batch(self, todo: dict[str, ChatRequest], desc: str) -> dict[str, Completion]:
        with self._sdk(asynchronous=False) as client:
            # batches submitted by an earlier, interrupted run: collect them rather than pay again
            for batch_id, keys in self.cache.pending_batches().items():
                if set(keys) & todo.keys():
                    self._collect(client, batch_id, desc)
            remaining = [key for key in todo if self.cache.get(key) is None]
            for start in range(0, len(remaining), MAX_BATCH_REQUESTS):
                chunk = remaining[start : start + MAX_BATCH_REQUESTS]
                # the key is a 64-character hex digest: a valid custom_id
                batch = client.messages.batches.create(
                    requests=[{"custom_id": key, "params": self._params(todo[key])} for key in chunk]
                )
                self.cache.add_batch(batch.id, chunk)
                self._collect(client, batch.id, desc)
        # fetched in this run (now in the cache), or the row's error
        return {
            key: self.cache.get(key)
            or Completion("", {}, error=self.batch_errors.get(key, "missing from batch results"))
            for key in todo
        }

    def _collect(self, client: anthropic.Anthropic, batch_id: str, desc: str) -> None:
        """Wait for a batch to end, then cache its succeeded rows and note the others' errors."""
        batch = client.messages.batches.retrieve(batch_id)
        total = sum(batch.request_counts.model_dump().values())
        with tqdm(total=total, desc=f"{self.name} {desc} batch {batch_id}".strip(), unit="request", leave=False) as bar:
            while batch.processing_status != "ended":
                counts = batch.request_counts
                bar.n = total - counts.processing
                bar.refresh()
                time.sleep(self.poll_seconds)
                batch = client.messages.batches.retrieve(batch_id)
            bar.n = total
            bar.refresh()
        for row in client.messages.batches.results(batch_id):
            result = row.result
            if result.type == "succeeded":
                completion = self._completion(result.message, batch=True)
                if completion.error:
                    self.batch_errors[row.custom_id] = completion.error
                self.cache.put(row.custom_id, completion)
            elif result.type == "errored":
                self.batch_errors[row.custom_id] = f"batch row errored: {result.error.error.message}"
            else:  # canceled or expired: not billed, asked again on the next run
                self.batch_errors[row.custom_id] = f"batch row {result.type}"
        self.cache.remove_batch(batch_id)
