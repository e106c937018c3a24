"""End to end on the real-LLM path, offline: a local Messages API server, SmolLM2, replayed answers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from distill.core.records import read_records
from distill.core.teacher_runs import annotate
from distill.datasets.gsm8k import GSM8KAISubQDataset, GSM8KDataset
from distill.llm import prompts
from distill.llm.hf_client import HFClient
from distill.llm.local_server import serve
from distill.llm.replay import ReplayAnswerer
from distill.llm.roles import LLMAnswerer, LLMTeacher
from distill.measurement.rows import evaluate_teacher


def generate(out_dir, env, *overrides):
    command = [
        sys.executable,
        "-m",
        "distill.generate",
        "teacher=anthropic",
        "dataset=gsm8k",
        "dataset.split=train",
        "dataset.limit=20",
        f"hydra.run.dir={out_dir}",
        f"paths.output_dir={out_dir}",
        *overrides,
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_generate_against_a_local_messages_server_survives_a_kill(tmp_path, data_dir):
    log = tmp_path / "requests.jsonl"
    server = serve(log_path=log, delay=0.02)
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "ANTHROPIC_API_KEY": "x",
        "DISTILL_DATA_DIR": str(data_dir),
    }
    out = tmp_path / "run"
    try:
        # batches of 5 problems, 40 requests each; killed (SIGKILL, no clean-up) in the second batch
        first = generate(out, env, "batch_size=5")
        while first.poll() is None and (not log.exists() or len(log.read_text().splitlines()) < 60):
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        first_requests = log.read_text().splitlines()
        done = {r.problem for r in read_records(out / "records.jsonl")}
        assert 60 <= len(first_requests) < 160 and len(done) == 5
        log.unlink()
        second = generate(out, env, "batch_size=5")
        assert second.wait(timeout=600) == 0, second.stderr.read()[-2000:]
    finally:
        server.shutdown()
    records = read_records(out / "records.jsonl")
    assert len({r.problem_id for r in records}) == 20 and len(records) == 80
    second_requests = log.read_text().splitlines()
    asked = [json.loads(line)["messages"][0]["content"] for line in second_requests]
    assert not any(problem in text for problem in done for text in asked)  # nothing for finished problems
    # only requests in flight at the kill (at most `concurrency`, 8) are asked again
    assert len(set(first_requests) & set(second_requests)) <= 8
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_problems"] == 20 and summary["failed"] == {} and summary["usage"]["all"]["cost_usd"] > 0
    assert summary["feedback"]["n_records"] == 80


def test_teacher_row_from_released_decompositions_and_replayed_answers_matches_the_paper(data_dir):
    data = GSM8KAISubQDataset(
        data_dir / "gsm8k_ai_subq", gsm8k_dir=None
    )  # true answers as released, as the paper scored
    replay = ReplayAnswerer([str(data_dir / "gsm8k_ai_subq/eval_responses/chatgpt/eval_chat.jsonl")])
    metrics, records = evaluate_teacher(None, data.load("test"), replay, None, data.records("test"))
    assert metrics["answerer_errors"] == 0 and metrics["n_problems"] == 1319
    assert sum(r.answer_correctness for r in records) == 900  # distill.score on eval_chat.jsonl: 900 / 1319


@pytest.mark.slow
def test_hf_client_decomposes_and_answers_with_smollm2_in_batches(tmp_path, data_dir):
    problems = GSM8KDataset(data_dir / "gsm8k", limit=2).load("train")
    client = HFClient("smollm2", temperature=0.0, cache_path=None, batch_size=2)
    teacher = LLMTeacher(client, max_tokens=24, examples_path=None, n_examples=3)
    answerer = LLMAnswerer(client, max_tokens=24)
    run = annotate(problems, teacher, answerer, None, n_samples=1, records_path=tmp_path / "r.jsonl")
    assert len(run.records) == 2 and not run.failed
    for record in run.records:
        assert 0 < record.usage["teacher"]["output_tokens"] <= 24 and record.answerer_output
        assert record.subquestions or record.meta["unparsed_decomposition"]
    # left padding is right: each prompt alone gives the same greedy reply as in the batch
    requests = [prompts.decompose_request(p.text, 0, teacher.examples, 24) for p in problems]
    batched = HFClient("smollm2", temperature=0.0, cache_path=None, batch_size=2).complete(requests)
    alone = HFClient("smollm2", temperature=0.0, cache_path=None, batch_size=1).complete(requests)
    assert [c.text for c in batched] == [c.text for c in alone]
