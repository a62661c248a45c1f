#!/usr/bin/env python3
"""A turn that outlives the request that started it: start it in one request, stream it from any worker.

    export CODEX_APP_SERVER_WS_URL=ws://127.0.0.1:8765 CODEX_APP_SERVER_TOKEN=...   # or CODEX_APP_SERVER_UNIX=/path.sock
    gunicorn -w 2 -k gthread --threads 8 --chdir examples durable_web:app           # then open http://127.0.0.1:8000/

``POST /turns`` (form field ``prompt``) starts a turn on the shared
app-server and answers ``{"token": ...}`` at once: the turn's continuation,
which holds no secret and no event. ``GET /events?token=...`` streams the
steps the token has not seen as server-sent events, whichever worker process
serves it: each ``data:`` carries the step and the token that resumes after
it (also the event's ``id``). ``GET /`` is a page that starts a turn and
shows its steps; it keeps the steps and the latest token in
``sessionStorage``, so a reload mid-turn goes on from where it was and shows
every step once.

The app-server must outlive the workers (a websocket or unix-socket server,
see ``docs/durable.md``); each worker has one client
(``codex_sync.per_process_client``). If the browser goes away, the turn goes
on: the stream is detached, not closed.
"""

from __future__ import annotations

import json
import os
from typing import Iterator

from flask import Flask, Response, request

from codex_sync import ChatContinuation, CodexClient, CodexError, per_process_client


def make_client() -> CodexClient:
    """This worker's client, for the shared server named by the environment."""
    unix = os.environ.get("CODEX_APP_SERVER_UNIX")
    if unix:
        return CodexClient.connect_unix(unix)
    return CodexClient.connect_websocket()  # $CODEX_APP_SERVER_WS_URL, $CODEX_APP_SERVER_TOKEN


get_client = per_process_client(make_client)
app = Flask(__name__)


@app.post("/turns")
def start_turn() -> Response:
    prompt = (request.form.get("prompt") or request.args.get("prompt") or "").strip()
    if not prompt:
        return Response(json.dumps({"error": "prompt is required"}), status=400, mimetype="application/json")
    stream = get_client().chat(prompt)
    token = stream.detach().to_json()  # the turn runs on; this request is done
    return Response(json.dumps({"token": token, "worker": os.getpid()}), mimetype="application/json")


def _sse(event: str, data: dict, event_id: str = "") -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


def _events(token: str) -> Iterator[str]:
    stream = get_client().chat(continuation=ChatContinuation.from_json(token))
    yield _sse("turn", {"thread_id": stream.thread_id, "turn_id": stream.turn_id, "worker": os.getpid()})
    try:
        for step in stream:
            after = stream.continuation.to_json()
            step_data = {"type": step.step_type, "id": step.item_id, "text": step.text, "token": after}
            yield _sse("step", step_data, event_id=after)
        yield _sse("done", {"final_text": stream.final_text or ""})
    except CodexError as exc:
        yield _sse("codex-error", {"error": f"{type(exc).__name__}: {exc}"})
    finally:
        stream.detach()  # a browser that left (or reloads) leaves the turn running


@app.get("/events")
def events() -> Response:
    token = request.args.get("token", "")
    try:
        ChatContinuation.from_json(token)
    except (TypeError, ValueError) as exc:
        return Response(f"bad token: {exc}\n", status=400, mimetype="text/plain")
    return Response(_events(token), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@app.get("/")
def index() -> Response:
    return Response(PAGE, mimetype="text/html")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>codex_sync · durable turn</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1d2430; }
  form { display: flex; gap: .5rem; margin: 1rem 0; }
  input[type=text] { flex: 1; padding: .45rem .6rem; font: inherit; border: 1px solid #b8c1cc; border-radius: 6px; }
  button { padding: .45rem 1rem; font: inherit; border: 0; border-radius: 6px; background: #2457c5; color: #fff; }
  #status { color: #5b6675; font-size: .9rem; }
  ol { list-style: none; padding: 0; }
  li { border: 1px solid #dde3ea; border-left: 5px solid #2457c5; border-radius: 6px; padding: .45rem .7rem;
       margin: .45rem 0; background: #fafbfc; white-space: pre-wrap; overflow-wrap: anywhere; }
  .type { font-weight: 600; font-size: .8rem; text-transform: uppercase; color: #4a5564; }
</style>
</head>
<body>
<h1>A turn that survives a reload</h1>
<form id="start"><input type="text" id="prompt" placeholder="Ask codex"><button>Start</button></form>
<div id="status">idle</div>
<ol id="steps"></ol>
<script>
const store = window.sessionStorage;
const list = document.getElementById("steps");
const status = document.getElementById("status");
function show(step) {
  const li = document.createElement("li");
  li.dataset.id = step.id;
  li.innerHTML = '<div class="type"></div><div class="text"></div>';
  li.querySelector(".type").textContent = step.type;
  li.querySelector(".text").textContent = step.text;
  list.appendChild(li);
}
function follow(token) {
  status.textContent = "running";
  const source = new EventSource("/events?token=" + encodeURIComponent(token));
  source.addEventListener("step", (e) => {
    const step = JSON.parse(e.data);
    const shown = JSON.parse(store.getItem("steps") || "[]");
    shown.push(step);
    store.setItem("steps", JSON.stringify(shown));
    store.setItem("token", step.token);
    show(step);
  });
  source.addEventListener("done", () => { status.textContent = "done"; store.removeItem("token"); source.close(); });
  source.addEventListener("codex-error", (e) => { status.textContent = JSON.parse(e.data).error; source.close(); });
}
async function start(prompt) {
  store.clear();
  list.innerHTML = "";
  const body = new URLSearchParams({prompt});
  const answer = await fetch("/turns", {method: "POST", body});
  const {token} = await answer.json();
  store.setItem("token", token);
  follow(token);
}
document.getElementById("start").addEventListener("submit", (e) => {
  e.preventDefault();
  start(document.getElementById("prompt").value);
});
for (const step of JSON.parse(store.getItem("steps") || "[]")) show(step);  // after a reload
const pending = store.getItem("token");
const asked = new URLSearchParams(location.search).get("prompt");
if (pending) follow(pending);
else if (asked && !store.getItem("steps")) start(asked);
</script>
</body>
</html>
"""
