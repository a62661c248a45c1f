"""Tests of codex_sync.testing against the REAL codex binary, with raw JSON-RPC.

Independent of the core client: a tiny helper below writes JSON-RPC lines to
``codex app-server`` (stdio) or text frames (websocket) and reads replies on a
thread into a queue, every read bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

import pytest

from codex_sync.testing import (
    AppServer,
    ModelRequest,
    Reply,
    ScriptedModel,
    apply_patch,
    echo,
    exec_command,
    failed,
    hang,
    http_error,
    reasoning,
    request_user_input,
    text,
    truncated,
    write_codex_home,
)

pytestmark = pytest.mark.real_server

Message = Dict[str, Any]
TIMEOUT = 30.0


class Raw:
    """A bare JSON-RPC peer of codex app-server (stdio or websocket)."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[Optional[Message]] = queue.Queue()
        self.seen: List[Message] = []
        self._next_id = 100

    # transport hooks
    def send_text(self, data: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def send(self, message: Message) -> None:
        self.send_text(json.dumps(message))

    def recv(self, timeout: float = TIMEOUT) -> Message:
        try:
            message = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout:.0f} s; seen: {self.tail()}") from None
        if message is None:
            raise AssertionError(f"connection closed; seen: {self.tail()}")
        self.seen.append(message)
        return message

    def tail(self) -> str:
        return "\n".join(json.dumps(m)[:300] for m in self.seen[-8:])

    def read_until(self, pred: Callable[[Message], bool], timeout: float = TIMEOUT) -> List[Message]:
        deadline = time.monotonic() + timeout
        out: List[Message] = []
        while True:
            message = self.recv(max(0.01, deadline - time.monotonic()))
            out.append(message)
            if pred(message):
                return out

    def request(self, method: str, params: Message, timeout: float = TIMEOUT) -> Message:
        self._next_id += 1
        rid = self._next_id
        self.send({"id": rid, "method": method, "params": params})
        reply = self.read_until(lambda m: m.get("id") == rid and "method" not in m, timeout)[-1]
        assert "error" not in reply, reply
        result: Message = reply["result"]
        return result

    def initialize(self) -> Message:
        result = self.request("initialize", {"clientInfo": {"name": "rig_test", "version": "0.0.1"}})
        self.send({"method": "initialized"})
        return result

    def start_thread(self, **params: Any) -> str:
        thread_id: str = self.request("thread/start", params)["thread"]["id"]
        return thread_id

    def turn(self, thread_id: str, prompt: str, timeout: float = TIMEOUT) -> Turn:
        self.request("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": prompt}]})
        return Turn(self.read_until(lambda m: m.get("method") == "turn/completed", timeout))


class StdioRaw(Raw):
    def __init__(self, server: AppServer, cwd: Path) -> None:
        super().__init__()
        env = dict(os.environ)
        env.update(server.env)
        self.stderr: Deque[str] = deque(maxlen=200)
        self.proc = subprocess.Popen(
            server.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(cwd),
            start_new_session=True,
        )
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._drain, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.inbox.put(json.loads(line))
        self.inbox.put(None)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in iter(self.proc.stderr.readline, b""):
            self.stderr.append(line.decode("utf-8", "replace"))

    def send_text(self, data: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


class WebSocketRaw(Raw):
    def __init__(self, url: str, token: str) -> None:
        super().__init__()
        import websocket

        self.ws = websocket.create_connection(
            url, header=["Authorization: Bearer " + token], suppress_origin=True, timeout=10
        )
        self.ws.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                data = self.ws.recv()
                if not data:
                    break
                self.inbox.put(json.loads(data))
        except Exception:
            pass
        self.inbox.put(None)

    def send_text(self, data: str) -> None:
        self.ws.send(data)

    def close(self) -> None:
        self.ws.close(timeout=2)


class Turn:
    """The messages of one turn, from the turn/start response to turn/completed."""

    def __init__(self, messages: List[Message]) -> None:
        self.messages = messages
        self.completed = messages[-1]["params"]["turn"]

    @property
    def status(self) -> str:
        status: str = self.completed["status"]
        return status

    def notes(self, method: str) -> List[Message]:
        return [m["params"] for m in self.messages if m.get("method") == method]

    def items(self, kind: Optional[str] = None) -> List[Message]:
        items = [p["item"] for p in self.notes("item/completed")]
        return [i for i in items if kind is None or i["type"] == kind]

    def agent_text(self) -> str:
        return "\n".join(i["text"] for i in self.items("agentMessage"))

    def deltas(self) -> List[str]:
        return [p["delta"] for p in self.notes("item/agentMessage/delta")]

    def error_message(self) -> str:
        message: str = self.completed["error"]["message"]
        return message


@pytest.fixture
def raw(stdio_app_server: AppServer, tmp_path: Path) -> Iterator[Raw]:
    work = tmp_path / "work"
    work.mkdir()
    client = StdioRaw(stdio_app_server, work)
    try:
        client.initialize()
        yield client
    finally:
        client.close()


# ---------------------------------------------------------------- replies


def test_text_with_deltas(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.add(text("Hello world", deltas=["Hel", "lo ", "world"], usage=(11, 3)))
    thread_id = raw.start_thread()
    turn = raw.turn(thread_id, "say hello")
    assert turn.status == "completed"
    assert turn.agent_text() == "Hello world"
    assert turn.deltas() == ["Hel", "lo ", "world"]
    usage = turn.notes("thread/tokenUsage/updated")[-1]["tokenUsage"]["last"]
    assert (usage["inputTokens"], usage["outputTokens"]) == (11, 3)
    (request,) = scripted_model.requests
    assert request.last_user_text == "say hello"
    assert request.model == "mock-model"


def test_default_deltas_and_ids(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.add(text("abcdefghi"), text("second"))
    thread_id = raw.start_thread()
    first = raw.turn(thread_id, "one")
    second = raw.turn(thread_id, "two")
    assert "".join(first.deltas()) == "abcdefghi" and len(first.deltas()) == 3
    ids = [t.items("agentMessage")[0]["id"] for t in (first, second)]
    assert ids == ["msg_1", "msg_2"]


def test_reasoning_item(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.add(text("answer", reasoning=reasoning("Thinking hard.", "raw thoughts")))
    scripted_model.add(text("again", reasoning=("short", "")))
    thread_id = raw.start_thread()
    turn = raw.turn(thread_id, "think")
    (item,) = turn.items("reasoning")
    assert item["summary"] == ["Thinking hard."]
    assert item["content"] == ["raw thoughts"]
    assert turn.notes("item/reasoning/summaryTextDelta")
    assert turn.agent_text() == "answer"
    second = raw.turn(thread_id, "think again")
    assert second.items("reasoning")[0]["summary"] == ["short"]


def test_exec_command_is_one_turn(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.on("run it", exec_command("echo hi-from-exec", call_id="call_x"), text("done"))
    thread_id = raw.start_thread()
    turn = raw.turn(thread_id, "please run it")
    assert turn.status == "completed"
    (command,) = turn.items("commandExecution")
    assert command["id"] == "call_x"
    assert "echo hi-from-exec" in command["command"]
    assert command["exitCode"] == 0
    assert "hi-from-exec" in command["aggregatedOutput"]
    assert turn.agent_text() == "done"
    assert len(turn.notes("turn/started")) == 1
    first, second = scripted_model.requests
    assert second.last_user_text == first.last_user_text == "please run it"
    (output,) = second.function_call_outputs
    assert output["call_id"] == "call_x" and "hi-from-exec" in output["output"]
    assert second.function_calls[0]["name"] == "exec_command"
    assert scripted_model.pending == 0


def test_apply_patch_makes_file_change(raw: Raw, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    target = tmp_path / "work" / "new.txt"
    scripted_model.on("edit", apply_patch(str(target), "hello\nworld"), text("edited"))
    thread_id = raw.start_thread()
    turn = raw.turn(thread_id, "edit a file")
    assert turn.status == "completed"
    (change,) = turn.items("fileChange")
    assert change["status"] == "completed"
    assert change["changes"][0]["path"] == str(target)
    assert change["changes"][0]["kind"]["type"] == "add"
    assert target.read_text() == "hello\nworld\n"
    assert turn.agent_text() == "edited"


def _is_server_request(message: Message) -> bool:
    return "method" in message and "id" in message


def _start_turn(raw: Raw, thread_id: str, prompt: str, **params: Any) -> str:
    params.update(threadId=thread_id, input=[{"type": "text", "text": prompt}])
    turn_id: str = raw.request("turn/start", params)["turn"]["id"]
    return turn_id


@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
def test_escalated_exec_asks_approval(raw: Raw, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    scripted_model.on(
        "touch",
        exec_command(f"touch {target}", escalated=True, justification="Need it?"),
        text("touched"),
    )
    thread_id = raw.start_thread()
    _start_turn(raw, thread_id, "touch a file")
    ask = raw.read_until(_is_server_request)[-1]
    assert ask["method"] == "item/commandExecution/requestApproval"
    assert ask["params"]["reason"] == "Need it?"
    raw.send({"id": ask["id"], "result": {"decision": "accept"}})
    turn = Turn(raw.read_until(lambda m: m.get("method") == "turn/completed"))
    assert turn.status == "completed"
    assert turn.items("commandExecution")[0]["status"] == "completed"
    assert target.exists()
    assert turn.agent_text() == "touched"


@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="read-only")
def test_apply_patch_asks_file_approval(raw: Raw, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    target = tmp_path / "work" / "declined.txt"
    scripted_model.on("patch", apply_patch(str(target), "no"), text("ok, not written"))
    thread_id = raw.start_thread()
    _start_turn(raw, thread_id, "patch it")
    ask = raw.read_until(_is_server_request)[-1]
    assert ask["method"] == "item/fileChange/requestApproval"
    raw.send({"id": ask["id"], "result": {"decision": "decline"}})
    turn = Turn(raw.read_until(lambda m: m.get("method") == "turn/completed"))
    assert turn.items("fileChange")[0]["status"] == "declined"
    assert not target.exists()
    assert "rejected" in str(scripted_model.requests[-1].function_call_outputs[-1]["output"])


def test_request_user_input_in_plan_mode(
    stdio_app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    question = {
        "id": "confirm_path",
        "header": "Confirm",
        "question": "Proceed?",
        "options": [
            {"label": "Yes (Recommended)", "description": "go on"},
            {"label": "No", "description": "stop"},
        ],
    }
    scripted_model.on("plan", request_user_input([question]), text("planned"))
    client = StdioRaw(stdio_app_server, tmp_path)
    try:
        client.request(
            "initialize",
            {
                "clientInfo": {"name": "rig_test", "version": "0.0.1"},
                "capabilities": {"experimentalApi": True},
            },
        )
        thread_id = client.start_thread()
        mode = {
            "mode": "plan",
            "settings": {"model": "mock-model", "reasoning_effort": None, "developer_instructions": None},
        }
        _start_turn(client, thread_id, "make a plan", collaborationMode=mode)
        ask = client.read_until(_is_server_request)[-1]
        assert ask["method"] == "item/tool/requestUserInput"
        assert ask["params"]["questions"][0]["id"] == "confirm_path"
        answer = {"answers": {"confirm_path": {"answers": ["Yes (Recommended)"]}}}
        client.send({"id": ask["id"], "result": answer})
        turn = Turn(client.read_until(lambda m: m.get("method") == "turn/completed"))
        assert turn.status == "completed"
        output = scripted_model.requests[-1].function_call_outputs[-1]["output"]
        assert json.loads(output) == answer
    finally:
        client.close()


# ---------------------------------------------------------------- script


def test_keyed_script_and_echo_fallback(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.on("alpha", text("A1"), text("A2"))
    scripted_model.add(text("global"))
    thread_id = raw.start_thread()
    assert raw.turn(thread_id, "beta").agent_text() == "global"
    assert raw.turn(thread_id, "alpha one").agent_text() == "A1"
    assert raw.turn(thread_id, "gamma").agent_text() == "echo: gamma"
    assert raw.turn(thread_id, "alpha two").agent_text() == "A2"
    assert raw.turn(thread_id, "alpha three").agent_text() == "echo: alpha three"
    texts = [r.last_user_text for r in scripted_model.requests]
    assert texts == ["beta", "alpha one", "gamma", "alpha two", "alpha three"]
    # Each request resends the history: all user texts so far, context skipped.
    assert scripted_model.requests[-1].user_texts == tuple(texts)


def test_instructions_in_request(raw: Raw, scripted_model: ScriptedModel) -> None:
    thread_id = raw.start_thread(baseInstructions="BASE-X", developerInstructions="DEV-Y")
    raw.turn(thread_id, "hi")
    (request,) = scripted_model.requests
    assert request.instructions is None
    assert request.developer_texts[0] == "BASE-X"
    assert "DEV-Y" in request.developer_texts
    roles = [i.get("role") for i in request.input if i.get("type") == "message"]
    assert roles.count("user") >= 2  # the environment context, then the prompt
    assert request.last_user_text == "hi"


def test_callable_fallback(raw: Raw, scripted_model: ScriptedModel) -> None:
    def answer(request: ModelRequest) -> Reply:
        return text(request.last_user_text.upper())

    scripted_model.fallback = answer
    thread_id = raw.start_thread()
    assert raw.turn(thread_id, "shout").agent_text() == "SHOUT"
    scripted_model.fallback = echo(prefix="> ")
    assert raw.turn(thread_id, "quiet").agent_text() == "> quiet"


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize(
    "reply, message",
    [
        (http_error(500), "high demand"),
        (http_error(400, "bad request body"), "bad request body"),
        (failed("model exploded"), "model exploded"),
        (truncated("par"), "stream closed before response.completed"),
    ],
    ids=["http500", "http400", "failed", "truncated"],
)
def test_failures_fail_the_turn(raw: Raw, scripted_model: ScriptedModel, reply: Any, message: str) -> None:
    scripted_model.add(reply)
    thread_id = raw.start_thread()
    turn = raw.turn(thread_id, "break")
    assert turn.status == "failed"
    assert message in turn.error_message()
    assert any(message in n["error"]["message"] for n in turn.notes("error"))
    # The thread still works afterwards.
    assert raw.turn(thread_id, "again").agent_text() == "echo: again"


def test_slow_reply_completes(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.add(text("slow answer", deltas=["slow ", "answer"], delay=0.25))
    thread_id = raw.start_thread()
    started = time.monotonic()
    turn = raw.turn(thread_id, "slowly")
    assert turn.status == "completed"
    assert turn.agent_text() == "slow answer"
    assert time.monotonic() - started >= 1.2  # five gaps of 0.25 s


def test_hang_then_interrupt(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.add(hang(30))
    thread_id = raw.start_thread()
    turn_id = raw.request("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "wait"}]})[
        "turn"
    ]["id"]
    scripted_model.wait_for_requests(1, timeout=10)
    raw.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id})
    done = raw.read_until(lambda m: m.get("method") == "turn/completed", 10)
    assert done[-1]["params"]["turn"]["status"] == "interrupted"


def test_hang_ends_with_late_text(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.add(hang(0.5))
    thread_id = raw.start_thread()
    assert raw.turn(thread_id, "wait").agent_text() == "late"


def test_close_does_not_hang_on_slow_reply() -> None:
    model = ScriptedModel().start()
    model.add(hang(60))
    import http.client

    host, port = model.url[len("http://") :].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/v1/responses", body=json.dumps({"input": []}))
    response = conn.getresponse()
    assert response.status == 200
    model.wait_for_requests(1, timeout=5)
    started = time.monotonic()
    model.close()
    model.close()
    assert time.monotonic() - started < 3
    conn.close()


def test_model_404_and_bad_body() -> None:
    with ScriptedModel() as model:
        base = model.url
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(base + "/models", timeout=5)
        assert info.value.code == 404
        info.value.close()
        bad = urllib.request.Request(base + "/responses", data=b"not json", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=5)
        assert info.value.code == 400
        info.value.close()
        assert model.errors and model.requests == []
        with pytest.raises(TimeoutError):
            model.wait_for_requests(1, timeout=0.1)


# ---------------------------------------------------------------- launcher


def test_codex_home_config(tmp_path: Path) -> None:
    home = write_codex_home(
        tmp_path / "h",
        "http://127.0.0.1:1/v1",
        approval_policy="on-request",
        sandbox_mode="workspace-write",
        extra_config='model_reasoning_effort = "low"',
        provider_config={"stream_idle_timeout_ms": 1500},
    )
    config = (home / "config.toml").read_text()
    assert 'approval_policy = "on-request"' in config
    assert "stream_idle_timeout_ms = 1500" in config
    assert config.index("model_reasoning_effort") < config.index("[features]")
    with pytest.raises(ValueError):
        write_codex_home(tmp_path / "x", "http://x/v1", extra_config="[features]\nfoo = true")
    with pytest.raises(ValueError):
        write_codex_home(tmp_path / "y", "http://x/v1", approval_policy="untrusted")


def test_stdio_env_isolated(stdio_app_server: AppServer, tmp_path: Path) -> None:
    env = stdio_app_server.env
    assert Path(env["CODEX_HOME"]) == stdio_app_server.codex_home
    assert env["HOME"] != os.environ.get("HOME")
    assert (stdio_app_server.codex_home / "config.toml").is_file()
    with pytest.raises(RuntimeError):
        _ = stdio_app_server.url


def test_one_turn_on_each_transport(
    request: pytest.FixtureRequest, app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    assert request.node.name.endswith(f"[{app_server.transport}]")
    client: Raw
    if app_server.transport == "websocket":
        assert app_server.url.startswith("ws://127.0.0.1:")
        urllib.request.urlopen(app_server.url.replace("ws://", "http://") + "/readyz", timeout=5).close()
        client = WebSocketRaw(app_server.url, app_server.token)
    else:
        client = StdioRaw(app_server, tmp_path)
    scripted_model.on("transport", text(f"over {app_server.transport}"))
    try:
        client.initialize()
        thread_id = client.start_thread()
        turn = client.turn(thread_id, "which transport?")
        assert turn.status == "completed"
        assert turn.agent_text() == f"over {app_server.transport}"
    finally:
        client.close()


def test_concurrent_turns_echo_their_prompts(raw: Raw, scripted_model: ScriptedModel) -> None:
    scripted_model.fallback = lambda request: text("echo: " + request.last_user_text, delay=0.1)
    threads = [raw.start_thread() for _ in range(3)]
    for index, thread_id in enumerate(threads):
        raw.request(
            "turn/start",
            {"threadId": thread_id, "input": [{"type": "text", "text": f"prompt {index}"}]},
        )
    answers: Dict[str, str] = {}
    deadline = time.monotonic() + TIMEOUT
    while len(answers) < 3:
        message = raw.recv(max(0.01, deadline - time.monotonic()))
        if message.get("method") == "item/completed" and message["params"]["item"]["type"] == "agentMessage":
            answers[message["params"]["threadId"]] = message["params"]["item"]["text"]
    assert [answers[t] for t in threads] == ["echo: prompt 0", "echo: prompt 1", "echo: prompt 2"]


def test_codex_home_factory(codex_home_factory: Callable[..., Path], scripted_model: ScriptedModel) -> None:
    first = codex_home_factory()
    second = codex_home_factory(approval_policy="on-request")
    assert first != second
    assert scripted_model.url in (first / "config.toml").read_text()
    assert 'approval_policy = "on-request"' in (second / "config.toml").read_text()


def test_websocket_wrong_token(websocket_app_server: AppServer) -> None:
    import websocket

    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(
            websocket_app_server.url,
            header=["Authorization: Bearer wrong"],
            suppress_origin=True,
            timeout=10,
        )
    assert info.value.status_code == 401


def test_websocket_close_kills_server(scripted_model: ScriptedModel) -> None:
    server = AppServer(scripted_model, transport="websocket").start()
    pid = server.pid
    root = server.codex_home.parent
    assert pid is not None and root.is_dir()
    server.close()
    server.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not root.exists()
