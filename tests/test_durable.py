"""Durable turns: a turn outlives the process that started it and is followed from another process.

Each test runs the turn in a child Python process, takes the continuation as
JSON after the first step, SIGKILLs the child mid-turn, and resumes the token
in a new process with a fresh client. The steps before the token plus the
steps the new process yields must be the turn's items, each once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from codex_sync import CodexClient
from codex_sync.testing import AppServer, ScriptedModel, exec_command, text

pytestmark = pytest.mark.real_server

STARTER = textwrap.dedent("""
    import json, sys, time
    from codex_sync import CodexClient
    target = json.loads(sys.argv[1])
    if "unix" in target:
        client = CodexClient.connect_unix(target["unix"], **target["options"])
    else:
        client = CodexClient.connect_websocket(target["url"], token=target["token"], **target["options"])
    client.start()
    stream = client.chat(target["prompt"], inactivity_timeout=120)
    first = next(stream)
    print(json.dumps({"token": stream.continuation.to_json(), "before": [first.item_id]}), flush=True)
    time.sleep(120)  # killed here, mid-turn
""")

FOLLOWER = textwrap.dedent("""
    import json, sys
    from codex_sync import ChatContinuation, CodexClient, approve_all
    target = json.loads(sys.argv[1])
    options = dict(target["options"], approval_handler=approve_all)
    if "unix" in target:
        client = CodexClient.connect_unix(target["unix"], **options)
    else:
        client = CodexClient.connect_websocket(target["url"], token=target["token"], **options)
    with client:
        continuation = ChatContinuation.from_json(sys.stdin.read())
        steps = [(s.step_type, s.item_id) for s in client.chat(continuation=continuation, inactivity_timeout=120)]
    print(json.dumps(steps), flush=True)
""")


def _run_durable(target: Dict[str, Any], tmp_path: Path) -> Dict[str, Any]:
    """Start the turn in one process, kill it, follow the turn from another; return what each saw."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    starter = subprocess.Popen([sys.executable, "-c", STARTER, json.dumps(target)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = starter.stdout.readline() if starter.stdout else ""
        assert line, starter.stderr.read() if starter.stderr else "no output"
        handed = json.loads(line)
        time.sleep(0.5)  # a little more of the turn happens while nobody watches
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait(10)
    follower = subprocess.run([sys.executable, "-c", FOLLOWER, json.dumps(target)], env=env, input=handed["token"],
                              capture_output=True, text=True, timeout=180)
    assert follower.returncode == 0, follower.stderr[-3000:]
    after = [tuple(step) for step in json.loads(follower.stdout.strip().splitlines()[-1])]
    return {"token": json.loads(handed["token"]), "before": handed["before"], "after": after}


def _turn_items(client: CodexClient, thread_id: str, turn_id: str) -> List[str]:
    page = client.request("thread/turns/list", {"threadId": thread_id, "itemsView": "full", "limit": 5})
    turn = next(t for t in page["data"] if t["id"] == turn_id)
    assert turn["status"] == "completed", turn["status"]
    return [item["id"] for item in turn["items"]]


def _slow_turn(model: ScriptedModel) -> None:
    model.on("several slow steps", exec_command("sleep 0.6; echo one"), exec_command("sleep 0.6; echo two"),
             exec_command("sleep 0.6; echo three"), text("all three done"))


@pytest.fixture
def ws_server(scripted_model: ScriptedModel) -> Iterator[AppServer]:
    with AppServer(scripted_model, transport="websocket") as server:
        yield server


def _check(seen: Dict[str, Any], client: CodexClient) -> List[str]:
    token = seen["token"]
    items = _turn_items(client, token["thread_id"], token["turn_id"])
    delivered = seen["before"] + [item_id for kind, item_id in seen["after"] if kind != "approval"]
    assert delivered == items  # every item once, in order, none twice
    return items


def test_a_turn_survives_its_process_and_is_followed_from_another(
    ws_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    _slow_turn(scripted_model)
    target = {"url": ws_server.url, "token": ws_server.token, "prompt": "several slow steps please", "options": {}}
    seen = _run_durable(target, tmp_path)
    assert seen["token"]["seen_items"] == seen["before"]
    with ws_server.client() as client:
        items = _check(seen, client)
    assert len(items) >= 5 and seen["after"][-1][0] == "codex"


@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
def test_a_pending_approval_is_answered_by_the_process_that_follows(
    scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target_file = tmp_path / "approved.txt"
    scripted_model.on("needs approval", exec_command("sleep 0.3; echo first"),
                      exec_command(f"touch {target_file}", escalated=True, justification="May I?"),
                      text("approved and done"))
    with AppServer(scripted_model, transport="websocket", approval_policy="on-request",
                   sandbox_mode="workspace-write") as server:
        target = {"url": server.url, "token": server.token, "prompt": "needs approval please",
                  "options": {"approval_mode": "manual"}}  # the starter leaves the approval pending
        seen = _run_durable(target, tmp_path)
        assert any(kind == "approval" for kind, _ in seen["after"]) or target_file.exists()
        with server.client() as client:
            _check(seen, client)
    assert target_file.exists()  # the follower's approve_all answered the re-sent request


def test_a_turn_followed_over_a_unix_socket(scripted_model: ScriptedModel, tmp_path: Path) -> None:
    _slow_turn(scripted_model)
    socket_path = tmp_path / "codex.sock"
    with AppServer(scripted_model, transport="stdio") as prepared:
        server = subprocess.Popen([*prepared.command, "--listen", f"unix://{socket_path}"],
                                  env={**os.environ, **prepared.env}, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not socket_path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            target = {"unix": str(socket_path), "prompt": "several slow steps please", "options": {}}
            seen = _run_durable(target, tmp_path)
            with CodexClient.connect_unix(str(socket_path)) as client:
                _check(seen, client)
        finally:
            server.kill()
            server.wait(10)


def test_a_token_that_is_not_one_says_so() -> None:
    from codex_sync import ChatContinuation

    for bad in ("", "{}", '{"v": 1, "thread_id": "T"}', '{"v": 1, "thread_id": "T", "turn_id": "U", "cursor": -1}'):
        with pytest.raises(ValueError, match="continuation token|not JSON"):
            ChatContinuation.from_json(bad)
    token = ChatContinuation("T", "U", 3, "stream", ("a", "b")).to_json()
    assert ChatContinuation.from_json(token) == ChatContinuation("T", "U", 3, "stream", ("a", "b"))
