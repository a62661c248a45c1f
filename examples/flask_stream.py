#!/usr/bin/env python3
"""Stream a codex turn to the browser as server-sent events, from a Flask view.

    flask --app examples/flask_stream.py run          # then open http://127.0.0.1:5000/
    python examples/flask_stream.py --port 5000       # the same, without the flask CLI

``GET /stream?prompt=...[&thread_id=...]`` answers ``text/event-stream``: one
``event: turn`` with the thread and turn ids, one ``data: {json}`` per
completed step, ``event: codex-error`` if the turn fails, and a final
``event: done``. ``GET /`` is a small page that shows the steps as they arrive
(``EventSource``) and continues the same thread with each new prompt.

One client per process, created on first use and shared by all request
threads (``codex_sync.per_process_client``, which also makes a new one after a
fork, e.g. under ``gunicorn --preload``). The server comes from the usual
environment: ``$CODEX_APP_SERVER_CMD`` (default ``codex app-server``) over
stdio, or set ``$CODEX_APP_SERVER_WS_URL`` (and ``$CODEX_APP_SERVER_TOKEN``) to
use a websocket server. A silent turn gets an SSE comment every
``HEARTBEAT_SECONDS`` (it is resumed, not abandoned); if the browser goes
away, the generator is closed and the turn interrupted.
"""

from __future__ import annotations

import argparse

from flask import Flask, Response, request
from sse_steps import make_client, turn_events

from codex_sync import per_process_client

HEARTBEAT_SECONDS = 15.0

get_client = per_process_client(make_client)

app = Flask(__name__)


@app.get("/stream")
def stream_view() -> Response:
    prompt = request.args.get("prompt", "").strip()
    if not prompt:
        return Response("prompt is required\n", status=400, mimetype="text/plain")
    thread_id = request.args.get("thread_id") or None
    return Response(
        turn_events(get_client, prompt, thread_id, HEARTBEAT_SECONDS),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@app.get("/")
def index() -> Response:
    return Response(PAGE, mimetype="text/html")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>codex_sync · streamed steps</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1d2430; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  form { display: flex; gap: .5rem; margin: 1rem 0; }
  input[type=text] { flex: 1; padding: .45rem .6rem; font: inherit; border: 1px solid #b8c1cc; border-radius: 6px; }
  button { padding: .45rem 1rem; font: inherit; border: 0; border-radius: 6px; background: #2457c5; color: #fff; }
  #status { color: #5b6675; font-size: .9rem; }
  ol { list-style: none; padding: 0; }
  li.step { border: 1px solid #dde3ea; border-left: 5px solid #8a96a6; border-radius: 6px; padding: .45rem .7rem; margin: .45rem 0; background: #fafbfc; }
  li.step-codex { border-left-color: #2457c5; }
  li.step-exec { border-left-color: #c77d12; }
  li.step-thinking { border-left-color: #7b4bc4; }
  li.step-userMessage { border-left-color: #2f8f5b; }
  li.error { border-left-color: #c0392b; background: #fdf0ee; }
  .type { font-weight: 600; font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: #4a5564; }
  pre { white-space: pre-wrap; margin: .25rem 0 0; font: 13px/1.4 ui-monospace, monospace; }
  pre.output { background: #1d2430; color: #e6edf3; padding: .4rem .6rem; border-radius: 4px; }
</style>
</head>
<body>
<h1>codex_sync · streamed steps</h1>
<div id="status">idle</div>
<form id="ask"><input type="text" id="prompt" placeholder="Ask codex…" autocomplete="off"><button>Send</button></form>
<ol id="steps"></ol>
<script>
  const steps = document.getElementById("steps");
  const status = document.getElementById("status");
  let threadId = null;
  function add(cls, type, text, output) {
    const li = document.createElement("li");
    li.className = cls;
    const head = document.createElement("div");
    head.className = "type";
    head.textContent = type;
    const body = document.createElement("pre");
    body.textContent = text;
    li.append(head, body);
    if (output) {
      const out = document.createElement("pre");
      out.className = "output";
      out.textContent = output;
      li.append(out);
    }
    steps.append(li);
  }
  function ask(prompt) {
    let url = "stream?prompt=" + encodeURIComponent(prompt);
    if (threadId) url += "&thread_id=" + encodeURIComponent(threadId);
    status.textContent = "running…";
    const source = new EventSource(url);
    source.addEventListener("turn", (e) => {
      const turn = JSON.parse(e.data);
      threadId = turn.thread_id;
      status.textContent = "running turn " + turn.turn_id + " on thread " + turn.thread_id;
    });
    source.onmessage = (e) => {
      const step = JSON.parse(e.data);
      const label = step.item_type === step.step_type ? step.step_type : step.step_type + " · " + step.item_type;
      add("step step-" + step.step_type, label, step.text, step.output);
    };
    source.addEventListener("codex-error", (e) => add("step error", "error", JSON.parse(e.data).error));
    source.addEventListener("done", (e) => {
      const done = JSON.parse(e.data);
      source.close();
      status.textContent = "done: " + done.steps + " steps (thread " + done.thread_id + ")";
      document.body.dataset.done = "true";
    });
    source.onerror = () => { source.close(); status.textContent = "connection lost"; };
  }
  document.getElementById("ask").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("prompt");
    if (input.value.trim()) { ask(input.value.trim()); input.value = ""; }
  });
  const initial = new URLSearchParams(location.search).get("prompt");
  if (initial) ask(initial);
</script>
</body>
</html>
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the streaming page (development server).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    options = parser.parse_args()
    app.run(host=options.host, port=options.port, threaded=True)
