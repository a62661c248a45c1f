"""Every example, run for real: a subprocess (or the web app in-process) against a
real ``codex app-server`` and the scripted model, over stdio and websocket."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

from codex_sync import CodexClient, per_process_client
from codex_sync.testing import AppServer, ScriptedModel, echo, exec_command, hang, reasoning, text

pytestmark = pytest.mark.real_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = "/usr/bin/chromium"
RUN_TIMEOUT = 60.0
# Examples that take --transport (the others are bound to one transport).
BOTH_TRANSPORTS = {
    "chat_steps_rich.py",
    "thread_config_and_fork.py",
    "thread_resume_by_id.py",
    "thread_concurrent_handles.py",
    "thread_ops_showcase.py",
}


def connection_args(name: str, server: AppServer) -> List[str]:
    """The flags pointing example ``name`` at ``server``."""
    args: List[str] = ["--transport", server.transport] if name in BOTH_TRANSPORTS else []
    if server.transport == "websocket":
        # "--token=...": a random token may start with "-", which argparse would take for a flag.
        return args + [f"--url={server.url}", f"--token={server.token}"]
    return args + ["--cmd", shlex.join(server.command)]


def run_example(
    name: str,
    server: Optional[AppServer],
    *args: str,
    cwd: Path,
    expect: int = 0,
    connect: bool = True,
    env: Optional[Dict[str, str]] = None,
) -> subprocess.CompletedProcess:
    """Run ``examples/<name>`` with ``args`` (and the connection flags); check its exit status."""
    full_env = dict(os.environ)
    for key in ("CODEX_APP_SERVER_CMD", "CODEX_APP_SERVER_WS_URL", "CODEX_APP_SERVER_TOKEN"):
        full_env.pop(key, None)
    if server is not None:
        full_env.update(server.env)  # CODEX_HOME, HOME, PATH for a stdio server
    full_env.update(env or {})
    argv = [sys.executable, str(EXAMPLES / name)]
    if connect and server is not None:
        argv += connection_args(name, server)
    argv += list(args)
    proc = subprocess.run(
        argv, cwd=str(cwd), env=full_env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert proc.returncode == expect, (
        f"{name} exited {proc.returncode}, expected {expect}\n"
        f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


def values(pattern: str, output: str) -> List[Any]:
    return re.findall(pattern, output, re.MULTILINE)


def request_for(model: ScriptedModel, prompt: str) -> Any:
    """The last model request whose newest user text is ``prompt``."""
    found = [r for r in model.requests if r.last_user_text == prompt]
    assert found, f"no model request for {prompt!r}: {[r.last_user_text for r in model.requests]}"
    return found[-1]


# ------------------------------------------------------------------ chat_steps_rich


def test_chat_steps_rich_streams_rich_steps(app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    scripted_model.on(
        "please check",
        exec_command("echo checked-ok"),
        text("All good.", reasoning=reasoning("Run a check first.")),
    )
    proc = run_example(
        "chat_steps_rich.py", app_server,
        "--prompt", "please check it", "--prompt", "second turn", "--show-data", cwd=tmp_path,
    )
    out = proc.stdout
    assert "[checkpoint] initialized: codex app-server" in out
    assert len(values(r"^\[checkpoint\] thread started: \S+$", out)) == 1
    assert "[exec] item_type=commandExecution" in out
    assert "/bin/bash -lc 'echo checked-ok'" in out
    assert "\nchecked-ok\n" in out  # the command's output
    assert '"exitCode": 0' in out  # --show-data
    assert "[thinking] item_type=reasoning" in out and "Run a check first." in out
    assert "[codex] item_type=agentMessage" in out and "All good." in out
    assert "echo: second turn" in out
    metas = values(r"^\[meta\] thread_id=(\S+) steps=(\d+)$", out)
    assert [steps for _, steps in metas] == ["4", "2"]
    assert metas[0][0] == metas[1][0]  # both turns on one thread
    assert request_for(scripted_model, "second turn").user_texts == ("please check it", "second turn")


def test_chat_steps_rich_resumes_an_inactive_turn(
    stdio_app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    scripted_model.on("slow", hang(2.0, then="late answer"))
    proc = run_example(
        "chat_steps_rich.py", stdio_app_server,
        "--prompt", "slow work", "--inactivity-timeout", "0.6", "--quiet", cwd=tmp_path,
    )
    assert proc.stdout == "late answer\n"  # --quiet: the final answer only
    assert "[warn] turn inactive for" in proc.stderr and "resuming the same turn" in proc.stderr


def test_chat_steps_rich_cancels_an_inactive_turn(
    websocket_app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    scripted_model.on("slow", hang(30.0, then="never shown"))
    started = time.monotonic()
    proc = run_example(
        "chat_steps_rich.py", websocket_app_server,
        "--prompt", "slow work", "--prompt", "next one",
        "--inactivity-timeout", "0.6", "--cancel-on-timeout", cwd=tmp_path,
    )
    assert time.monotonic() - started < 20
    assert "cancelling it" in proc.stderr
    assert re.search(r"\[meta\] cancelled turn_id=\S+ unread_steps=\d+ unread_events=\d+ interrupted=True", proc.stderr)
    assert "[checkpoint] turn cancelled:" in proc.stdout
    assert "never shown" not in proc.stdout
    assert "echo: next one" in proc.stdout  # the thread takes the next turn


# ------------------------------------------------------------------ chat sessions


def test_chat_session_stdio(stdio_app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    proc = run_example(
        "chat_session_stdio.py", stdio_app_server, "--prompt", "first words", "--prompt", "second words",
        cwd=tmp_path,
    )
    out = proc.stdout
    assert "[assistant:1] echo: first words" in out
    assert "[assistant:2] echo: second words" in out
    threads = values(r"^\[meta\] thread_id=(\S+) turn_id=(\S+)", out)
    assert len(threads) == 2 and threads[0][0] == threads[1][0] and threads[0][1] != threads[1][1]
    assert f"[checkpoint] thread started: {threads[0][0]}" in out
    assert request_for(scripted_model, "second words").user_texts == ("first words", "second words")
    quiet = run_example("chat_session_stdio.py", stdio_app_server, "--prompt", "hush", "--quiet", cwd=tmp_path)
    assert quiet.stdout == "echo: hush\n"


def test_chat_session_websocket_from_environment(
    websocket_app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    proc = run_example(
        "chat_session_websocket.py", websocket_app_server, "--prompt", "over the wire", "--prompt", "again",
        cwd=tmp_path, connect=False,
        env={
            "CODEX_APP_SERVER_WS_URL": websocket_app_server.url,
            "CODEX_APP_SERVER_TOKEN": websocket_app_server.token,
        },
    )
    assert f"[checkpoint] connected: {websocket_app_server.url}" in proc.stdout
    assert "[assistant:1] echo: over the wire" in proc.stdout
    assert "[assistant:2] echo: again" in proc.stdout


def test_chat_once_examples_resume_inactive_turns(
    stdio_app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    scripted_model.on("slow", hang(1.5, then="late but complete"))
    proc = run_example(
        "chat_session_stdio.py", stdio_app_server, "--prompt", "slow start", "--inactivity-timeout", "0.5",
        "--quiet", cwd=tmp_path,
    )
    assert proc.stdout == "late but complete\n"
    assert "[warn] turn inactive for" in proc.stderr and "resuming..." in proc.stderr
    with stdio_app_server.client() as client:
        thread_id = client.chat_once("hello").thread_id
    scripted_model.on("resumed", hang(1.5, then="resumed and complete"))
    proc = run_example(  # chat_once on a ThreadHandle, resumed with its continuation
        "thread_resume_by_id.py", stdio_app_server, "--thread-id", thread_id, "--prompt", "resumed later",
        "--inactivity-timeout", "0.5", "--quiet", cwd=tmp_path,
    )
    assert proc.stdout == "resumed and complete\n"
    assert "[warn] turn inactive for" in proc.stderr


def test_examples_print_one_error_line_and_exit_1(tmp_path: Path) -> None:
    proc = run_example(
        "chat_session_websocket.py", None, "--url", "ws://127.0.0.1:9", "--prompt", "x",
        cwd=tmp_path, expect=1,
    )
    assert proc.stderr.startswith("error: CodexTransportError: ")
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_example(
        "chat_steps_rich.py", None, "--cmd", str(tmp_path / "no-such-codex"), "--prompt", "x",
        cwd=tmp_path, expect=1,
    )
    assert proc.stderr.startswith("error: CodexTransportError: ")
    assert len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ threads


def test_thread_config_and_fork(app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    proc = run_example(
        "thread_config_and_fork.py", app_server,
        "--cwd", str(tmp_path), "--base-instructions", "BASE-MARK", "--developer-instructions", "DEV-MARK",
        "--prompt", "first question", "--fork-prompt", "fork question", "--set-model", "mock-model-2",
        cwd=tmp_path,
    )
    out = proc.stdout
    (parent,) = values(r"^\[thread:(\S+)\] echo: first question$", out)
    ((fork_parent, forked),) = values(r"^\[fork\] parent=(\S+) forked=(\S+)$", out)
    assert fork_parent == parent != forked
    assert f"[checkpoint] forked: {parent} -> {forked}" in out
    assert "[codex] echo: fork question" in out
    assert "model=mock-model-2 (applied with the next turn)" in out
    first = request_for(scripted_model, "first question")
    assert "BASE-MARK" in first.developer_texts and "DEV-MARK" in first.developer_texts
    assert first.model == "mock-model"
    fork = request_for(scripted_model, "fork question")
    assert fork.user_texts == ("first question", "fork question")  # the fork kept the history
    assert fork.model == "mock-model-2"  # update_defaults, carried into the fork
    assert (fork.body.get("reasoning") or {}).get("effort") == "low"  # TurnOverrides(effort="low")
    assert "DEV-MARK" in fork.developer_texts
    quiet = run_example("thread_config_and_fork.py", app_server, "--quiet", "--prompt", "q1", cwd=tmp_path)
    assert "[checkpoint]" not in quiet.stdout and "echo: q1" in quiet.stdout


def test_thread_resume_by_id(app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    with app_server.client() as client:
        thread_id = client.chat_once("remember the word kiwi").thread_id
    proc = run_example(
        "thread_resume_by_id.py", app_server, "--thread-id", thread_id, "--prompt", "which word?", cwd=tmp_path
    )
    assert f"[checkpoint] thread resumed: {thread_id} (1 earlier turns)" in proc.stdout
    assert "[assistant] echo: which word?" in proc.stdout
    assert re.search(rf"^\[meta\] thread_id={thread_id} turn_id=\S+ turns=2$", proc.stdout, re.MULTILINE)
    assert request_for(scripted_model, "which word?").user_texts == ("remember the word kiwi", "which word?")


def test_thread_resume_by_id_unknown_thread(stdio_app_server: AppServer, tmp_path: Path) -> None:
    proc = run_example(
        "thread_resume_by_id.py", stdio_app_server,
        "--thread-id", "00000000-0000-7000-8000-000000000000", "--quiet", cwd=tmp_path, expect=1,
    )
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: CodexProtocolError: thread/resume")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_thread_concurrent_handles(app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    prompts = ("alpha question", "beta question")
    both_arrived = threading.Barrier(2, timeout=20.0)

    def reply_when_both_turns_run(request: Any) -> Any:
        # Each turn's model request waits for the other's: only concurrent turns finish.
        if request.last_user_text in prompts:
            both_arrived.wait()
        return echo()

    scripted_model.fallback = reply_when_both_turns_run
    proc = run_example(
        "thread_concurrent_handles.py", app_server, "--prompt", prompts[0], "--prompt", prompts[1], cwd=tmp_path
    )
    out = proc.stdout
    answers = dict(values(r"^\[([AB])\] thread_id=\S+ answer=(.*)$", out))
    assert answers == {"A": "echo: alpha question", "B": "echo: beta question"}
    threads = values(r"^\[checkpoint\] thread started: [AB]=(\S+)$", out)
    assert len(set(threads)) == 2
    assert "[A] [codex] echo: alpha question" in out and "[B] [codex] echo: beta question" in out
    assert not scripted_model.errors


def test_thread_ops_showcase(app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    proc = run_example(
        "thread_ops_showcase.py", app_server,
        "--prompt", "show me the ops", "--thread-name", "showcase-X", "--set-model", "mock-model-2",
        "--archive", "--cwd", str(tmp_path), cwd=tmp_path,
    )
    out = proc.stdout
    (thread_id,) = values(r"^\[checkpoint\] thread started: (\S+)$", out)
    for expected in (
        "[result:thread/name/set] name='showcase-X' status=ok",
        "echo: show me the ops",
        "[result:thread/model] before='mock-model' requested='mock-model-2'",
        "[result:thread/model] after_next_turn='mock-model-2'",
        "[result:thread/rollback] turns_before=2 turns_after=1",
        "[checkpoint] context compacted",
        f"[result:thread/read] id='{thread_id}' cwd='{tmp_path}' model_provider='mock'",
        "name='showcase-X' model='mock-model-2' status=idle",
        "[result:config/read] model='mock-model' model_provider='mock' approval_policy='never'",
        f"[result:thread/archive] thread_id={thread_id} archived=True",
    ):
        assert expected in out, expected
    assert re.search(r"^\[result:thread/list\] count=\d+ showing=\d+ next_cursor=", out, re.MULTILINE)
    assert re.search(r"^\[result:model/list\] count=[1-9]\d* showing=", out, re.MULTILINE)
    assert re.search(r"origin_entries=[1-9]", out)
    assert request_for(scripted_model, "Now in one line.").model == "mock-model-2"
    with app_server.client() as client:  # it stays archived
        assert thread_id in [t["id"] for t in client.list_threads(archived=True)["data"]]
    raw = run_example("thread_ops_showcase.py", app_server, "--quiet", "--show-data", cwd=tmp_path)
    assert "[checkpoint]" not in raw.stdout
    assert "[result:config/read]\n{" in raw.stdout and '"origins": {' in raw.stdout


# ------------------------------------------------------------------ web apps


def parse_sse(body: str) -> List[Tuple[str, Any]]:
    """``(event, json data)`` for each server-sent event in ``body`` (comments skipped)."""
    events: List[Tuple[str, Any]] = []
    for block in body.split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
        if data:
            events.append((event, json.loads("\n".join(data))))
    return events


def point_env_at(server: AppServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``make_client()`` of the web examples reach ``server`` through the usual variables."""
    for key in ("CODEX_APP_SERVER_CMD", "CODEX_APP_SERVER_WS_URL", "CODEX_APP_SERVER_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    if server.transport == "websocket":
        monkeypatch.setenv("CODEX_APP_SERVER_WS_URL", server.url)
        monkeypatch.setenv("CODEX_APP_SERVER_TOKEN", server.token)
    else:
        monkeypatch.setenv("CODEX_APP_SERVER_CMD", shlex.join(server.command))
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)


@pytest.fixture
def web_client_getter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[ModuleType], None]]:
    """``install(module)``: give a web example a fresh process-wide client getter; closed after."""
    created: List[CodexClient] = []

    def install(module: ModuleType) -> None:
        def factory() -> CodexClient:
            client: CodexClient = module.make_client()
            created.append(client)
            return client

        monkeypatch.setattr(module, "get_client", per_process_client(factory))

    yield install
    for client in created:
        client.close()


@pytest.fixture
def flask_stream(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import flask_stream as module

    return module


def check_turn_events(events: Sequence[Tuple[str, Any]], prompt: str, answer: str) -> Dict[str, Any]:
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "turn" and kinds[-1] == "done", kinds
    turn, done = events[0][1], events[-1][1]
    steps = [data for kind, data in events if kind == "message"]
    assert [s["step_type"] for s in steps] == ["userMessage", "exec", "thinking", "codex"], steps
    assert steps[0]["text"] == prompt
    assert steps[1]["item_type"] == "commandExecution" and steps[1]["output"].strip() == "built fine"
    assert steps[3]["text"] == answer
    assert all(s["thread_id"] == turn["thread_id"] and s["turn_id"] == turn["turn_id"] for s in steps)
    assert done == {"thread_id": turn["thread_id"], "turn_id": turn["turn_id"], "steps": 4, "final_text": answer}
    return turn


def script_build_turn(model: ScriptedModel, times: int = 1) -> None:
    for _ in range(times):
        model.on(
            "build",
            exec_command("echo built fine"),
            text("The build passed.", reasoning=reasoning("Run the build, then report.")),
        )


def test_flask_stream_sse(
    app_server: AppServer, scripted_model: ScriptedModel, flask_stream: ModuleType,
    web_client_getter: Callable[[ModuleType], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    point_env_at(app_server, monkeypatch)
    web_client_getter(flask_stream)
    script_build_turn(scripted_model)
    client = flask_stream.app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and "new EventSource(url)" in page.get_data(as_text=True)
    assert client.get("/stream").status_code == 400

    response = client.get("/stream", query_string={"prompt": "run the build"})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    chunks = [c.decode() for c in response.response]  # streamed, one event per chunk
    response.close()
    assert all(c.endswith("\n\n") and len(parse_sse(c)) <= 1 for c in chunks)
    turn = check_turn_events(parse_sse("".join(chunks)), "run the build", "The build passed.")

    again = client.get("/stream", query_string={"prompt": "and now?", "thread_id": turn["thread_id"]})
    events = parse_sse(again.get_data(as_text=True))
    assert events[0] == ("turn", {"thread_id": turn["thread_id"], "turn_id": events[0][1]["turn_id"]})
    assert events[-1][1]["final_text"] == "echo: and now?"
    assert request_for(scripted_model, "and now?").user_texts == ("run the build", "and now?")

    bad = client.get("/stream", query_string={"prompt": "x", "thread_id": "00000000-0000-7000-8000-000000000000"})
    events = parse_sse(bad.get_data(as_text=True))
    assert [kind for kind, _ in events] == ["codex-error", "done"]
    assert events[0][1]["error"].startswith("CodexProtocolError: ")


def load_django_example() -> ModuleType:
    name = "codex_sync_django_stream_example"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / "django_stream" / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_django_stream_sse(
    app_server: AppServer, scripted_model: ScriptedModel, web_client_getter: Callable[[ModuleType], None],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    point_env_at(app_server, monkeypatch)
    module = load_django_example()
    web_client_getter(module)
    script_build_turn(scripted_model)
    from django.test import Client

    client = Client()
    assert client.get("/stream").status_code == 400
    assert b"EventSource" in client.get("/").content
    response = client.get("/stream", {"prompt": "run the build"})
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert response.streaming
    chunks = [c.decode() for c in response.streaming_content]
    response.close()
    assert len(chunks) == 6  # turn, four steps, done: streamed one by one
    check_turn_events(parse_sse("".join(chunks)), "run the build", "The build passed.")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)")
def test_flask_page_in_headless_chromium(
    stdio_app_server: AppServer, scripted_model: ScriptedModel, flask_stream: ModuleType,
    web_client_getter: Callable[[ModuleType], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from werkzeug.serving import make_server

    monkeypatch.chdir(tmp_path)
    point_env_at(stdio_app_server, monkeypatch)
    web_client_getter(flask_stream)
    script_build_turn(scripted_model, times=2)
    server = make_server("127.0.0.1", 0, flask_stream.app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, name="flask-example", daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/?prompt=run+the+build"
    profile = tempfile.mkdtemp(prefix="chromium-", dir=str(tmp_path))

    def chromium(*args: str) -> subprocess.CompletedProcess:
        argv = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
            "--window-size=1000,760", *args, url,
        ]
        return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)

    try:
        dom = chromium("--dump-dom").stdout
        shot = tmp_path / "flask_page.png"
        chromium(f"--screenshot={shot}")
    finally:
        server.shutdown()
        server.server_close()
        serving.join(timeout=5)
    assert 'data-done="true"' in dom, dom[-2000:]
    assert "done: 4 steps" in dom
    for fragment in (
        '<li class="step step-userMessage">', "run the build",
        '<li class="step step-exec">', "/bin/bash -lc 'echo built fine'", '<pre class="output">built fine',
        '<li class="step step-thinking">', "Run the build, then report.",
        '<li class="step step-codex">', "The build passed.",
    ):
        assert fragment in dom, fragment
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    keep = os.environ.get("CODEX_SYNC_EXAMPLES_SCREENSHOT")  # e.g. /tmp/flask_page.png, to look at it
    if keep:
        shutil.copyfile(shot, keep)


def test_flask_stream_interrupts_the_turn_when_the_client_goes_away(
    websocket_app_server: AppServer, scripted_model: ScriptedModel, flask_stream: ModuleType,
    web_client_getter: Callable[[ModuleType], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    point_env_at(websocket_app_server, monkeypatch)
    web_client_getter(flask_stream)
    scripted_model.on("slow", hang(30.0, then="never sent"))
    client = flask_stream.app.test_client()
    response = client.get("/stream", query_string={"prompt": "slow work"})
    chunks = iter(response.response)
    turn = parse_sse(next(chunks).decode())[0]
    assert turn[0] == "turn"
    assert parse_sse(next(chunks).decode())[0][1]["step_type"] == "userMessage"
    started = time.monotonic()
    response.close()  # the browser went away: the generator is closed, the turn interrupted
    assert time.monotonic() - started < 10
    thread = flask_stream.get_client().read_thread(turn[1]["thread_id"])["thread"]
    assert [t["status"] for t in thread["turns"]] == ["interrupted"]
    again = client.get("/stream", query_string={"prompt": "still there?", "thread_id": turn[1]["thread_id"]})
    assert parse_sse(again.get_data(as_text=True))[-1][1]["final_text"] == "echo: still there?"


def test_flask_stream_keeps_a_quiet_turn_alive(
    stdio_app_server: AppServer, scripted_model: ScriptedModel, flask_stream: ModuleType,
    web_client_getter: Callable[[ModuleType], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    point_env_at(stdio_app_server, monkeypatch)
    web_client_getter(flask_stream)
    monkeypatch.setattr(flask_stream, "HEARTBEAT_SECONDS", 0.4)
    scripted_model.on("quiet", hang(1.3, then="worth the wait"))
    body = flask_stream.app.test_client().get("/stream", query_string={"prompt": "quiet one"}).get_data(as_text=True)
    assert ": still working\n\n" in body  # an SSE comment while the turn is silent; then resumed
    events = parse_sse(body)
    assert [kind for kind, _ in events] == ["turn", "message", "message", "done"]
    assert events[-1][1]["final_text"] == "worth the wait"
