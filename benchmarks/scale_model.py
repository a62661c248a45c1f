"""The model side of the scale benchmarks: a scripted model with gated turns, in a process of its own.

Started by ``scale_worker.py`` (one per measurement) so that the fake model's
HTTP threads (one per open model request: 1,000 at 1,000 open turns) take
neither the client's GIL nor its memory. It runs
``codex_sync.testing.ScriptedModel`` and prepares a stdio ``AppServer`` home
(throw-away ``CODEX_HOME`` and ``HOME``), prints one JSON line
``{"command": [...], "env": {...}, "url": ...}`` and then answers JSON commands,
one per line on stdin, with one JSON line each on stdout.

A turn whose user text starts with ``gate:MARKER`` is **gated**: the model
sends ``response.created`` and waits; *release phase 1* sends a first
agentMessage ``first MARKER`` (codex emits its ``item/completed`` at once, and
the turn stays open); *release phase 2* sends ``answer MARKER`` and
``response.completed`` (the turn ends). Any other prompt gets the echo
fallback (``echo: <prompt>``) at once.

Commands (``op``):

- ``wait_arrived`` ``{"n", "timeout"}``: until ``n`` gated turns wait at gate 1;
  answers ``{"arrived": k, "ok": bool}``.
- ``release`` ``{"phase": 1|2, "markers": [...], "interval": s}``: opens the
  gates of ``markers`` in that order, one every ``interval`` seconds (0: all at
  once), on a thread of its own; answers at once.
- ``wait_released`` ``{"timeout"}``: until that release is done; answers
  ``{"released": k, "elapsed_s": s, "late_ms": [p50, max]}`` (how late each
  gate opened against its schedule).
- ``stats``: ``{"model_requests": n, "errors": [...]}``.
- ``quit``: stop the model, remove the home, exit.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

from codex_sync.testing import AppServer, ScriptedModel
from codex_sync.testing import response_events as ev
from codex_sync.testing.http_server import ModelHTTPServer
from codex_sync.testing.reply_base import Reply, ReplyStream, send_events

# socketserver's default listen backlog is 5: 1,000 model requests opened at
# once would see dropped SYNs and 1-3 s retransmits. A benchmark-only setting.
ModelHTTPServer.request_queue_size = 4096

GATE_PREFIX = "gate:"


class Gates:
    """Two events per marker, and how many gated turns wait at gate 1."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.gates: Dict[str, List[threading.Event]] = {}
        self.arrived = 0
        self.stopping = threading.Event()

    def get(self, marker: str) -> List[threading.Event]:
        with self.lock:
            pair = self.gates.get(marker)
            if pair is None:
                pair = self.gates[marker] = [threading.Event(), threading.Event()]
                if self.stopping.is_set():
                    for gate in pair:
                        gate.set()
            return pair

    def arrive(self) -> None:
        with self.lock:
            self.arrived += 1
            self.lock.notify_all()

    def leave(self) -> None:
        with self.lock:
            self.arrived -= 1
            self.lock.notify_all()

    def wait_for(self, gate: threading.Event) -> bool:
        # One wait, no slices: 1,000 waiting handler threads must not wake up the model process.
        # Stopping sets every gate (and gates made after that are born set).
        gate.wait()
        return not self.stopping.is_set()


GATES = Gates()


class GatedReply(Reply):
    """``response.created``; gate 1; ``first MARKER``; gate 2; ``answer MARKER`` + completed."""

    def write(self, stream: ReplyStream) -> None:
        marker = stream.request.last_user_text[len(GATE_PREFIX):].strip()
        first, second = GATES.get(marker)
        response_id = stream.new_id("resp")
        if not stream.event(ev.created(response_id)):
            return
        GATES.arrive()
        try:
            if not GATES.wait_for(first):
                return
        finally:
            GATES.leave()
        text = f"first {marker}"
        if not send_events(stream, ev.message_events(stream.new_id("msg"), text, [text])):
            return
        if not GATES.wait_for(second):
            return
        text = f"answer {marker}"
        send_events(stream, ev.message_events(stream.new_id("msg"), text, [text]) + [ev.completed(response_id)])


class EchoOrGate(Reply):
    """The fallback: gated for ``gate:`` prompts, else ``echo: <prompt>`` at once."""

    def write(self, stream: ReplyStream) -> None:
        prompt = stream.request.last_user_text
        if prompt.startswith(GATE_PREFIX):
            GatedReply().write(stream)
            return
        text = f"echo: {prompt}"
        response_id = stream.new_id("resp")
        send_events(stream, [ev.created(response_id), *ev.message_events(stream.new_id("msg"), text, [text]),
                             ev.completed(response_id)])


class Releaser:
    def __init__(self) -> None:
        self.thread: Optional[threading.Thread] = None
        self.result: Dict[str, Any] = {}

    def start(self, phase: int, markers: List[str], interval: float) -> None:
        self.result = {}
        self.thread = threading.Thread(target=self._run, args=(phase, markers, interval), daemon=True)
        self.thread.start()

    def _run(self, phase: int, markers: List[str], interval: float) -> None:
        started = time.perf_counter()
        late: List[float] = []
        for n, marker in enumerate(markers):
            if interval > 0:
                due = started + n * interval
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                late.append((time.perf_counter() - due) * 1000)
            GATES.get(marker)[phase - 1].set()
        late.sort()
        self.result = {
            "released": len(markers),
            "elapsed_s": time.perf_counter() - started,
            "late_ms": [late[len(late) // 2], late[-1]] if late else [0.0, 0.0],
        }

    def wait(self, timeout: float) -> Dict[str, Any]:
        if self.thread is not None:
            self.thread.join(timeout)
        return self.result


def main() -> None:
    model = ScriptedModel(fallback=EchoOrGate()).start()
    workdir = tempfile.mkdtemp(prefix="codex-sync-scale-cwd-")  # an empty folder: nothing for codex to scan
    # A gated turn is silent for minutes at 1,000 open turns: codex's SSE idle timeout must not end it.
    server = AppServer(model, cwd=workdir, provider_config={"stream_idle_timeout_ms": 3_600_000}).start()
    releaser = Releaser()

    def stop() -> None:
        with GATES.lock:
            GATES.stopping.set()
            pairs = list(GATES.gates.values())
        for pair in pairs:
            for gate in pair:
                gate.set()

    def clear_requests() -> None:  # the model keeps every request body: 10,000 turns would pile up
        while not GATES.stopping.wait(2.0):
            model.clear_requests()

    def orphan_watch(parent: int = os.getppid()) -> None:  # the worker died: do not wait for ever
        while not GATES.stopping.wait(1.0):
            if os.getppid() != parent:
                stop()
                server.close()
                model.close()
                os._exit(1)

    threading.Thread(target=clear_requests, daemon=True).start()
    threading.Thread(target=orphan_watch, daemon=True).start()
    out = sys.stdout
    out.write(json.dumps({"command": server.command, "env": server.env, "url": model.url, "cwd": workdir}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            op = cmd.get("op")
            reply: Dict[str, Any]
            if op == "wait_arrived":
                deadline = time.monotonic() + float(cmd.get("timeout", 600))
                with GATES.lock:
                    while GATES.arrived < cmd["n"] and time.monotonic() < deadline:
                        GATES.lock.wait(0.5)
                    reply = {"arrived": GATES.arrived, "ok": GATES.arrived >= cmd["n"]}
            elif op == "release":
                releaser.start(int(cmd["phase"]), [str(m) for m in cmd["markers"]], float(cmd.get("interval", 0)))
                reply = {"ok": True}
            elif op == "wait_released":
                reply = releaser.wait(float(cmd.get("timeout", 600)))
            elif op == "stats":
                reply = {"errors": model.errors[-5:], "cpu_s": time.process_time()}
            elif op == "quit":
                break
            else:
                reply = {"error": f"unknown op {op!r}"}
            out.write(json.dumps(reply) + "\n")
            out.flush()
    finally:
        stop()
        server.close()
        model.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
