"""The Anthropic client and the LLM roles through the real SDK over a mock transport (no network)."""

import json

import httpx2
import pytest

from distill.llm.anthropic_client import AnthropicClient
from distill.llm.client import ChatRequest, Prices
from distill.llm.roles import LLMAnswerer, LLMJudge, LLMTeacher
from distill.core.teacher_runs import annotate, summarize
from distill.core.contracts import Problem
from distill.core.records import read_records
from messages_server import MessagesState

PROBLEMS = [Problem(f"p{i}", f"Ann has {i + 3} apples and buys {i + 5} more. How many apples does she have?",
                    float(i + 3)) for i in range(6)]
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
            error = {"type": "error", "error": {"type": "overloaded_error" if status == 529 else "rate_limit_error",
                                                "message": "busy"}}
            return httpx2.Response(status, headers=headers, json=error)
        message = self.state.message(body)
        if self.text is not None:
            message["content"][0]["text"] = self.text
        return httpx2.Response(200, json=message)


def client(handler, tmp_path=None, **kwargs) -> AnthropicClient:
    return AnthropicClient(model="claude-test", prices=PRICES, api_key="test-key", base_url="http://api.test",
                           transport=httpx2.MockTransport(handler), strict=True,
                           cache_path=str(tmp_path / "cache.sqlite") if tmp_path else None, **kwargs)


def roles(llm: AnthropicClient):
    return (LLMTeacher(llm, max_tokens=400, examples_path=None, n_examples=3), LLMAnswerer(llm, max_tokens=512),
            LLMJudge(llm, n_votes=2, max_tokens=200))


@pytest.mark.parametrize("status", [429, 529])
def test_transient_errors_are_retried_after_the_servers_delay(status):
    handler = Recorder(failures=[(status, {"retry-after-ms": "10"})] * 2)
    [reply] = client(handler, max_retries=2).complete([ChatRequest("Break the math", "Problem: 1 + 1?")])
    assert reply.error is None and reply.text.startswith("Q1:")
    assert len(handler.bodies) == 3


def test_exhausted_retries_leave_the_problem_undone_and_a_rerun_finishes_it(tmp_path):
    records_path = tmp_path / "records.jsonl"
    failing = Recorder(failures=[(529, {"retry-after-ms": "1"})] * 3)
    run = annotate(PROBLEMS[:1], *roles(client(failing, tmp_path, max_retries=2)), n_samples=1,
                   records_path=records_path)
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


def test_authentication_errors_stop_the_run():
    import anthropic

    def handler(request):
        return httpx2.Response(401, json={"type": "error", "error": {"type": "authentication_error",
                                                                     "message": "invalid x-api-key"}})
    with pytest.raises(anthropic.AuthenticationError):
        client(handler).complete([ChatRequest("Break the math", "Problem: 1 + 1?")])


def test_every_request_carries_the_cached_system_block_and_costs_add_up(tmp_path):
    handler = Recorder()
    run = annotate(PROBLEMS, *roles(client(handler)), n_samples=2, records_path=tmp_path / "r.jsonl")
    assert handler.bodies and all(
        body["system"][-1]["cache_control"] == {"type": "ephemeral"} for body in handler.bodies)
    # the instructions and examples are in the system block, the problem only in the user turn
    assert all("Ann has" not in body["system"][-1]["text"] for body in handler.bodies)
    prices = Prices(**PRICES)
    total_cost = 0.0
    for record in run.records:
        for usage in record.usage.values():
            assert usage["cost_usd"] == pytest.approx(prices.cost(usage))
            total_cost += usage["cost_usd"]
    summary = summarize(run.records)
    assert summary["usage"]["all"]["cost_usd"] == pytest.approx(total_cost)
    assert summary["usage"]["all"]["cache_read_input_tokens"] > 0  # repeated system blocks were "cached"
    # by hand: 1M input tokens at $1, 1M output at $5, 1M cache writes at $1.25, 1M reads at $0.1
    assert prices.cost({"input_tokens": 10**6, "output_tokens": 10**6, "cache_creation_input_tokens": 10**6,
                        "cache_read_input_tokens": 10**6}) == pytest.approx(7.35)
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
    with pytest.raises(KeyboardInterrupt):
        annotate(PROBLEMS, *roles(client(crashing, tmp_path, concurrency=1)), n_samples=1,
                 records_path=records_path, batch_size=2)
    done = {r.problem for r in read_records(records_path)}
    assert len(done) == 4  # two batches of two problems were written before the crash
    resumed = Recorder()
    run = annotate(PROBLEMS, *roles(client(resumed, tmp_path)), n_samples=1, records_path=records_path,
                   batch_size=2)
    assert {r.problem_id for r in run.records} == {p.problem_id for p in PROBLEMS}
    asked = [body["messages"][0]["content"] for body in resumed.bodies]
    assert asked and not any(problem in text for problem in done for text in asked)
    # replies received before the crash came from the cache: nothing paid for is asked twice
    first = {json.dumps(b, sort_keys=True) for b in crashing.bodies}
    assert not first & {json.dumps(b, sort_keys=True) for b in resumed.bodies}


def test_budget_cap_stops_cleanly_between_batches(tmp_path):
    run = annotate(PROBLEMS, *roles(client(Recorder())), n_samples=1, records_path=tmp_path / "r.jsonl",
                   batch_size=2, max_usd=1e-9)
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
        return {"id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": {"processing": 0 if ended else n, "succeeded": 0, "errored": 0, "canceled": 0,
                                   "expired": 0},
                "created_at": "2026-11-29T00:00:00Z", "expires_at": "2026-11-30T00:00:00Z",
                "ended_at": None, "archived_at": None, "cancel_initiated_at": None,
                "results_url": f"https://files.test/results/{batch_id}.jsonl" if ended else None}

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
                    result = {"type": "errored", "error": {"type": "error", "error": {
                        "type": "invalid_request_error", "message": "bad row"}}}
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
