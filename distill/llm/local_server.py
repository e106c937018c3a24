"""A small local server implementing the Messages API: offline tests, benchmarks and demos of the LLM path.

    python -m distill.llm.local_server --port 8765 --log /tmp/requests.jsonl [--delay 0.05] [--status 429]
        [--max-in-flight 8] [--rate-limit-share 0.1]

Replies are deterministic functions of the request: "Q1: ..." lines for the decomposition prompt, "A1:
... Final answer: N" for the answer prompt, "Q1: Yes/No" for the judge. ``usage`` mimics prompt caching:
a system block seen before is read from the cache. Every served request is appended to the log file.
Rate limits, as an API enforces them: ``max_in_flight`` answers 429 to a request that arrives while that
many are being served, ``rate_limit_share`` answers 429 to that share of requests at random (seeded).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def reply_text(system: str, user: str) -> str:
    """What the fake model says to one request of distill's prompts."""
    numbers = re.findall(r"\d+", user.split("\n")[0])
    if system.startswith("Break the math"):
        sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", user.split("\n")[0]) if s.strip()]
        return f"Q1: How many are there at the start?\nQ2: {sentences[-1]}"
    if system.startswith("Answer the sub-questions"):
        n_questions = len(re.findall(r"^Q\d+:", user, re.MULTILINE))
        lines = [f"A{i}: It is {numbers[0] if numbers else 0}." for i in range(1, n_questions + 1)]
        return "\n".join(lines + [f"Final answer: {numbers[0] if numbers else 0}"])
    if system.startswith("Judge each"):
        n_questions = len(re.findall(r"^Q\d+:", user, re.MULTILINE))
        return "\n".join(f"Q{i}: {'Yes' if i % 2 else 'No'}" for i in range(1, n_questions + 1))
    return "I do not understand the request."


class MessagesState:
    """Shared by the handler threads: which system blocks were seen (prompt caching) and the log."""

    def __init__(
        self,
        log_path: Path | None,
        delay: float,
        status: int = 200,
        max_in_flight: int | None = None,
        rate_limit_share: float = 0.0,
        seed: int = 0,
    ):
        self.lock = threading.Lock()
        self.seen_systems: set[str] = set()
        self.log_path, self.delay = log_path, delay
        self.status = status  # anything but 200: every request gets this error (fault injection)
        self.max_in_flight, self.rate_limit_share = max_in_flight, rate_limit_share
        self.in_flight = self.rate_limited = 0
        self.rng = random.Random(seed)

    def admit(self) -> bool:
        """Whether a request arriving now is served (else: 429), counting it in flight if so."""
        with self.lock:
            refused = (
                self.max_in_flight is not None and self.in_flight >= self.max_in_flight
            ) or self.rng.random() < self.rate_limit_share
            if refused:
                self.rate_limited += 1
            else:
                self.in_flight += 1
            return not refused

    def done(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def message(self, body: dict) -> dict:
        system = "".join(block["text"] for block in body.get("system", []))
        user = body["messages"][-1]["content"]
        text = reply_text(system, user)
        with self.lock:
            cached = system in self.seen_systems
            self.seen_systems.add(system)
        system_tokens, user_tokens = len(system) // 4, len(user) // 4
        return {
            "id": f"msg_{abs(hash((system, user))) % 10**12}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": user_tokens,
                "output_tokens": max(1, len(text) // 4),
                "cache_creation_input_tokens": 0 if cached else system_tokens,
                "cache_read_input_tokens": system_tokens if cached else 0,
            },
        }

    def log(self, body: dict) -> None:
        if self.log_path is not None:
            with self.lock, self.log_path.open("a") as fh:
                fh.write(json.dumps(body) + "\n")


def make_handler(state: MessagesState):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            if self.path.rstrip("/") != "/v1/messages":
                self.send_error(404)
                return
            status = state.status
            if status == 200 and not state.admit():
                status = 429
            else:
                time.sleep(state.delay)
                if status == 200:
                    state.done()
            if status != 200:
                kinds = {
                    400: "invalid_request_error",
                    401: "authentication_error",
                    404: "not_found_error",
                    429: "rate_limit_error",
                    529: "overloaded_error",
                }
                payload = json.dumps(
                    {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": "injected fault"}}
                ).encode()
            else:
                payload = json.dumps(state.message(body)).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("retry-after-ms", "1")
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            state.log(body)

        def log_message(self, *args) -> None:  # quiet
            pass

    return Handler


class Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: under concurrent clients the kernel drops connections beyond it and
    # each dropped one waits a 1 s SYN retransmission (TcpExtListenOverflows), which no real API server imposes
    request_queue_size = 1024


def serve(
    port: int = 0,
    log_path: Path | None = None,
    delay: float = 0.0,
    status: int = 200,
    max_in_flight: int | None = None,
    rate_limit_share: float = 0.0,
) -> Server:
    """Start the server on a thread; ``server.server_address[1]`` is its port, ``server.state`` its state;
    ``status`` other than 200 answers every request with that error."""
    state = MessagesState(log_path, delay, status, max_in_flight, rate_limit_share)
    server = Server(("127.0.0.1", port), make_handler(state))
    server.state = state
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log", type=Path, default=None, help="append each request's JSON body here")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each reply")
    parser.add_argument("--status", type=int, default=200, help="answer every request with this HTTP error")
    parser.add_argument("--max-in-flight", type=int, default=None, help="429 beyond this many requests at once")
    parser.add_argument("--rate-limit-share", type=float, default=0.0, help="429 to this share of requests")
    args = parser.parse_args()
    server = serve(args.port, args.log, args.delay, args.status, args.max_in_flight, args.rate_limit_share)
    print(f"Messages API on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
