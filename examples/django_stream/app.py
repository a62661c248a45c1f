#!/usr/bin/env python3
"""Stream a codex turn as server-sent events from a Django view (a one-file project).

    python examples/django_stream/app.py runserver 127.0.0.1:8000   # then open http://127.0.0.1:8000/

``GET /stream?prompt=...[&thread_id=...]`` is a ``StreamingHttpResponse`` of
``text/event-stream``: ``event: turn`` (thread and turn ids), one
``data: {json}`` per completed step, ``event: codex-error`` if the turn fails,
and a final ``event: done``. ``GET /`` is a minimal page showing the steps as
they arrive.

One client per process, created on first use and shared by all request
threads (``codex_sync.per_process_client``: a forked worker gets its own). The
server comes from the usual environment: ``$CODEX_APP_SERVER_CMD`` (default
``codex app-server``) over stdio, or ``$CODEX_APP_SERVER_WS_URL`` (and
``$CODEX_APP_SERVER_TOKEN``) for a websocket server. Settings are made here
with ``settings.configure``; in a real project they live in ``settings.py``
and the view in an app's ``views.py``.
"""

from __future__ import annotations

import os
import sys

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=os.environ.get("DJANGO_DEBUG") == "1",
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "codex-sync-example-not-a-secret"),
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
    )
    django.setup()

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_GET  # noqa: E402

from codex_sync import per_process_client  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/: sse_steps
from sse_steps import make_client, turn_events  # noqa: E402

HEARTBEAT_SECONDS = 15.0

get_client = per_process_client(make_client)


@require_GET
def stream_view(request: HttpRequest) -> HttpResponse:
    prompt = request.GET.get("prompt", "").strip()
    if not prompt:
        return HttpResponseBadRequest("prompt is required\n", content_type="text/plain")
    response = StreamingHttpResponse(
        turn_events(get_client, prompt, request.GET.get("thread_id") or None, HEARTBEAT_SECONDS), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>codex_sync · Django stream</title>
<style>body{font:15px system-ui,sans-serif;max-width:50rem;margin:2rem auto}
li{margin:.4rem 0}pre{white-space:pre-wrap;margin:0}b{text-transform:uppercase;font-size:.8rem}</style>
</head><body>
<h1>codex_sync · Django stream</h1>
<form id="ask"><input id="prompt" size="60" placeholder="Ask codex…"> <button>Send</button></form>
<p id="status">idle</p><ol id="steps"></ol>
<script>
const steps = document.getElementById("steps"), status = document.getElementById("status");
let threadId = null;
function add(type, text) {
  const li = document.createElement("li"), b = document.createElement("b"), pre = document.createElement("pre");
  b.textContent = type; pre.textContent = text; li.append(b, pre); steps.append(li);
}
function ask(prompt) {
  let url = "stream?prompt=" + encodeURIComponent(prompt);
  if (threadId) url += "&thread_id=" + encodeURIComponent(threadId);
  status.textContent = "running…";
  const source = new EventSource(url);
  source.addEventListener("turn", (e) => { threadId = JSON.parse(e.data).thread_id; });
  source.onmessage = (e) => { const s = JSON.parse(e.data); add(s.step_type, s.text + (s.output ? "\\n" + s.output : "")); };
  source.addEventListener("codex-error", (e) => add("error", JSON.parse(e.data).error));
  source.addEventListener("done", (e) => { source.close(); status.textContent = "done: " + JSON.parse(e.data).steps + " steps"; });
  source.onerror = () => { source.close(); status.textContent = "connection lost"; };
}
document.getElementById("ask").addEventListener("submit", (e) => {
  e.preventDefault(); const input = document.getElementById("prompt");
  if (input.value.trim()) { ask(input.value.trim()); input.value = ""; }
});
const initial = new URLSearchParams(location.search).get("prompt");
if (initial) ask(initial);
</script></body></html>
"""

urlpatterns = [
    path("", index),
    path("stream", stream_view),
]


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
