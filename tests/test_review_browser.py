"""The review app in a real browser (Playwright driving Debian's chromium): label with the keyboard,
reload and see the labels kept, reject a record, and check that a training run leaves it out.

``.ci/run`` installs chromium; elsewhere the test is skipped when no chromium is found. Set
``REVIEW_SCREENSHOT=path.png`` to save a screenshot of the app (the README's).
"""

import contextlib
import os
import shutil
import socket
import threading
import time

import pytest
from conftest import compose_config

from distill import generate, train
from distill.core.records import read_records
from distill.review.app import ReviewApp, build_app
from distill.review.queue import build_queue
from distill.review.store import LabelStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("CI must run the browser test: install Debian's chromium (see .ci/run)", pytrace=False)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")

DATA = ["dataset.sizes.train=30", "dataset.sizes.validation=10", "dataset.sizes.test=10"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(state: ReviewApp):
    """The app of ``state`` served on a free local port; its URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def server(tmp_path):
    generate.run(compose_config("generate", DATA + ["samples_per_problem=2"]), tmp_path)
    records = read_records(tmp_path / "records.jsonl")
    state = ReviewApp(records, build_queue(records, 0.2), LabelStore(tmp_path / "review.sqlite"), "tester")
    with running(state) as url:
        yield url, state, tmp_path


def test_each_page_says_why_its_record_is_queued_in_the_strategys_order(tmp_path):
    """The queue ordered by the 'disputed' strategy: page k shows the k-th most disputed record, and its reason;
    the outcome key labels the record's outcome."""
    from playwright.sync_api import expect, sync_playwright

    from distill.review.strategies import contradiction, review_queue

    generate.run(compose_config("generate", DATA + ["samples_per_problem=2"]), tmp_path)
    records = read_records(tmp_path / "records.jsonl")
    queue, _ = review_queue(records, "disputed")
    state = ReviewApp(records, queue, LabelStore(tmp_path / "review.sqlite"), "tester")
    with running(state) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}/item/0")
        expect(page.locator("#outcome")).to_have_text("as the answerer got it")
        page.keyboard.press("w")  # the outcome counts as wrong, whatever the answerer got
        expect(page.locator("#outcome")).to_have_text("wrong")
        for pos in range(3):
            expect(page.locator("#reason")).to_have_text(queue[pos].reason)
            expect(page.locator("#problem")).to_have_text(records[queue[pos].index].problem)
            expect(page.locator("#stratum")).to_have_text("disputed")
            page.keyboard.press("a")  # accept: on to the next record of the queue
            page.wait_for_url(f"{url}/item/{pos + 1}")
        browser.close()
    assert LabelStore(tmp_path / "review.sqlite").reviews()[state.keys[0]].outcome == "wrong"
    scores = [contradiction(records[item.index]) for item in queue]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]


def test_keyboard_review_persists_and_training_leaves_rejected_out(server):
    from playwright.sync_api import expect, sync_playwright

    url, state, folder = server
    # the first record with at least two sub-questions, so that both kinds of label can be given
    pos = next(p for p, item in enumerate(state.queue) if len(state.records[item.index].subquestions) >= 2)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"{url}/item/{pos}")
        page.keyboard.press("1")  # sub-question 1 useful
        expect(page.locator("tr.subq[data-i='0'] td.human")).to_have_text("useful")
        page.keyboard.press("Shift+2")  # sub-question 2 not useful
        expect(page.locator("tr.subq[data-i='1'] td.human")).to_have_text("not useful")
        if os.environ.get("REVIEW_SCREENSHOT"):
            page.screenshot(path=os.environ["REVIEW_SCREENSHOT"], full_page=True)
        page.keyboard.press("a")  # accept: on to the next record
        page.wait_for_url(f"{url}/item/{pos + 1}")
        page.reload()
        page.goto(f"{url}/item/{pos}")  # after a reload, the labels are still there
        expect(page.locator("#decision")).to_have_text("accepted")
        expect(page.locator("tr.subq[data-i='1'] td.human")).to_have_text("not useful")

        page.goto(f"{url}/item/{pos + 1}")
        page.keyboard.press("r")  # reject, then undo it, then reject again
        page.wait_for_url(f"{url}/item/{pos + 2}")
        page.keyboard.press("u")
        page.wait_for_url(f"{url}/item/{pos + 1}")
        expect(page.locator("#decision")).to_have_text("undecided")
        page.keyboard.press("r")
        page.wait_for_url(f"{url}/item/{pos + 2}")
        expect(page.locator("#progress-all")).to_have_text(f"2 / {len(state.queue)}")

        page.keyboard.press("e")  # edit the next record's sub-questions: kept as a new record of teacher human
        page.fill("#edit-text", "How many cookies does Sara have?\nHow many cookies does Kim have?")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#edit")).to_have_text("How many cookies does Sara have? | How many cookies does Kim have?")
        browser.close()

    rejected_key = state.keys[pos + 1]
    labels = LabelStore(folder / "review.sqlite").labels()
    assert labels[(rejected_key, "tester")]["decision"] == "reject"
    assert labels[(state.keys[pos], "tester")]["useful"] == {0: 1, 1: 0}

    cfg = compose_config(
        "train",
        DATA
        + [
            f"data.records_path={folder / 'records.jsonl'}",
            "reward=human",
            "algorithm=bc",
            "student=tiny",
            "logger=none",
            "trainer.max_steps=4",
            "trainer.val_check_interval=2",
            "trainer.enable_progress_bar=false",
            "data.max_val_problems=5",
            "stage_cache=null",
        ],
    )
    results = train.run(cfg, folder / "run")
    assert results["review"]["rejected"] == 1 and results["review"]["edited"] == 1
    assert results["review"]["human_usefulness_labels"] == 2
    assert results["train"]["teacher_records"] == len(state.records) - 1  # the rejected one is left out


def test_a_failed_request_shows_a_banner_stale_page_then_server_down(server):
    from playwright.sync_api import expect, sync_playwright

    url, state, _ = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        # The route is in place from the start and only switched to failing later: registering it mid-test
        # raced with the next key press once in CI (the request went through).
        server_down = {"now": False}
        page.route("**/api/**", lambda route: route.abort() if server_down["now"] else route.continue_())
        page.goto(f"{url}/item/0")
        expect(page.locator("#banner")).to_be_hidden()
        state.csrf = "after-a-restart"  # what a restarted server holds: the open page's token is old
        page.keyboard.press("a")
        expect(page.locator("#banner")).to_contain_text("out of date")
        expect(page.locator("#banner")).to_contain_text("reload it")
        page.reload()  # the reload hint works: the new page carries the new token
        page.keyboard.press("a")
        page.wait_for_url(f"{url}/item/1")
        server_down["now"] = True  # the server no longer answers
        page.keyboard.press("r")
        expect(page.locator("#banner")).to_contain_text("does not answer")
        browser.close()
    assert [label["decision"] for label in state.mine().values()] == ["accept"]
