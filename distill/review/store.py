"""Human labels of a records file, in SQLite beside it (:func:`store_file`: ``review.sqlite`` for a run's own records).

Every action is one row, committed at once (a killed server loses nothing): a sub-question marked useful
or not, a decomposition accepted or rejected, a decomposition edited. Undo marks a reviewer's latest
action undone; nothing is deleted, so the log shows who did what and when. A reviewer's current label is
their latest action of each kind; several reviewers are merged by :meth:`LabelStore.reviews`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.core.records import Record

KINDS = ("useful", "decision", "edit", "outcome")
DECISIONS = ("accept", "reject")
# a person's verdict on the outcome: would a faithful answerer get the answer right from these sub-questions (the
# automatic label is what one, maybe fallible, answerer got); it replaces the record's correctness in training
OUTCOMES = ("right", "wrong")
STORE_FILE = "review.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_key TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    kind TEXT NOT NULL,          -- useful | decision | edit | outcome
    position INTEGER,            -- the sub-question, for kind = useful
    value TEXT NOT NULL,         -- JSON: 0 or 1 (useful), "accept" or "reject" (decision), [sub-questions] (edit),
                                 --       "right" or "wrong" (outcome)
    stratum TEXT,                -- the review queue's stratum the record was shown from
    created REAL NOT NULL,       -- seconds since the epoch
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS actions_record ON actions (record_key);
"""


# a run's own records file keeps the store name it always had; any other file gets a store of its own
RUN_RECORDS = ("teacher_records.jsonl", "records.jsonl")


def store_file(records_path: str | Path) -> Path:
    """The label store of one records file: ``review.sqlite`` beside a run's own records (``teacher_records.jsonl``
    of distill.train, ``records.jsonl`` of distill.generate), ``NAME.review.sqlite`` beside any other file (the
    cascade's ``deferred_records.jsonl``), so that two files in one folder never share labels."""
    path = Path(records_path)
    return path.parent / (STORE_FILE if path.name in RUN_RECORDS else f"{path.name.split('.')[0]}.{STORE_FILE}")


def record_keys(records: list[Record]) -> list[str]:
    """Each record's identity within its file: ``problem/sample``, and ``problem/sample#k`` for the k-th record
    that repeats a (problem, sample) pair, so that no two records share one (stable as a file grows)."""
    seen: dict[str, int] = {}
    keys = []
    for record in records:
        base = f"{record.problem_id}/{record.sample_index}"
        seen[base] = seen.get(base, 0) + 1
        keys.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return keys


@dataclass
class Review:
    """What people said of one record, merged over reviewers."""

    useful: dict[int, float] = field(default_factory=dict)  # sub-question -> share of reviewers saying useful
    decision: str | None = None  # reject when at least half of the reviewers who decided rejected
    edit: list[str] | None = None  # the latest edit by anyone
    outcome: str | None = None  # the majority of the reviewers who gave one (none on a tie)
    reviewers: list[str] = field(default_factory=list)


class LabelStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection shared by the server's threads
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def add(
        self, key: str, reviewer: str, kind: str, value: Any, position: int | None = None, stratum: str | None = None
    ) -> int:
        """Record one action (committed before returning); its id."""
        if kind not in KINDS:
            raise ValueError(f"unknown label kind {kind!r}; valid: {', '.join(KINDS)}")
        if kind == "useful" and (value not in (0, 1) or position is None or position < 0):
            raise ValueError(f"a usefulness label is 0 or 1 for a sub-question position, got {value!r} at {position!r}")
        if kind == "decision" and value not in DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(DECISIONS)}, got {value!r}")
        if kind == "outcome" and value not in OUTCOMES:
            raise ValueError(f"an outcome is one of {', '.join(OUTCOMES)}, got {value!r}")
        if kind == "edit" and (not isinstance(value, list) or not all(isinstance(q, str) and q.strip() for q in value)):
            raise ValueError("an edit is a list of non-empty sub-questions")
        if not reviewer:
            raise ValueError("a label needs a reviewer name")
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO actions (record_key, reviewer, kind, position, value, stratum, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, reviewer, kind, position, json.dumps(value), stratum, time.time()),
            )
        return int(cursor.lastrowid)

    def undo(self, reviewer: str) -> dict[str, Any] | None:
        """Mark the reviewer's latest action undone; that action, or None when there is nothing to undo."""
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT id, record_key, kind, position, value FROM actions WHERE reviewer = ? AND undone = 0 "
                "ORDER BY id DESC LIMIT 1",
                (reviewer,),
            ).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE actions SET undone = 1 WHERE id = ?", (row[0],))
        return {"id": row[0], "record_key": row[1], "kind": row[2], "position": row[3], "value": json.loads(row[4])}

    def actions(self, include_undone: bool = False) -> list[dict[str, Any]]:
        """The action log, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, record_key, reviewer, kind, position, value, stratum, created, undone FROM actions "
                + ("" if include_undone else "WHERE undone = 0 ")
                + "ORDER BY id"
            ).fetchall()
        names = ("id", "record_key", "reviewer", "kind", "position", "value", "stratum", "created", "undone")
        return [{**dict(zip(names, row)), "value": json.loads(row[5]), "undone": bool(row[8])} for row in rows]

    def labels(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Each reviewer's current labels of each record: (record, reviewer) -> {useful, decision, edit,
        stratum, updated}; the latest action of each kind (and position) wins."""
        current: dict[tuple[str, str], dict[str, Any]] = {}
        for a in self.actions():
            label = current.setdefault(
                (a["record_key"], a["reviewer"]),
                {"useful": {}, "decision": None, "edit": None, "outcome": None, "stratum": a["stratum"]},
            )
            if a["kind"] == "useful":
                label["useful"][a["position"]] = a["value"]
            else:
                label[a["kind"]] = a["value"]
            label["updated"] = a["created"]
        return current

    def reviews(self) -> dict[str, Review]:
        """Labels merged over reviewers, per record."""
        merged: dict[str, Review] = {}
        votes: dict[str, list[str]] = {}
        useful: dict[str, dict[int, list[int]]] = {}
        edited: dict[str, tuple[float, list[str]]] = {}
        outcomes: dict[str, list[str]] = {}
        for (key, reviewer), label in self.labels().items():
            review = merged.setdefault(key, Review())
            review.reviewers.append(reviewer)
            for position, value in label["useful"].items():
                useful.setdefault(key, {}).setdefault(position, []).append(value)
            if label["decision"]:
                votes.setdefault(key, []).append(label["decision"])
            if label.get("outcome"):
                outcomes.setdefault(key, []).append(label["outcome"])
            if label["edit"] and (key not in edited or label["updated"] > edited[key][0]):
                edited[key] = (label["updated"], label["edit"])
        for key, review in merged.items():
            review.useful = {p: sum(v) / len(v) for p, v in sorted(useful.get(key, {}).items())}
            if votes.get(key):
                review.decision = "reject" if 2 * votes[key].count("reject") >= len(votes[key]) else "accept"
            review.edit = edited[key][1] if key in edited else None
            said = outcomes.get(key, [])
            if said.count("right") != said.count("wrong"):
                review.outcome = max(OUTCOMES, key=said.count)
        return merged
