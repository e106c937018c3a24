"""Human review: the label store, the queue, reviews applied to training data, agreement statistics,
the simulated reviewer, and the web app's safety (escaping, token, CSRF) through Starlette's client."""

import json

import pytest
from starlette.testclient import TestClient
from test_world import chain_problem

from distill.core.records import Record
from distill.review.agreement import cohens_kappa, review_stats, wilson_interval
from distill.review.app import ReviewApp, build_app
from distill.review.apply import apply_reviews
from distill.review.oracle import oracle_labels
from distill.review.queue import build_queue
from distill.review.store import LabelStore, record_keys, store_file
from distill.synthetic.answerer import SyntheticAnswerer
from distill.synthetic.world import SyntheticProblem

NEVER_WRONG = SyntheticAnswerer(k=1, distraction=0.0, misread=0.0, slip=0.0, guess=0.0, seed=0)  # world v1's


def test_store_commits_every_action_and_undo_marks_the_latest(tmp_path):
    store = LabelStore(tmp_path / "review.sqlite")
    store.add("p/0", "ann", "useful", 1, position=0, stratum="random")
    store.add("p/0", "ann", "useful", 0, position=0)  # a change of mind: the latest wins
    store.add("p/0", "ann", "decision", "reject")
    # a second connection (another process, or the server after a kill) sees every action at once
    other = LabelStore(tmp_path / "review.sqlite")
    assert other.labels()[("p/0", "ann")]["useful"] == {0: 0} and other.labels()[("p/0", "ann")]["decision"] == "reject"
    assert store.undo("ann")["kind"] == "decision"
    assert other.labels()[("p/0", "ann")]["decision"] is None
    assert store.undo("bob") is None
    assert len(store.actions(include_undone=True)) == 3 and len(store.actions()) == 2  # nothing deleted


def test_store_rejects_bad_labels(tmp_path):
    store = LabelStore(tmp_path / "review.sqlite")
    with pytest.raises(ValueError, match="valid: useful, decision, edit"):
        store.add("p/0", "ann", "stars", 5)
    with pytest.raises(ValueError, match="accept, reject"):
        store.add("p/0", "ann", "decision", "maybe")
    with pytest.raises(ValueError, match="0 or 1"):
        store.add("p/0", "ann", "useful", 1)  # no position
    with pytest.raises(ValueError, match="non-empty"):
        store.add("p/0", "ann", "edit", ["ok", " "])


def test_reviews_merge_reviewers(tmp_path):
    store = LabelStore(tmp_path / "review.sqlite")
    for reviewer, useful, decision in [("ann", 1, "accept"), ("bob", 0, "reject"), ("cy", 1, "accept")]:
        store.add("p/0", reviewer, "useful", useful, position=1)
        store.add("p/0", reviewer, "decision", decision)
    store.add("q/0", "ann", "decision", "accept")
    store.add("q/0", "bob", "decision", "reject")  # a tie rejects
    store.add("q/0", "bob", "edit", ["first", "second"])
    for reviewer, outcome in [("ann", "right"), ("bob", "wrong"), ("cy", "right")]:
        store.add("p/0", reviewer, "outcome", outcome)
    store.add("q/0", "ann", "outcome", "right")
    store.add("q/0", "bob", "outcome", "wrong")  # a tie on the outcome leaves the answerer's
    with pytest.raises(ValueError, match="an outcome is one of right, wrong"):
        store.add("q/0", "bob", "outcome", "maybe")
    reviews = store.reviews()
    assert reviews["p/0"].outcome == "right" and reviews["q/0"].outcome is None
    assert reviews["p/0"].useful == {1: pytest.approx(2 / 3)} and reviews["p/0"].decision == "accept"
    assert reviews["q/0"].decision == "reject" and reviews["q/0"].edit == ["first", "second"]
    assert sorted(reviews["p/0"].reviewers) == ["ann", "bob", "cy"]


def rec(pid, usefulness, correct, sample=0, **meta):
    return Record(
        pid,
        f"problem {pid}",
        [f"q{i}" for i in range(len(usefulness))],
        1.0,
        correct,
        usefulness,
        sample_index=sample,
        meta=meta,
    )


def test_queue_strata_order_and_random_sample():
    records = [
        rec("split", [1.0, 2 / 3], 1.0),
        rec("liked-wrong", [1.0, 1.0], 0.0),
        rec("habit", [1.0], 1.0, errors=["asks_given"]),
        rec("plain", [1.0], 1.0),
        rec("split2", [1 / 3], 0.0),
        rec("plain2", [1.0], 1.0),
    ]
    queue = build_queue(records, random_share=0.0)
    by = {records[i.index].problem_id: i.stratum for i in queue}
    assert by == {
        "split": "split_votes",
        "split2": "split_votes",
        "liked-wrong": "liked_but_wrong",
        "habit": "frequent_errors",
        "plain": "rest",
        "plain2": "rest",
    }
    # one of each leading stratum in turn, then the second split record, then the rest
    assert [i.stratum for i in queue][:4] == ["split_votes", "liked_but_wrong", "frequent_errors", "split_votes"]
    assert sorted(i.index for i in queue) == list(range(6))
    sampled = build_queue(records, random_share=0.5, seed=3)
    assert sum(i.stratum == "random" for i in sampled) == 3 and sampled[0].stratum == "random"
    assert [i.index for i in sampled] == [i.index for i in build_queue(records, random_share=0.5, seed=3)]


def test_apply_reviews_rejects_edits_and_human_usefulness():
    w = chain_problem()
    problem = SyntheticProblem("x", w.text, 9.0, w)
    original = Record("x", w.text, ["How many apples does Cara have?"], 9.0, 0.0, [1.0], teacher="t", sample_index=1)
    kept_one = rec("k", [1.0, 1.0], 1.0)
    dropped = rec("d", [1.0], 1.0)
    unreviewed = rec("u", [0.5], 1.0)
    slipped = rec("s", [1.0], 0.0)  # the answerer got it wrong; a person says a faithful one gets it right
    records = [original, kept_one, dropped, unreviewed, slipped]
    key = dict(zip(("original", "kept_one", "dropped", "unreviewed", "slipped"), record_keys(records)))
    store_reviews = {
        key["slipped"]: _review(outcome="right"),
        key["kept_one"]: _review(useful={1: 0.0}, outcome="right"),
        key["dropped"]: _review(decision="reject"),
        key["original"]: _review(
            edit=[
                "How many apples does Anna have?",
                "How many apples does Ben have?",
                "How many apples does Cara have?",
            ]
        ),
    }
    out, counts = apply_reviews(records, store_reviews, {"x": problem}, NEVER_WRONG, None, human_usefulness=True)
    assert counts == {
        "reviewed": 4, "rejected": 1, "edited": 1, "human_usefulness_labels": 1, "left_unreviewed": 0,
        "outcome_labels": 2, "outcomes_changed": 1,
    }  # fmt: skip
    fixed = next(r for r in out if r.problem_id == "s")  # the person's outcome replaces the answerer's
    assert fixed.answer_correctness == 1.0 and fixed.meta["answerer_correctness"] == 0.0
    ids = [r.problem_id for r in out]
    assert "d" not in ids and ids.count("x") == 1
    edited = next(r for r in out if r.problem_id == "x")
    assert edited.teacher == "human" and edited.answer_correctness == 1.0 and edited.sample_index == 1
    assert edited.meta["edited_from"] == "x/1"
    assert next(r for r in out if r.problem_id == "k").usefulness == [1.0, 0.0]  # the person's label wins
    # without reward=human, labels leave the AI's usefulness; human_only drops what nobody reviewed
    out, _ = apply_reviews(records, store_reviews, {"x": problem}, NEVER_WRONG, None, human_only=True)
    assert next(r for r in out if r.problem_id == "k").usefulness == [1.0, 1.0] and "u" not in [
        r.problem_id for r in out
    ]


def _review(useful=None, decision=None, edit=None, outcome=None):
    from distill.review.store import Review

    return Review(useful=useful or {}, decision=decision, edit=edit, outcome=outcome, reviewers=["ann"])


def test_seconds_per_record_is_the_median_gap_between_decisions_without_pauses():
    from distill.review.agreement import seconds_per_record

    def decision(reviewer, created):
        return {"kind": "decision", "reviewer": reviewer, "created": created}

    actions = [decision("ann", t) for t in (0, 20, 50, 2000, 2030)] + [decision("bob", 5)]
    actions.append({"kind": "useful", "reviewer": "bob", "created": 9})  # only decisions count
    assert seconds_per_record(actions) == {"ann": 30, "bob": None}  # gaps 20, 30, (1950: a pause), 30


def test_kappa_and_wilson_worked_by_hand():
    # observed 0.75; p_a = p_b = 0.5: expected 0.5; kappa = 0.25 / 0.5
    assert cohens_kappa([True, True, False, False], [True, False, False, False]) == pytest.approx(0.5)
    assert cohens_kappa([True, False], [True, False]) == 1.0 and cohens_kappa([True], [True]) is None
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)


def test_review_stats_against_the_judge(tmp_path):
    records = [rec("a", [1.0, 0.0], 1.0), rec("b", [1.0, 1.0], 0.0), rec("c", [0.0], 1.0)]
    store = LabelStore(tmp_path / "review.sqlite")
    # a: the person agrees on both; b: the person finds q1 useless (the judge said useful); c: the judge's
    # "not useful" is wrong. From the random stratum: a (right, one useless question) and b (wrong)
    for key, labels, stratum in [("a/0", [1, 0], "random"), ("b/0", [1, 0], "random"), ("c/0", [1], "split_votes")]:
        for position, value in enumerate(labels):
            store.add(key, "ann", "useful", value, position=position, stratum=stratum)
    store.add("b/0", "ann", "decision", "reject", stratum="random")
    stats = review_stats(records, store)
    assert stats["confusion"] == {
        "judge useful, human useful": 2,
        "judge useful, human not": 1,
        "judge not, human useful": 1,
        "judge not, human not": 1,
    }
    assert stats["judge_not_useful_precision"] == 0.5 and stats["judge_not_useful_recall"] == 0.5
    # observed 3/5; judge useful 3/5, human useful 3/5: expected 0.52; kappa = 0.08 / 0.48
    assert stats["kappa"] == pytest.approx(1 / 6)
    assert stats["random_stratum"]["n"] == 2 and stats["random_stratum"]["wrong_or_useless_share"] == 1.0
    assert stats["random_stratum"]["rejected_share"] == 0.5


def test_oracle_labels_are_the_worlds_verdict():
    w = chain_problem()
    problem = SyntheticProblem("x", w.text, 9.0, w)
    good = Record("x", w.text, ["How many apples does Anna have?", "How many apples does Ben have?"], 9.0, 1.0, None)
    habit = Record("x", w.text, ["How many apples does Tom have?", "How many apples does Anna have?"], 9.0, 0.0, None)
    assert oracle_labels(problem, good) == ([1, 1], "accept")
    assert oracle_labels(problem, habit) == ([0, 1], "reject")


def test_the_oracles_outcome_is_a_faithful_answerers_whatever_the_record_says(tmp_path):
    """A record the answerer got wrong by luck is labelled right; one that stops short is wrong; noise 1 flips."""
    from distill.review.oracle import faithful_outcomes, simulate_review
    from distill.review.queue import QueueItem

    w = chain_problem()
    problem = SyntheticProblem("x", w.text, 9.0, w)
    complete = ["How many apples does Anna have?", "How many apples does Ben have?"]
    unlucky = Record("x", w.text, complete, 9.0, 0.0, None)  # as a distracted answerer might have scored it
    short = Record("x", w.text, complete[:1], 9.0, 0.0, None, sample_index=1)
    assert faithful_outcomes([problem, problem], [unlucky, short], k=1) == [True, False]
    assert faithful_outcomes([problem], [short], k=2) == [True]  # a k = 2 answerer resolves the skipped step
    for noise, expected in [(0.0, {"x/0": "right", "x/1": "wrong"}), (1.0, {"x/0": "wrong", "x/1": "right"})]:
        store = LabelStore(tmp_path / f"noise{noise}.sqlite")
        items = [QueueItem(0, "random"), QueueItem(1, "random")]
        simulate_review(store, [unlucky, short], items, {"x": problem}, noise=noise)
        assert {key: review.outcome for key, review in store.reviews().items()} == expected


@pytest.fixture
def app_state(tmp_path):
    records = [
        rec("p1", [1.0, 0.0], 1.0),
        Record(
            "evil",
            "<script>alert(1)</script> & more",
            ["<img src=x onerror=alert(2)>"],
            1.0,
            0.0,
            [1.0],
            answerer_output="<b>Final answer: 3</b>",
        ),
    ]
    return ReviewApp(records, build_queue(records, 0.0), LabelStore(tmp_path / "review.sqlite"), "ann")


def client_of(state: ReviewApp) -> TestClient:
    """A client that names the server as a browser on this machine does (Host: 127.0.0.1)."""
    return TestClient(build_app(state), base_url="http://127.0.0.1:8765")


def test_record_text_renders_as_text(app_state):
    client = client_of(app_state)
    pos = app_state.keys.index("evil/0")
    page = client.get(f"/item/{pos}").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<img src=x" not in page and "<b>Final" not in page


def test_labels_need_the_csrf_token_and_persist(app_state):
    client = client_of(app_state)
    pos = app_state.keys.index("p1/0")  # two sub-questions
    body = {"pos": pos, "kind": "useful", "value": 0, "position": 1}
    assert client.post("/api/label", json=body).status_code == 403
    assert client.post("/api/label", json=body, headers={"X-CSRF-Token": "guess"}).status_code == 403
    assert "reload it" in client.post("/api/label", json=body, headers={"X-CSRF-Token": "old"}).text
    headers = {"X-CSRF-Token": app_state.csrf}
    foreign = client.post("/api/label", json=body, headers={**headers, "Origin": "http://evil.example"})
    assert (
        foreign.status_code == 403
        and foreign.text == "403: a request from another origin (http://evil.example) is refused"
    )
    assert client.post("/api/label", json=body, headers=headers).status_code == 200
    assert client.post("/api/label", json={**body, "position": 7}, headers=headers).status_code == 400
    assert client.post("/api/label", json={"pos": pos, "kind": "decision", "value": "accept"}, headers=headers).json()[
        "progress"
    ]["all"] == [1, 2]
    assert app_state.store.labels()[("p1/0", "ann")]["useful"] == {1: 0}
    home = client.get("/", follow_redirects=False)  # the first record not yet decided
    assert home.status_code == 303 and home.headers["location"] == f"/item/{1 - pos}"
    assert client.post("/api/undo", headers=headers).json() == {
        "undone": {"id": 2, "record_key": "p1/0", "kind": "decision", "position": None, "value": "accept"},
        "pos": pos,
    }


def test_a_token_protects_every_route(app_state):
    app_state.token = "s3cret"
    client = client_of(app_state)
    assert client.get("/item/0").status_code == 401
    assert client.get("/api/progress").status_code == 401
    assert client.post("/api/label", json={}, headers={"X-CSRF-Token": app_state.csrf}).status_code == 401
    assert client.get("/item/0?token=wrong").status_code == 401
    assert client.get("/item/0?token=s3cret").status_code == 200
    assert client.get("/item/0").status_code == 200  # the cookie set by the first visit
    assert client_of(app_state).get("/api/progress", headers={"Authorization": "Bearer s3cret"}).json()["all"] == [0, 2]
    # the command generates a token whenever it binds beyond loopback
    from distill.review.app import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_records_file_names_what_it_needs(tmp_path):
    from distill.review.app import records_file

    with pytest.raises(FileNotFoundError, match="has none of teacher_records.jsonl, records.jsonl"):
        records_file(tmp_path)
    (tmp_path / "teacher_records.jsonl").write_text(json.dumps(rec("a", [1.0], 1.0).to_dict()) + "\n")
    assert records_file(tmp_path) == tmp_path / "teacher_records.jsonl"


def test_reward_human_without_labels_is_a_clear_error(tmp_path):
    from conftest import compose_config

    from distill.review.apply import human_review

    cfg = compose_config("train", ["reward=human"])
    with pytest.raises(ValueError, match="reward=human needs human labels: no review.sqlite beside"):
        human_review([], None, None, str(tmp_path / "records.jsonl"), cfg.reward)
    with pytest.raises(FileNotFoundError, match="no such label store"):
        human_review([], None, str(tmp_path / "missing.sqlite"), None, cfg.reward)


def test_a_foreign_host_header_is_refused(app_state):
    """DNS rebinding: a page of another domain that resolves to 127.0.0.1 sends its own name as Host."""
    assert client_of(app_state).get("/item/0").status_code == 200
    rebound = TestClient(build_app(app_state), base_url="http://evil.example:8765")
    assert rebound.get("/item/0").status_code == 400
    assert (
        rebound.post(
            "/api/label",
            json={"pos": 0, "kind": "decision", "value": "accept"},
            headers={"X-CSRF-Token": app_state.csrf},
        ).status_code
        == 400
    )
    assert app_state.store.labels() == {}
    from distill.review.app import served_hosts

    assert served_hosts("127.0.0.1") == ["127.0.0.1", "::1", "localhost"]
    assert "review.lab" in served_hosts("0.0.0.0", ["review.lab"]) and "evil.example" not in served_hosts("0.0.0.0")


def test_records_sharing_problem_and_sample_keep_their_own_labels(tmp_path):
    twin_a, twin_b = rec("p1", [1.0], 1.0), rec("p1", [0.0], 0.0)  # same problem_id and sample_index
    assert record_keys([twin_a, twin_b, rec("p1", [1.0], 1.0)]) == ["p1/0", "p1/0#2", "p1/0#3"]
    state = ReviewApp(
        [twin_a, twin_b], build_queue([twin_a, twin_b], 0.0), LabelStore(tmp_path / "review.sqlite"), "ann"
    )
    client = client_of(state)
    pos_b = state.keys.index("p1/0#2")
    assert (
        client.post(
            "/api/label",
            json={"pos": pos_b, "kind": "decision", "value": "reject"},
            headers={"X-CSRF-Token": state.csrf},
        ).status_code
        == 200
    )
    reviews = state.store.reviews()
    assert reviews["p1/0#2"].decision == "reject" and "p1/0" not in reviews
    out, counts = apply_reviews([twin_a, twin_b], reviews, {}, NEVER_WRONG, None)
    assert out == [twin_a] and counts["rejected"] == 1


def test_two_record_files_in_one_folder_keep_their_labels_apart(tmp_path, capsys):
    from distill.review.__main__ import main

    run, deferred = tmp_path / "teacher_records.jsonl", tmp_path / "deferred_records.jsonl"
    assert store_file(run) == tmp_path / "review.sqlite"
    assert store_file(deferred) == tmp_path / "deferred_records.review.sqlite"
    for path in (run, deferred):
        path.write_text("".join(json.dumps(rec(p, [1.0], 1.0).to_dict()) + "\n" for p in ("a", "b")))
    LabelStore(store_file(run)).add("a/0", "ann", "decision", "reject")
    main(["stats", str(deferred)])
    assert "0 records reviewed" in capsys.readouterr().out
    assert json.loads((tmp_path / "deferred_records.review_stats.json").read_text())["records_reviewed"] == 0
    main(["stats", str(tmp_path)])
    assert "1 records reviewed, 1 rejected" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content,message",
    [
        ("", "the records file holds no records"),
        (
            '{"problem_id": "a", "problem": "?", "subquestions": ["q"], "meta": {"missing_step": "high"}}\n',
            "records.jsonl:1: field 'meta.missing_step' must be a number or null, got 'high'",
        ),
        ("not json\n", "records.jsonl:1: not valid JSON"),
    ],
)
def test_a_bad_records_file_is_refused_in_one_line_naming_file_and_line(tmp_path, capsys, content, message):
    from distill.review.__main__ import main

    (tmp_path / "records.jsonl").write_text(content)
    with pytest.raises(SystemExit) as stop:
        main(["stats", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "args,message",
    [
        (["simulate", "RUN", "--n", "-5"], "--n: must be a positive integer"),
        (["simulate", "RUN", "--n", "2", "--noise", "1.5"], "--noise: must be a number"),
        (["RUN", "--random-share", "-1"], "--random-share: must be a number"),
    ],
)
def test_out_of_range_review_options_are_refused(tmp_path, capsys, args, message):
    from distill.review.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path) if a == "RUN" else a for a in args])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_after_the_last_decision_home_shows_all_done(app_state):
    client = client_of(app_state)
    for pos in range(len(app_state.queue)):
        client.post(
            "/api/label",
            json={"pos": pos, "kind": "decision", "value": "reject" if pos else "accept"},
            headers={"X-CSRF-Token": app_state.csrf},
        )
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 200 and "All 2 records decided" in home.text
    assert '<b id="accepted">1</b>' in home.text and '<b id="rejected">1</b>' in home.text


def test_krippendorff_alpha_worked_by_hand():
    from distill.review.agreement import between_reviewers, krippendorff_alpha

    # units (a,a) (a,b) (b,b) (b,b): o_aa 2, o_ab = o_ba 1, o_bb 4; n_a 3, n_b 5, n 8: alpha = 1 - 7 * 2 / 30
    assert krippendorff_alpha([["a", "a"], ["a", "b"], ["b", "b"], ["b", "b"]]) == pytest.approx(1 - 14 / 30)
    assert krippendorff_alpha([[1, 1, 1], [0, 0], [1]]) == 1.0  # a unit with one label adds nothing
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # one value only: no disagreement to expect
    # three raters on one unit each pair once: (x,x,y) gives o_xx 1, o_xy = o_yx 1, o_yy 0; plus (y,y)
    assert krippendorff_alpha([["x", "x", "y"], ["y", "y"]]) == pytest.approx(1 - 4 * 2 / (2 * 2 * 3))
    labels = {
        ("r/0", "ann"): {"useful": {0: 1, 1: 0}, "decision": "accept"},
        ("r/0", "bob"): {"useful": {0: 1, 1: 1}, "decision": "accept"},
        ("s/0", "ann"): {"useful": {0: 0}, "decision": "reject"},
        ("s/0", "bob"): {"useful": {0: 0}, "decision": "reject"},
    }
    between = between_reviewers(labels)
    pair = between["pairs"]["ann vs bob"]
    assert pair["decision"] == {"n": 2, "kappa": 1.0}
    # usefulness: (1,1) (0,1) (0,0): observed 2/3, p_ann 1/3, p_bob 2/3, expected 4/9: kappa (6/9-4/9)/(5/9)
    assert pair["useful"]["n"] == 3 and pair["useful"]["kappa"] == pytest.approx(0.4)
    assert between["alpha"]["decision"] == 1.0
