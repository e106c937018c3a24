"""The review web app: one decomposition at a time, server-rendered HTML, keyboard first.

Safety: every request must name this server in its ``Host`` header (an allow-list: the bound address and its
names), so a page on another domain that resolves to 127.0.0.1 (DNS rebinding) gets a 400; every piece of
record text is HTML-escaped; state-changing requests need the page's CSRF token in a header (which another
site's page cannot send) and, when the server has an access token (any bind address but loopback), that
token too, from ``?token=`` once (then a cookie) or ``Authorization: Bearer``.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import socket
from collections import Counter
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from distill.core.final_answer import extract_final_answer
from distill.core.records import Record
from distill.review.queue import STRATA, QueueItem
from distill.review.store import RUN_RECORDS, LabelStore, record_keys

KEYS = [
    ("1-9", "sub-question N useful"),
    ("Shift+1-9", "sub-question N not useful"),
    ("a", "accept"),
    ("r", "reject"),
    ("y / w", "the outcome counts as right / wrong (a faithful answerer would / would not get it)"),
    ("e", "edit the sub-questions"),
    ("Ctrl+Enter", "save the edit"),
    ("u", "undo"),
    ("n / →", "next"),
    ("p / ←", "previous"),
    ("g", "next not yet decided"),
]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222}
.bar{background:#eee;border-radius:4px;height:12px}.bar>div{background:#3a7;height:12px;border-radius:4px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap}.yes{color:#080;font-weight:bold}.no{color:#b00;font-weight:bold}
.decision{font-size:1.2rem;padding:.3rem .6rem;border-radius:4px}.accept{background:#dfd}.reject{background:#fdd}
kbd{border:1px solid #aaa;border-radius:3px;padding:0 3px;font-size:.8rem}small{color:#666}
button{margin-right:.3rem}textarea{width:100%;font-family:monospace}
#banner{display:none;background:#fdd;border:1px solid #b00;padding:.5rem;margin:.5rem 0;font-weight:bold}
"""

_SCRIPT = """
const csrf = document.querySelector('meta[name=csrf]').content;
const pos = Number(document.body.dataset.pos), total = Number(document.body.dataset.total);
function banner(text) { const b = document.getElementById('banner'); b.textContent = text; b.style.display = 'block'; }
async function post(path, body) {
  let r;
  try {
    r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                           body: JSON.stringify(body || {}), credentials: 'same-origin'});
  } catch (e) {
    banner('Not saved: the review server does not answer (is it still running?). Start it again, then reload this page.');
    return null;
  }
  if (!r.ok) { banner('Not saved: ' + await r.text()); return null; }
  return r.json();
}
function go(p) { if (p >= 0 && p < total) location.href = '/item/' + p; }
async function label(kind, value, position) {
  const r = await post('/api/label', {pos, kind, value, position});
  if (r) { if (kind === 'decision') go(pos + 1 < total ? pos + 1 : pos); else location.reload(); }
}
async function undo() { const r = await post('/api/undo'); if (r) go(r.pos ?? pos); if (r && r.pos === pos) location.reload(); }
function edit() { document.getElementById('editor').style.display = 'block'; document.getElementById('edit-text').focus(); }
function saveEdit() {
  const lines = document.getElementById('edit-text').value.split('\\n').map(s => s.trim()).filter(s => s);
  if (lines.length) label('edit', lines);
}
document.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'TEXTAREA') { if (e.key === 'Enter' && e.ctrlKey) saveEdit(); return; }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const digit = /^Digit([1-9])$/.exec(e.code);
  if (digit) { e.preventDefault(); label('useful', e.shiftKey ? 0 : 1, Number(digit[1]) - 1); return; }
  const actions = {a: () => label('decision', 'accept'), r: () => label('decision', 'reject'), e: edit, u: undo,
                   y: () => label('outcome', 'right'), w: () => label('outcome', 'wrong'),
                   n: () => go(pos + 1), ArrowRight: () => go(pos + 1), p: () => go(pos - 1), ArrowLeft: () => go(pos - 1),
                   g: () => location.href = '/'};
  if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
});
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


class ReviewApp:
    """The state behind the pages: the records, their queue, the store, who is reviewing, the secrets."""

    def __init__(
        self,
        records: list[Record],
        queue: list[QueueItem],
        store: LabelStore,
        reviewer: str,
        token: str | None = None,
        hosts: list[str] | None = None,
    ) -> None:
        self.records, self.queue, self.store, self.reviewer = records, queue, store, reviewer
        self.token = token
        self.hosts = hosts or list(LOOPBACK_NAMES)  # Host header values this server answers
        self.csrf = secrets.token_urlsafe(24)
        keys = record_keys(records)
        self.keys = [keys[item.index] for item in queue]

    # -- access ------------------------------------------------------------------------------------
    def authorised(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = request.query_params.get("token") or request.cookies.get("review_token") or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:]
        return hmac.compare_digest(given, self.token)

    def refusal(self, request: Request) -> str | None:
        """Why a state-changing request is refused (another origin, no or an old CSRF token), or None."""
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
            return f"403: a request from another origin ({origin}) is refused"
        if not hmac.compare_digest(request.headers.get("x-csrf-token", ""), self.csrf):
            return "403: this page is out of date (the review server restarted?): reload it and try again"
        return None

    # -- state -------------------------------------------------------------------------------------
    def mine(self) -> dict[str, dict]:
        return {key: label for (key, reviewer), label in self.store.labels().items() if reviewer == self.reviewer}

    def progress(self, mine: dict[str, dict]) -> dict[str, tuple[int, int]]:
        decided = {k for k, label in mine.items() if label["decision"]}
        total, done = (
            Counter(i.stratum for i in self.queue),
            Counter(i.stratum for i, k in zip(self.queue, self.keys) if k in decided),
        )
        return {s: (done[s], total[s]) for s in STRATA if total[s]} | {
            "all": (len(decided & set(self.keys)), len(self.queue))
        }

    def first_undecided(self) -> int | None:
        mine = self.mine()
        return next((p for p, k in enumerate(self.keys) if not (mine.get(k) or {}).get("decision")), None)

    def done_page(self) -> str:
        """Every record of the queue decided: what this reviewer said, in one look."""
        mine = self.mine()
        labels = [mine[k] for k in self.keys]
        counts = Counter(label["decision"] for label in labels)
        edited = sum(label["edit"] is not None for label in labels)
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>distill review: all done</title>
<style>{_STYLE}</style></head><body><h2 id="done">All {len(self.queue)} records decided</h2>
<p>{esc(self.reviewer)}: accepted <b id="accepted">{counts["accept"]}</b>, rejected <b id="rejected">{counts["reject"]}</b>,
edited <b id="edited">{edited}</b>. Labels are in {esc(self.store.path)}.</p>
<p>Go back to <a href="/item/0">record 1</a> to change a label; <code>python -m distill.review stats</code> compares
reviewers and the AI judge.</p></body></html>"""

    # -- pages -------------------------------------------------------------------------------------
    def page(self, pos: int) -> str:
        item = self.queue[pos]
        record = self.records[item.index]
        mine = self.mine()
        label = mine.get(self.keys[pos]) or {"useful": {}, "decision": None, "edit": None}
        bars = []
        for stratum, (done, total) in self.progress(mine).items():
            width = 100 * done / total if total else 0
            bars.append(
                f'<tr><td>{esc(stratum)}</td><td style="width:60%"><div class="bar"><div style="width:{width:.1f}%">'
                f'</div></div></td><td id="progress-{esc(stratum)}">{done} / {total}</td></tr>'
            )
        rows = []
        for i, question in enumerate(record.subquestions):
            ai = record.usefulness[i] if record.usefulness and i < len(record.usefulness) else None
            mark = label["useful"].get(i)
            human = {1: '<span class="yes">useful</span>', 0: '<span class="no">not useful</span>'}.get(mark, "—")
            rows.append(
                f'<tr class="subq" data-i="{i}"><td>{i + 1}</td><td>{esc(question)}</td>'
                f'<td>{"" if ai is None else f"{ai:.2f}"}</td><td class="human">{human}</td>'
                f"<td><button onclick=\"label('useful',1,{i})\">useful</button>"
                f"<button onclick=\"label('useful',0,{i})\">not</button></td></tr>"
            )
        missing = record.meta.get("missing_step")
        predicted = extract_final_answer(record.answerer_output)
        decision = label["decision"]
        decided = (
            f'<span id="decision" class="decision {esc(decision)}">{esc(decision)}ed</span>'
            if decision
            else '<span id="decision">undecided</span>'
        )
        edit = label["edit"]
        keys = " · ".join(f"<kbd>{esc(k)}</kbd> {esc(v)}" for k, v in KEYS)
        return f"""<!doctype html><html><head><meta charset="utf-8"><meta name="csrf" content="{self.csrf}">
<title>distill review {pos + 1}/{len(self.queue)}</title><style>{_STYLE}</style></head>
<body data-pos="{pos}" data-total="{len(self.queue)}"><div id="banner" role="alert"></div>
<h2>Record {pos + 1} of {len(self.queue)} <small>stratum: <b id="stratum">{esc(item.stratum)}</b> · {esc(self.keys[pos])}
 · teacher {esc(record.teacher)} · reviewer {esc(self.reviewer)}</small></h2>
<p>Why this record is here: <span id="reason">{esc(item.reason or "—")}</span></p>
<table>{"".join(bars)}</table>
<h3>Problem</h3><p id="problem">{esc(record.problem)}</p>
<p>True answer <b>{esc(record.true_answer)}</b> · predicted <b>{esc(predicted)}</b> ·
 {'<span class="yes">right</span>' if record.answer_correctness else '<span class="no">wrong</span>'}
 {f"· judge: a needed step is missing ({missing:.2f} of votes)" if missing is not None else ""}</p>
<h3>Sub-questions</h3>
<table><tr><th>#</th><th>sub-question</th><th>AI votes useful</th><th>you</th><th></th></tr>{"".join(rows)}</table>
{f'<p>Your edit: <span id="edit">{esc(" | ".join(edit))}</span></p>' if edit else ""}
<p>Outcome: <span id="outcome">{esc(label.get("outcome") or "as the answerer got it")}</span>
<button onclick="label('outcome','right')">counts as right (y)</button>
<button onclick="label('outcome','wrong')">counts as wrong (w)</button></p>
<p>{decided} <button onclick="label('decision','accept')">accept (a)</button>
<button onclick="label('decision','reject')">reject (r)</button> <button onclick="edit()">edit (e)</button>
<button onclick="undo()">undo (u)</button> <button onclick="go({pos - 1})">← prev</button>
<button onclick="go({pos + 1})">next →</button></p>
<div id="editor" style="display:none"><textarea id="edit-text" rows="6">{esc(chr(10).join(edit or record.subquestions))}</textarea>
<button onclick="saveEdit()">save edit (Ctrl+Enter)</button></div>
<h3>Answerer's transcript</h3><pre id="transcript">{esc(record.answerer_output or "")}</pre>
<p><small>{keys}</small></p>
<script>{_SCRIPT}</script></body></html>"""


def add_label(state: ReviewApp, body: dict) -> int:
    """Store the label a page posted (``pos``, ``kind``, ``value``, and ``position`` for a sub-question's
    usefulness); a ValueError, KeyError or TypeError for a body that names no such record or sub-question."""
    pos = int(body["pos"])
    if not 0 <= pos < len(state.queue):
        raise ValueError(f"no record {pos}")
    kind, value = body["kind"], body["value"]
    if kind == "useful":
        record = state.records[state.queue[pos].index]
        if not 0 <= int(body.get("position", -1)) < len(record.subquestions):
            raise ValueError(f"record {pos} has {len(record.subquestions)} sub-questions")
    position = body.get("position") if kind == "useful" else None
    return state.store.add(
        state.keys[pos], state.reviewer, kind, value, position=position, stratum=state.queue[pos].stratum
    )


def build_app(state: ReviewApp) -> Starlette:
    def denied() -> Response:
        return Response("401: this review server needs its access token (?token=...)", status_code=401)

    def with_token_cookie(request: Request, response: Response) -> Response:
        if state.token and request.query_params.get("token"):
            response.set_cookie("review_token", state.token, httponly=True, samesite="strict")
        return response

    async def home(request: Request) -> Response:
        if not state.authorised(request):
            return denied()
        pos = state.first_undecided()
        if pos is None:
            return with_token_cookie(request, HTMLResponse(state.done_page()))
        return with_token_cookie(request, RedirectResponse(f"/item/{pos}", status_code=303))

    async def item(request: Request) -> Response:
        if not state.authorised(request):
            return denied()
        pos = request.path_params["pos"]
        if not 0 <= pos < len(state.queue):
            return Response(f"no record {pos}: the queue has {len(state.queue)}", status_code=404)
        return with_token_cookie(request, HTMLResponse(state.page(pos)))

    async def label(request: Request) -> Response:
        if not state.authorised(request):
            return denied()
        if refused := state.refusal(request):
            return Response(refused, status_code=403)
        try:
            action = add_label(state, await request.json())
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
            return Response(f"400: {err}", status_code=400)
        return JSONResponse({"id": action, "progress": state.progress(state.mine())})

    async def undo(request: Request) -> Response:
        if not state.authorised(request):
            return denied()
        if refused := state.refusal(request):
            return Response(refused, status_code=403)
        action = state.store.undo(state.reviewer)
        pos = state.keys.index(action["record_key"]) if action and action["record_key"] in state.keys else None
        return JSONResponse({"undone": action, "pos": pos})

    async def progress(request: Request) -> Response:
        if not state.authorised(request):
            return denied()
        return JSONResponse(state.progress(state.mine()))

    return Starlette(
        routes=[
            Route("/", home),
            Route("/item/{pos:int}", item),
            Route("/api/progress", progress),
            Route("/api/label", label, methods=["POST"]),
            Route("/api/undo", undo, methods=["POST"]),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=state.hosts)],
    )


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


def served_hosts(bind: str, extra: list[str] | None = None) -> list[str]:
    """The ``Host`` values a server bound to ``bind`` answers: the address, the loopback names and, beyond
    loopback, this machine's names and addresses; ``extra`` adds names (a proxy's, a DNS alias)."""
    hosts = {bind, *LOOPBACK_NAMES, *(extra or [])}
    if not is_loopback(bind):
        name = socket.gethostname()
        hosts |= {name, socket.getfqdn()}
        try:
            hosts |= set(socket.gethostbyname_ex(name)[2])
        except OSError:
            pass  # a machine whose own name does not resolve: its address and --allow-host still work
    return sorted(hosts)


def records_file(path: str | Path) -> Path:
    """The records a review is of: a records file, or the records of a run folder (``teacher_records.jsonl``
    of distill.train, ``records.jsonl`` of distill.generate)."""
    path = Path(path)
    if path.is_dir():
        for name in RUN_RECORDS:
            if (path / name).exists():
                return path / name
        raise FileNotFoundError(f"{path} has none of {', '.join(RUN_RECORDS)}: give a run folder or a records file")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run folder or records file")
    return path
