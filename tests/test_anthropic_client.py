"""The Anthropic client and the LLM roles through the real SDK over a mock transport (no network)."""

import json

import httpx2
import pytest

from distill.core.contracts import Problem
from distill.core.records import read_records
from distill.core.teacher_runs import annotate
from distill.llm.anthropic_client import AnthropicClient
from distill.llm.client import ChatRequest, Prices
from distill.llm.local_server import MessagesState
from distill.llm.roles import LLMAnswerer, LLMJudge, LLMTeacher
from distill.measurement.teacher_run_stats import summarize

PROBLEMS = [
    Problem(f"p{i}", f"Ann has {i + 3} apples and buys {i + 5} more. How many apples does she have?", float(i + 3))
    for i in range(6)
]
PRICES = {"input": 1.0, "output": 5.0, "cache_write": 1.25, "cache_read": 0.1}


class Recorder:
    """A Messages API handler that logs every request and can fail or misbehave on demand."""

    def __init__(self, failures: list[tuple[int, dict]] | None = None, text: str | None = None):
        self.state = MessagesState(None, 0.0)
        self.bodies: list[dict] = []
        self.failures = list(failures or [])  # (status, headers) answered before the normal reply
        self.text = text

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.failures:
            status, headers = self.failures.pop(0)
            error = {
                "type": "error",
                "error": {"type": "overloaded_error" if status == 529 else "rate_limit_error", "message": "busy"},
            }
            return httpx2.Response(status, headers=headers, json=error)
        message = self.state.message(body)
        if self.text is not None:
            message["content"][0]["text"] = self.text
        return httpx2.Response(200, json=message)


def client(handler, tmp_path=None, **kwargs) -> AnthropicClient:
    return AnthropicClient(
        model="claude-test",
        prices=PRICES,
        api_key="test-key",
        base_url="http://api.test",
        transport=httpx2.MockTransport(handler),
        strict=True,
        cache_path=str(tmp_path / "cache.sqlite") if tmp_path else None,
        **kwargs,
    )


def roles(llm: AnthropicClient):
    return (
        LLMTeacher(llm, max_tokens=400, examples_path=None, n_examples=3),
        LLMAnswerer(llm, max_tokens=512),
        LLMJudge(llm, n_votes=2, max_tokens=200),
    )


@pytest.mark.parametrize("status", [429, 529])
def test_transient_errors_are_retried_after_the_servers_delay(status):
    handler = Recorder(failures=[(status, {"retry-after-ms": "10"})] * 2)
    [reply] = client(handler, max_retries=2).complete([ChatRequest("Break the math", "Problem: 1 + 1?")])
    assert reply.error is None and reply.text.startswith("Q1:")
    assert len(handler.bodies) == 3


def test_exhausted_retries_leave_the_problem_undone_and_a_rerun_finishes_it(tmp_path):
    records_path = tmp_path / "records.jsonl"
    failing = Recorder(failures=[(529, {"retry-after-ms": "1"})] * 3)
    run = annotate(
        PROBLEMS[:1], *roles(client(failing, tmp_path, max_retries=2)), n_samples=1, records_path=records_path
    )
    assert run.records == [] and run.failed["p0"].startswith("OverloadedError")
    assert len(failing.bodies) == 3  # one try and two retries
    assert not records_path.exists() or records_path.read_text() == ""
    run = annotate(PROBLEMS[:1], *roles(client(Recorder(), tmp_path)), n_samples=1, records_path=records_path)
    assert run.failed == {} and [r.problem_id for r in read_records(records_path)] == ["p0"]


def test_unparseable_replies_are_recorded_with_their_text(tmp_path):
    handler = Recorder(text="Sorry, I would rather talk about the weather.")
    run = annotate(PROBLEMS[:2], *roles(client(handler)), n_samples=1, records_path=tmp_path / "r.jsonl")
    assert run.failed == {} and len(run.records) == 2
    record = run.records[0]
    assert record.subquestions == [] and record.answer_correctness == 0.0
    assert record.meta["unparsed_decomposition"] == "Sorry, I would rather talk about the weather."
    assert record.meta["no_final_answer"] is True
    # nothing to judge in an empty decomposition: no judge request was sent
    assert not any(b["system"][-1]["text"].startswith("Judge each") for b in handler.bodies)
    summary = summarize(run.records)
    assert summary["unparsed_decompositions"] == 2 and summary["answers_without_final_answer"] == 2


def test_a_reply_that_breaks_the_api_schema_is_a_failed_item_not_a_crash():
    def handler(request):
        return httpx2.Response(200, json={"id": "msg_1", "type": "message"})  # no content, no usage

    [reply] = client(handler, max_retries=0).complete([ChatRequest("Break the math", "Problem: 1 + 1?")])
    assert reply.error is not None and reply.text == ""


@pytest.mark.parametrize(
    "status,kind,cause",
    [
        (401, "authentication_error", "API key"),
        (404, "not_found_error", "model name"),
        (400, "invalid_request_error", "bad request"),
    ],
)
def test_errors_no_retry_can_fix_stop_the_run_with_one_line_naming_the_cause(status, kind, cause):
    from distill.core.errors import FatalCallError

    handler = Recorder()

    def refuse(request):
        handler.bodies.append(request)
        return httpx2.Response(status, json={"type": "error", "error": {"type": kind, "message": "no"}})

    with pytest.raises(FatalCallError, match=cause) as err:
        client(refuse).complete([ChatRequest("Break the math", "Problem: 1 + 1?")] * 3)
    assert "\n" not in str(err.value) and len(handler.bodies) == 1  # not retried


def test_every_request_carries_the_cached_system_block_and_costs_add_up(tmp_path):
    handler = Recorder()
    run = annotate(PROBLEMS, *roles(client(handler)), n_samples=2, records_path=tmp_path / "r.jsonl")
    assert handler.bodies and all(
        body["system"][-1]["cache_control"] == {"type": "ephemeral"} for body in handler.bodies
    )
    # the instructions and examples are in the system block, the problem only in the user turn
    assert all("Ann has" not in body["system"][-1]["text"] for body in handler.bodies)
    prices = Prices(**PRICES)
    total_cost = 0.0
    for record in run.records:
        for usage in record.usage.values():
            if usage.get("cached"):  # a reply shared with an identical request: counted apart, free
                assert set(usage) == {"cached"}
                continue
            assert usage["cost_usd"] == pytest.approx(prices.cost(usage))
            total_cost += usage["cost_usd"]
    summary = summarize(run.records)
    assert summary["usage"]["all"]["cost_usd"] == pytest.approx(total_cost)
    # requests are the HTTP requests the server answered, however many records share a reply
    assert summary["usage"]["all"]["requests"] == len(handler.bodies)
    assert summary["usage"]["all"]["cache_read_input_tokens"] > 0  # repeated system blocks were "cached"
    # by hand: 1M input tokens at $1, 1M output at $5, 1M cache writes at $1.25, 1M reads at $0.1
    assert prices.cost(
        {
            "input_tokens": 10**6,
            "output_tokens": 10**6,
            "cache_creation_input_tokens": 10**6,
            "cache_read_input_tokens": 10**6,
        }
    ) == pytest.approx(7.35)
    assert prices.cost({"input_tokens": 10**6}, batch=True) == pytest.approx(0.5)


def test_samples_differ_by_prompt_since_there_is_no_temperature():
    handler = Recorder()
    LLMTeacher(client(handler), max_tokens=400, examples_path=None, n_examples=3).decompose(PROBLEMS[:1], 3)
    assert "temperature" not in handler.bodies[0]
    systems = {body["system"][-1]["text"] for body in handler.bodies}
    users = {body["messages"][0]["content"] for body in handler.bodies}
    assert len(handler.bodies) == 3 and len(systems) == 3 and len(users) == 3


def test_a_crash_after_some_items_then_a_resume_repeats_no_finished_item(tmp_path):
    records_path = tmp_path / "records.jsonl"

    class Crash(Recorder):
        def __call__(self, request):
            if len(self.bodies) >= 20:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the third batch
            return super().__call__(request)

    crashing = Crash()
    stopped = annotate(
        PROBLEMS,
        *roles(client(crashing, tmp_path, concurrency=1)),
        n_samples=1,
        records_path=records_path,
        batch_size=2,
    )
    assert stopped.stopped == "interrupted (Ctrl-C)"  # a clean stop, with what was finished on disk
    done = {r.problem for r in read_records(records_path)}
    assert len(done) == 4  # two batches of two problems were written before the crash
    resumed = Recorder()
    run = annotate(PROBLEMS, *roles(client(resumed, tmp_path)), n_samples=1, records_path=records_path, batch_size=2)
    assert {r.problem_id for r in run.records} == {p.problem_id for p in PROBLEMS}
    asked = [body["messages"][0]["content"] for body in resumed.bodies]
    assert asked and not any(problem in text for problem in done for text in asked)
    # replies received before the crash came from the cache: nothing paid for is asked twice
    first = {json.dumps(b, sort_keys=True) for b in crashing.bodies}
    assert not first & {json.dumps(b, sort_keys=True) for b in resumed.bodies}


def test_budget_cap_stops_cleanly_between_batches(tmp_path):
    run = annotate(
        PROBLEMS, *roles(client(Recorder())), n_samples=1, records_path=tmp_path / "r.jsonl", batch_size=2, max_usd=1e-9
    )
    assert run.stopped.startswith("budget") and len({r.problem_id for r in run.records}) == 2
    assert len(read_records(tmp_path / "r.jsonl")) == 2


class BatchServer:
    """The Message Batches endpoints: create, retrieve (in progress once, then ended), results (JSONL)."""

    def __init__(self, outcome):
        self.state = MessagesState(None, 0.0)
        self.outcome = outcome  # custom_id index -> "succeeded" | "errored" | "expired"
        self.created: list[list[dict]] = []
        self.retrievals: dict[str, int] = {}

    def batch(self, batch_id: str, ended: bool) -> dict:
        n = len(self.created[int(batch_id.split("_")[1])])
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else n,
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": "2026-11-29T00:00:00Z",
            "expires_at": "2026-11-30T00:00:00Z",
            "ended_at": None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"https://files.test/results/{batch_id}.jsonl" if ended else None,
        }

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if request.method == "POST" and path == "/v1/messages/batches":
            self.created.append(json.loads(request.content)["requests"])
            return httpx2.Response(200, json=self.batch(f"batch_{len(self.created) - 1}", False))
        if request.method == "GET" and path.startswith("/v1/messages/batches/"):
            batch_id = path.rsplit("/", 1)[1]
            self.retrievals[batch_id] = self.retrievals.get(batch_id, 0) + 1
            # in progress when first asked, ended afterwards
            return httpx2.Response(200, json=self.batch(batch_id, self.retrievals[batch_id] > 1))
        if request.url.host == "files.test":
            rows = []
            batch_id = path.rsplit("/", 1)[1].removesuffix(".jsonl")
            for i, item in enumerate(self.created[int(batch_id.split("_")[1])]):
                kind = self.outcome(i) if len(self.created) == 1 else "succeeded"
                if kind == "succeeded":
                    result = {"type": "succeeded", "message": self.state.message(item["params"])}
                elif kind == "errored":
                    result = {
                        "type": "errored",
                        "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "bad row"}},
                    }
                else:
                    result = {"type": kind}
                rows.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
            return httpx2.Response(200, text="\n".join(rows))
        return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": path}})


def test_batch_mode_caches_succeeded_rows_at_half_price_and_retries_failed_rows(tmp_path):
    server = BatchServer(outcome=lambda i: ["succeeded", "errored", "expired"][i % 3])
    requests = [ChatRequest("Break the math", f"Problem: {p.text}") for p in PROBLEMS]
    llm = client(server, tmp_path, mode="batch", poll_seconds=0.0)
    replies = llm.complete(requests)
    assert [r.error is None for r in replies] == [True, False, False] * 2
    assert "bad row" in replies[1].error and "expired" in replies[2].error
    full = Prices(**PRICES).cost(replies[0].usage)
    assert replies[0].usage["cost_usd"] == pytest.approx(full / 2) and replies[0].usage["batch"] == 1
    # a second call submits only the four failed rows; the two others come from the cache
    replies = client(server, tmp_path, mode="batch", poll_seconds=0.0).complete(requests)
    assert len(server.created) == 2 and len(server.created[1]) == 4
    assert all(r.error is None for r in replies) and replies[0].usage["cached"] == 1


def test_a_batch_left_running_by_a_crash_is_collected_not_submitted_again(tmp_path):
    server = BatchServer(outcome=lambda i: "succeeded")
    requests = [ChatRequest("Break the math", f"Problem: {p.text}") for p in PROBLEMS[:2]]
    llm = client(server, tmp_path, mode="batch", poll_seconds=0.0)
    llm._collect = lambda *args: (_ for _ in ()).throw(KeyboardInterrupt)  # stopped while polling
    with pytest.raises(KeyboardInterrupt):
        llm.complete(requests)
    replies = client(server, tmp_path, mode="batch", poll_seconds=0.0).complete(requests)
    assert len(server.created) == 1 and all(r.error is None for r in replies)


def test_identical_samples_are_asked_once_and_charged_once(tmp_path):
    """The test server decomposes every sample of a problem the same way: answers and votes for the
    identical decompositions are asked once, and counted once; the other uses are `cached`, at no cost."""
    handler = Recorder()
    run = annotate(PROBLEMS[:5], *roles(client(handler)), n_samples=4, records_path=tmp_path / "r.jsonl")
    usage = summarize(run.records)["usage"]
    assert usage["all"]["requests"] == len(handler.bodies)
    answered = [b for b in handler.bodies if "Final answer" in b["system"][-1]["text"]]
    assert usage["answerer"]["requests"] == len(answered) and usage["answerer"]["cached"] == 20 - len(answered)


@pytest.mark.parametrize(
    "reply",
    [
        httpx2.Response(200, text="<html><body>502 Bad Gateway</body></html>", headers={"content-type": "text/html"}),
        httpx2.Response(200, text="not json at all", headers={"content-type": "application/json"}),
        httpx2.Response(200, json={"id": "m", "type": "message", "content": "abc", "usage": None}),
    ],
)
def test_a_malformed_reply_fails_its_problem_and_the_run_goes_on(tmp_path, reply):
    handler = Recorder()
    bad = {"n": 0}

    def flaky(request):
        bad["n"] += 1
        if bad["n"] == 1:  # the very first request (problem 0's first sample) gets the malformed reply
            handler.bodies.append(json.loads(request.content))
            return reply
        return handler(request)

    llm = client(flaky, tmp_path, max_retries=0, concurrency=1)
    llm.client_args["_strict_response_validation"] = False  # as real runs: the SDK does not validate
    run = annotate(PROBLEMS[:3], *roles(llm), n_samples=1, records_path=tmp_path / "r.jsonl", batch_size=1)
    assert list(run.failed) == ["p0"] and "malformed reply" in run.failed["p0"]
    assert {r.problem_id for r in run.records} == {"p1", "p2"} and run.stopped is None
    again = annotate(
        PROBLEMS[:3], *roles(client(Recorder(), tmp_path)), n_samples=1, records_path=tmp_path / "r.jsonl", batch_size=1
    )
    assert {r.problem_id for r in again.records} == {"p0", "p1", "p2"} and not again.failed


def test_replies_cut_at_max_tokens_are_flagged_and_left_out_of_training(tmp_path):
    from distill.training.selection import select_records

    class Cut(Recorder):
        def __call__(self, request):
            response = super().__call__(request)
            body = json.loads(response.content)
            if self.bodies[-1]["system"][-1]["text"].startswith("Break the math"):  # the teacher's replies
                body["stop_reason"] = "max_tokens"
            return httpx2.Response(200, json=body)

    run = annotate(PROBLEMS[:2], *roles(client(Cut())), n_samples=1, records_path=tmp_path / "r.jsonl")
    assert all(r.meta["truncated"] == ["teacher"] for r in run.records)
    assert summarize(run.records)["truncated"] == {"teacher": 2}
    assert select_records(run.records, None, None) == []
    assert select_records(run.records, None, None, keep_truncated=True) == run.records


def test_a_problem_cut_off_mid_write_is_done_again_and_a_torn_line_repaired(tmp_path):
    path = tmp_path / "r.jsonl"
    annotate(PROBLEMS[:3], *roles(client(Recorder())), n_samples=4, records_path=path)
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 12
    # a kill between appends: problem 2 has 1 of its 4 samples, and half a line
    path.write_text("".join(lines[:9]) + lines[9][:25])
    handler = Recorder()
    run = annotate(PROBLEMS[:3], *roles(client(handler)), n_samples=4, records_path=path)
    assert len(run.records) == 12 and {r.problem_id for r in run.records} == {"p0", "p1", "p2"}
    assert all(PROBLEMS[2].text in b["messages"][0]["content"] for b in handler.bodies)  # only p2 asked again
    assert len(read_records(path)) == 12


def test_a_circuit_breaker_stops_a_run_whose_every_call_fails(tmp_path):
    def busy(request):
        return httpx2.Response(
            429,
            headers={"retry-after-ms": "1"},
            json={"type": "error", "error": {"type": "rate_limit_error", "message": "busy"}},
        )

    run = annotate(
        PROBLEMS,
        *roles(client(busy, max_retries=0)),
        n_samples=1,
        records_path=tmp_path / "r.jsonl",
        batch_size=1,
        max_consecutive_failures=3,
    )
    assert run.stopped.startswith("circuit breaker: 3 problems failed in a row") and len(run.failed) == 3


def test_an_unreachable_endpoint_stops_the_run_after_one_batch(tmp_path):
    def down(request):
        raise httpx2.ConnectError("connection refused", request=request)

    run = annotate(
        PROBLEMS, *roles(client(down, max_retries=0)), n_samples=1, records_path=tmp_path / "r.jsonl", batch_size=2
    )
    assert run.stopped.startswith("endpoint unreachable") and len(run.failed) == 2


@pytest.mark.parametrize("name,value", [("n_samples", 0), ("batch_size", 0), ("n_samples", -1)])
def test_bad_run_settings_are_refused_before_any_request(tmp_path, name, value):
    handler = Recorder()
    settings = {"n_samples": 1, "batch_size": 2, name: value}
    with pytest.raises(ValueError, match=f"{name} must be at least 1"):
        annotate(PROBLEMS, *roles(client(handler)), records_path=tmp_path / "r.jsonl", **settings)
    assert handler.bodies == []
