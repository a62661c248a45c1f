"""A stand-in app-server on stdio that misbehaves on command (for fault tests).

Run as ``python stand_in_server.py MODE [ARG]``. It speaks just enough of the
protocol (initialize, thread/start, thread/read, turn/start, turn/interrupt,
thread/list) for the client's conversation API, and in each MODE does one
thing no real server does on purpose:

- ``normal``: a plain turn answering "stand-in answer".
- ``garbage``: the turn is preceded by junk lines (non-JSON, blank, array,
  invalid UTF-8, reply to an unknown id, notification of an unknown turn).
- ``huge N``: the answer is N bytes long (one line of N+ bytes).
- ``stderr_flood N``: writes N bytes to stderr before answering initialize.
- ``crash_mid_turn``: exits with code 3 after ``turn/started``.
- ``crash_on METHOD``: exits with code 4 on receiving METHOD (mid-request).
- ``silent_turn``: starts the turn, then says nothing more.
- ``silent METHOD``: never answers METHOD.
- ``overload N``: answers the first N ``thread/list`` with -32001.
- ``unknown_request``: mid-turn, sends a server request of an unknown method
  and puts the client's error code into the answer text.
- ``no_item_completed``: the agentMessage never completes; thread/read has it.
- ``slow_reader``: reads its stdin 64 KiB at a time, 20 ms apart, so a big
  request takes a while to go out; ``thread/list`` reports ``badLines``, the
  number of lines that were not JSON (a message cut in half).
- ``startup_race FILE``: the first run (no FILE yet) dies at once the way codex
  0.163 does when two servers initialize one CODEX_HOME; later runs are normal.
- ``slow_initialize SECONDS``: answers ``initialize`` after SECONDS.
- ``refuse_first_turn SECONDS``: answers the first ``turn/start`` after SECONDS
  with -32602 (as codex does for an input over its limit); later turns are normal.
- ``complete_before_reply``: a ``turn/start`` fails at once: ``turn/completed``
  (failed, no ``turn/started``) goes out before the reply.
- ``stubborn``: ignores stdin EOF and SIGTERM (only SIGKILL ends it).
- ``spawn_detached FILE``: starts ``sleep 60`` in a session of its own that
  inherits stdout and stderr (as a daemonised tool would), writes its pid to
  FILE, and never answers ``thread/list``.

Like the real server, a second ``initialize`` is refused ("Already initialized").
"""

from __future__ import annotations

import json
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "normal"
ARG = sys.argv[2] if len(sys.argv) > 2 else ""
OUT = sys.stdout.buffer
THREAD = "thread-1"
_turns = 0
_overloads = 0
_last_text = "stand-in answer"


def send(obj: object) -> None:
    OUT.write(json.dumps(obj).encode() + b"\n")
    OUT.flush()


def raw(data: bytes) -> None:
    OUT.write(data)
    OUT.flush()


def notify(method: str, params: dict) -> None:
    send({"method": method, "params": params, "emittedAtMs": int(time.time() * 1000)})


_bad_lines = 0
_pending = b""


def read_line() -> bytes:
    global _pending
    if MODE != "slow_reader":
        return sys.stdin.buffer.readline()
    while b"\n" not in _pending:
        chunk = sys.stdin.buffer.read1(65536)
        if not chunk:
            return b""
        _pending += chunk
        time.sleep(0.02)
    line, _pending = _pending.split(b"\n", 1)
    return line + b"\n"


def read_message() -> dict:
    global _bad_lines
    while True:
        line = read_line()
        if not line:
            while MODE == "stubborn":  # stdin EOF does not end it
                time.sleep(60)
            sys.exit(0)
        try:
            return json.loads(line)
        except ValueError:
            _bad_lines += 1
            continue


def agent_item(item_id: str, text: str) -> dict:
    return {"type": "agentMessage", "id": item_id, "text": text, "phase": None}


def run_turn(turn_id: str, text: str) -> None:
    notify("turn/started", {"threadId": THREAD, "turn": {"id": turn_id, "status": "inProgress", "items": []}})
    if MODE == "crash_mid_turn":
        sys.stderr.write("stand-in: crashing mid-turn\n")
        sys.stderr.flush()
        sys.exit(3)
    if MODE == "silent_turn":
        return
    if MODE == "garbage":
        raw(b"this is not json\n")
        raw(b"\n")
        raw(b"   \n")
        raw(b"[1, 2, 3]\n")
        raw(b'{"method": "item/agentMessage/delta", "params": {"threadId": "\xff\xfe"}}\n')
        send({"id": 99999, "result": {}})
        notify("item/completed", {"threadId": "no-such-thread", "turnId": "x", "item": agent_item("z", "wrong")})
        notify("item/completed", {"threadId": THREAD, "turnId": "other-turn", "item": agent_item("y", "wrong")})
        raw(b'{"id": "no-method-no-result"}\n')
    if MODE == "unknown_request":
        send({"id": 0, "method": "future/unknownRequest", "params": {"threadId": THREAD, "turnId": turn_id}})
        while True:
            reply = read_message()
            if reply.get("id") == 0 and "method" not in reply:
                break
        code = (reply.get("error") or {}).get("code")
        text = f"client answered with error {code}"
    item_id = f"msg-{turn_id}"
    notify("item/started", {"threadId": THREAD, "turnId": turn_id, "item": agent_item(item_id, "")})
    notify("item/agentMessage/delta", {"threadId": THREAD, "turnId": turn_id, "itemId": item_id, "delta": text[:10]})
    if MODE != "no_item_completed":
        notify("item/completed", {"threadId": THREAD, "turnId": turn_id, "item": agent_item(item_id, text)})
    notify("turn/completed", {"threadId": THREAD, "turn": {"id": turn_id, "status": "completed", "items": [], "error": None}})


def main() -> None:
    global _turns, _overloads, _last_text
    initialized = False
    if MODE == "spawn_detached":
        import subprocess

        stray = subprocess.Popen(["sleep", "60"], start_new_session=True)  # inherits our stdout/stderr
        with open(ARG, "w") as f:
            f.write(str(stray.pid))
    if MODE == "stubborn":
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if MODE == "startup_race":
        import os

        if not os.path.exists(ARG):
            open(ARG, "w").close()
            sys.stderr.write("Error: failed to initialize sqlite state runtime under /x: database is locked\n")
            sys.exit(1)
    while True:
        msg = read_message()
        method, msg_id = msg.get("method"), msg.get("id")
        if msg_id is None:
            continue  # a notification (initialized)
        if MODE == "crash_on" and method == ARG:
            sys.stderr.write(f"stand-in: crashing on {method}\n")
            sys.stderr.flush()
            sys.exit(4)
        if (MODE == "silent" and method == ARG) or (MODE == "spawn_detached" and method == "thread/list"):
            continue
        if method == "initialize" and initialized:
            send({"id": msg_id, "error": {"code": -32600, "message": "Already initialized"}})
        elif method == "initialize":
            initialized = True
            if MODE == "slow_initialize":
                time.sleep(float(ARG))
            if MODE == "stderr_flood":
                chunk = b"x" * 1023 + b"\n"
                for _ in range(int(ARG) // 1024):
                    sys.stderr.buffer.write(chunk)
                sys.stderr.flush()
            send({"id": msg_id, "result": {"userAgent": "stand-in/0.0.1 (test)", "codexHome": "/nonexistent",
                                           "platformFamily": "unix", "platformOs": "linux"}})
        elif method == "thread/start" or method == "thread/resume":
            send({"id": msg_id, "result": {"thread": {"id": THREAD, "turns": []}}})
        elif method == "thread/list":
            if MODE == "overload" and _overloads < int(ARG):
                _overloads += 1
                send({"id": msg_id, "error": {"code": -32001, "message": "Server overloaded; retry later."}})
            else:
                send({"id": msg_id, "result": {"data": [], "nextCursor": None, "overloadsSent": _overloads,
                                               "badLines": _bad_lines}})
        elif method == "thread/read":
            turn = {"id": f"turn-{_turns}", "status": "completed",
                    "items": [agent_item("read-item", "answer from thread/read")]}
            send({"id": msg_id, "result": {"thread": {"id": THREAD, "turns": [turn]}}})
        elif method == "turn/start" and MODE == "refuse_first_turn" and _turns == 0:
            _turns += 1
            time.sleep(float(ARG))
            send({"id": msg_id, "error": {"code": -32602, "message": "input exceeds the maximum length"}})
        elif method == "turn/start" and MODE == "complete_before_reply":
            _turns += 1
            turn_id = f"turn-{_turns}"
            notify("turn/completed", {"threadId": THREAD, "turn": {
                "id": turn_id, "status": "failed", "items": [], "error": {"message": "model refused at once"}}})
            send({"id": msg_id, "result": {"turn": {"id": turn_id, "status": "inProgress", "items": []}}})
        elif method == "turn/start":
            _turns += 1
            turn_id = f"turn-{_turns}"
            send({"id": msg_id, "result": {"turn": {"id": turn_id, "status": "inProgress", "items": []}}})
            text = "stand-in answer"
            if MODE == "huge":
                text = "h" * int(ARG)
            run_turn(turn_id, text)
        elif method == "turn/interrupt":
            send({"id": msg_id, "result": {}})
            params = msg.get("params") or {}
            notify("turn/completed", {"threadId": THREAD, "turn": {"id": params.get("turnId"), "status": "interrupted",
                                                                    "items": [], "error": None}})
        else:
            send({"id": msg_id, "error": {"code": -32600, "message": f"unknown variant `{method}`"}})


if __name__ == "__main__":
    main()
