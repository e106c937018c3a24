"""Teacher-run throughput against the local Messages API server: our client's concurrency against one request
at a time, and adaptive concurrency against fixed concurrency under a rate-limiting server."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from distill.bench.common import CONF, row
from distill.core.contracts import Problem
from distill.core.teacher_runs import annotate
from distill.llm.anthropic_client import AnthropicClient
from distill.llm.roles import LLMAnswerer, LLMJudge, LLMTeacher


def problems_per_minute(batch: list[Problem], url: str, max_retries: int, **client: Any) -> tuple[float, int]:
    """A teacher run of ``batch`` (4 samples each) against the server at ``url``: finished problems per minute
    (a failed problem is not work done, however fast it failed) and the failed count."""
    llm = AnthropicClient(model="claude-bench", prices={"input": 1.0, "output": 5.0}, cache_path=None,
                          max_retries=max_retries, api_key="x", base_url=url, **client)  # fmt: skip
    roles = (LLMTeacher(llm, max_tokens=400, examples_path=None, n_examples=3), LLMAnswerer(llm, max_tokens=512),
             LLMJudge(llm, n_votes=3, max_tokens=200))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = annotate(batch, *roles, n_samples=4, records_path=Path(tmp) / "r.jsonl", batch_size=len(batch))
        return 60 * (len(batch) - len(result.failed)) / (time.perf_counter() - start), len(result.failed)


def teacher_rows(n_problems: int, latency: float) -> Iterator[dict]:
    """Finished problems per minute of a teacher run (decompose, answer, judge) against the local Messages API server
    with ``latency`` seconds per request: our default client settings (``conf/client/anthropic.yaml``) against
    one request at a time; then against a server that rate-limits (429 beyond half our concurrency, and to 5%
    of requests at random), adaptive concurrency against the same client with adaptation off."""
    defaults = OmegaConf.load(CONF / "client" / "anthropic.yaml")
    concurrency, max_retries = defaults.concurrency, defaults.max_retries
    problems = [
        Problem(
            f"b{i}", f"Ann has {i + 3} apples and buys {i + 5} more. How many apples does she have?", float(2 * i + 8)
        )
        for i in range(n_problems)
    ]

    for limits, contenders in [
        ({}, {"ours": {"concurrency": concurrency}, "sequential": {"concurrency": 1}}),
        (
            {"max_in_flight": concurrency // 2, "rate_limit_share": 0.05},
            {
                "ours": {"concurrency": concurrency},
                "fixed": {"concurrency": concurrency, "adaptive_concurrency": False},
            },
        ),
    ]:
        # the server in its own process, as a remote API is: its work does not hold this process's interpreter
        port = free_port()
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in limits.items()]
        server = subprocess.Popen(
            [sys.executable, "-m", "distill.llm.local_server", f"--port={port}", f"--delay={latency}", *flags],
            stdout=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            server.stdout.readline()  # "Messages API on ...": listening
            problems_per_minute(problems[:1], url, max_retries, concurrency=1)  # warm-up: imports, first connection
            results = {
                name: problems_per_minute(problems, url, max_retries, **client) for name, client in contenders.items()
            }
        finally:
            server.terminate()
            server.wait()
        (ours, ours_failed), (base, base_failed) = results.values()
        setting = f"{n_problems} problems x 4 samples, {latency * 1000:.0f} ms per request, {concurrency} in flight"
        if limits:
            yield (
                row(
                    "teacher_rate_limited",
                    ours,
                    base,
                    "problems/min",
                    f"{setting}; server: 429 beyond {limits['max_in_flight']} in flight and to 5% at random; "
                    f"adaptive against fixed concurrency; failed problems {ours_failed} against {base_failed}",
                )
            )
        else:
            yield row("teacher_vs_sequential", ours, base, "problems/min", setting)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
