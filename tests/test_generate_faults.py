"""`python -m distill.generate` against a faulty local Messages API server, as a user runs it (subprocesses)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from distill.llm.local_server import serve


def run_generate(tmp_path, data_dir, *overrides, status=200, env_key="x"):
    server = serve(status=status)
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "ANTHROPIC_API_KEY": env_key,
        "DISTILL_DATA_DIR": str(data_dir),
        "HYDRA_FULL_ERROR": "",
    }
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "distill.generate",
        "teacher=anthropic",
        "dataset=gsm8k",
        "dataset.split=train",
        f"hydra.run.dir={out}",
        f"paths.output_dir={tmp_path}",
        "teacher.client.max_retries=0",
        "answerer.client.max_retries=0",
        "judge.client.max_retries=0",
        *overrides,
    ]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
    return done, out


@pytest.mark.parametrize("status,cause", [(401, "API key"), (404, "model name"), (400, "bad request")])
def test_a_call_no_retry_can_fix_ends_the_run_with_one_line_and_a_summary(tmp_path, data_dir, status, cause):
    done, out = run_generate(tmp_path, data_dir, "dataset.limit=4", status=status)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert cause in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert cause in summary["stopped"] and summary["complete"] is False


def test_a_server_answering_429_to_everything_trips_the_circuit_breaker(tmp_path, data_dir):
    done, out = run_generate(
        tmp_path, data_dir, "dataset.limit=10", "batch_size=2", "max_consecutive_failures=4", status=429
    )
    assert done.returncode != 0 and "circuit breaker" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["failed"]) == 4 and summary["n_problems"] == 0


@pytest.mark.parametrize(
    "override,message",
    [
        ("dataset.limit=-3", "dataset.limit must be a positive"),
        ("dataset.limit=0", "dataset.limit must be a positive"),
        ("samples_per_problem=-1", "samples_per_problem must be a positive"),
        ("batch_size=0", "batch_size must be a positive"),
    ],
)
def test_bad_settings_are_refused_before_any_request(tmp_path, data_dir, override, message):
    log = tmp_path / "requests.jsonl"
    server = serve(log_path=log)
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "ANTHROPIC_API_KEY": "x",
        "DISTILL_DATA_DIR": str(data_dir),
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "distill.generate",
                "teacher=anthropic",
                "dataset=gsm8k",
                f"hydra.run.dir={tmp_path / 'run'}",
                f"paths.output_dir={tmp_path}",
                override,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
    assert done.returncode != 0 and message in done.stderr
    assert not log.exists()  # no request was sent


def test_an_api_key_given_on_the_command_line_reaches_no_file(tmp_path, data_dir):
    secret = "sk-ant-test-DO-NOT-LEAK-1234"
    done, out = run_generate(
        tmp_path,
        data_dir,
        "dataset.limit=2",
        f"+teacher.client.api_key={secret}",
        f"+answerer.client.api_key={secret}",
        f"+judge.client.api_key={secret}",
        env_key="",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert secret not in done.stdout + done.stderr
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == []
    assert "***redacted***" in (out / ".hydra" / "overrides.yaml").read_text()
    assert json.loads((out / "summary.json").read_text())["teacher"]["client"]["api_key"] == "***redacted***"


def test_the_main_job_stops_with_one_line_when_its_teacher_run_cannot_go_on(tmp_path, data_dir):
    server = serve(status=401)
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "ANTHROPIC_API_KEY": "x",
        "DISTILL_DATA_DIR": str(data_dir),
        "HYDRA_FULL_ERROR": "",
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "distill.train",
                "teacher=anthropic",
                "dataset=gsm8k",
                "dataset.limit=3",
                "logger=none",
                f"hydra.run.dir={tmp_path / 'run'}",
                f"paths.output_dir={tmp_path}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: the teacher run stopped: authentication failed")


def test_adaptive_limit_halves_on_429_and_grows_back():
    import asyncio

    from distill.llm.anthropic_client import AdaptiveLimit

    limit = AdaptiveLimit(8)
    limit.saw_429(0)
    limit.saw_429(0)  # sent under the old limit: the same congestion, counted once
    assert limit.limit == 4 and limit.rate_limited == 2 and limit.generation == 1
    limit.saw_429(1)
    assert limit.limit == 2
    limit.succeeded(0)  # a success of a request sent before the cut does not raise the limit
    assert limit.successes == 0
    limit.succeeded(2)
    limit.succeeded(2)
    assert limit.limit == 3  # after `limit` successes, one more
    for limit_now in range(3, 8):
        for _ in range(limit_now):
            limit.succeeded(limit.generation)
    assert limit.limit == 8
    limit.succeeded(limit.generation)
    assert limit.limit == 8  # never above the configured concurrency
    for _ in range(10):
        limit.saw_429(limit.generation)
    assert limit.limit == 1  # never below one
    fixed = AdaptiveLimit(8, adaptive=False)
    fixed.saw_429(0)
    assert fixed.limit == 8 and fixed.rate_limited == 1

    async def peak_in_flight(limiter: AdaptiveLimit) -> int:
        peak = 0

        async def one():
            nonlocal peak
            await limiter.acquire()
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0.01)
            await limiter.release()

        await asyncio.gather(*(one() for _ in range(20)))
        return peak

    assert asyncio.run(peak_in_flight(AdaptiveLimit(3))) == 3


def test_the_client_adapts_to_a_server_that_rate_limits():
    """16 requests allowed in flight against a server that serves 2 at once and answers 429 beyond: every
    request ends up served (the SDK's retries and a lower limit), and the limit came down."""
    from distill.llm.anthropic_client import AnthropicClient
    from distill.llm.client import ChatRequest

    server = serve(delay=0.05, max_in_flight=2)
    try:
        llm = AnthropicClient(
            model="m",
            prices={"input": 1.0, "output": 5.0},
            cache_path=None,
            concurrency=16,
            max_retries=8,
            api_key="x",
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
        )
        replies = llm.complete([ChatRequest("Break the math problem", f"Tom has {i} apples.", 50) for i in range(24)])
    finally:
        server.shutdown()
    assert all(r.error is None for r in replies)
    assert server.state.rate_limited > 0 and llm.limit.rate_limited == server.state.rate_limited
    assert llm.limit.limit < 16
