"""``codex-sync`` with its output piped: what scripts see (steps, --json, exit codes, one-line errors).

Every run is a real ``python -m codex_sync`` process. Runs that reach a
server use the real ``codex app-server`` against the scripted model with a
throw-away HOME (``AppServer.env``); runs that must stop at a usage error get
``CODEX_APP_SERVER_CMD=false`` and an empty HOME, so nothing real can start
even if the check they test were missing.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from codex_sync import __version__
from codex_sync.testing import AppServer, ScriptedModel, exec_command, failed, hang, reasoning, text

API_TERMS = ("connect_stdio", "connect_websocket", "approval_handler", "user_input_handler", "Traceback")


def run_cli(args: List[str], env: Dict[str, Optional[str]], *, timeout: float = 60, stdin: Optional[str] = None,
            cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """``python -m codex_sync ARGS`` with ``env`` over a copy of ``os.environ`` (``None`` removes); piped."""
    full = {**os.environ, **env}
    full = {key: value for key, value in full.items() if value is not None}
    return subprocess.run([sys.executable, "-m", "codex_sync", *args], env=full, capture_output=True,
                          text=True, timeout=timeout, input=stdin if stdin is not None else "",
                          cwd=str(cwd) if cwd else None)


def server_args(server: AppServer) -> List[str]:
    return ["--cmd", shlex.join(server.command)]


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    # what the server said on the way is printed as it comes (one line each); then one error line
    lines = [line for line in proc.stderr.splitlines() if "the app-server says" not in line]
    assert len(lines) == 1 and lines[0].startswith("codex-sync: error: "), proc.stderr
    for term in API_TERMS:
        assert term not in lines[0], proc.stderr
    return lines[0] + "\n"


@pytest.fixture
def safe_env(tmp_path: Path) -> Dict[str, str]:
    """An environment in which no real server can start: the command is `false`, HOME is empty."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "CODEX_HOME": str(home / ".codex"), "CODEX_APP_SERVER_CMD": "false"}


# -- no server needed -------------------------------------------------------------
def test_version_and_help() -> None:
    proc = run_cli(["--version"], {})
    assert proc.returncode == 0 and proc.stdout.strip() == f"codex-sync {__version__}", proc
    proc = run_cli(["chat", "--help"], {})
    assert proc.returncode == 0
    for flag in ("--stream", "--json", "--approve", "--cmd", "--url", "--token", "--quiet", "--progress"):
        assert flag in proc.stdout, flag
    assert "130" in proc.stdout and "exit status" in proc.stdout  # exit codes documented in --help


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "codex-sync"
    if not script.exists():
        pytest.skip("codex-sync console script not installed next to this interpreter")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == f"codex-sync {__version__}"


@pytest.mark.parametrize(
    "args, expect",
    [
        (["chat", "hi", "--url", "localhost:8765"], "did you mean --url ws://localhost:8765"),
        (["chat", "hi", "--transport", "websocket", "--url", "http://127.0.0.1:1"], "--url ws://127.0.0.1:1"),
        (["chat", "hi", "--url", "ws://"], "has no host"),
        (["chat", "hi", "--cmd", "'unterminated"], "--cmd: cannot split"),
        (["chat", "hi", "--cmd", "no-such-codex-binary app-server"], "--cmd: 'no-such-codex-binary'"),
        (["chat", "hi", "--cmd", "  "], "--cmd is empty"),
        (["chat", "hi", "--transport", "stdio", "--url", "ws://127.0.0.1:1"], "--url and --token are for"),
        (["chat", "hi", "--transport", "websocket", "--cmd", "codex app-server"], "--cmd is for --transport stdio"),
        (["chat", "hi", "--cwd", "/no/such/dir"], "--cwd '/no/such/dir' is not a directory"),
        (["chat", "hi", "--inactivity-timeout", "-1"], "--inactivity-timeout"),
        (["chat", "hi", "--inactivity-timeout", "soon"], "expected a number of seconds"),
        (["chat", "hi", "--cancel-on-timeout"], "--cancel-on-timeout needs --inactivity-timeout"),
        (["chat", "  "], "prompt 1 is empty"),
        (["chat", "hi", "--json", "--quiet"], "not allowed with argument"),
        (["chat", "hi", "--approve", "maybe"], "invalid choice"),
        (["chat"], "the following arguments are required: prompt"),
        ([], "the following arguments are required"),
        (["chat", "hi", "--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_with_exit_2(args: List[str], expect: str, safe_env: Dict[str, str]) -> None:
    proc = run_cli(args, safe_env, timeout=30)
    message = assert_one_line_error(proc, 2)
    assert expect in message, message
    assert proc.stdout == ""


def test_bad_command_variable_is_a_usage_error(safe_env: Dict[str, str]) -> None:
    proc = run_cli(["chat", "hi"], {**safe_env, "CODEX_APP_SERVER_CMD": "'oops"}, timeout=30)
    assert "$CODEX_APP_SERVER_CMD: cannot split" in assert_one_line_error(proc, 2)
    proc = run_cli(["chat", "hi", "--transport", "websocket"],
                   {**safe_env, "CODEX_APP_SERVER_WS_URL": "127.0.0.1:8765"}, timeout=30)
    assert "$CODEX_APP_SERVER_WS_URL must start with ws://" in assert_one_line_error(proc, 2)


def test_unreachable_server_names_the_flag(safe_env: Dict[str, str]) -> None:
    proc = run_cli(["chat", "hi", "--url", "ws://127.0.0.1:9"], safe_env, timeout=30)
    message = assert_one_line_error(proc, 1)
    assert "cannot connect to ws://127.0.0.1:9" in message and "--url" in message


def test_server_that_exits_at_once_is_exit_1(safe_env: Dict[str, str]) -> None:
    proc = run_cli(["chat", "hi", "--cmd", "false"], safe_env, timeout=30)
    assert_one_line_error(proc, 1)


# -- against the real server ---------------------------------------------------------
real_server = pytest.mark.real_server


@real_server
def test_wrong_token_is_a_usage_error(websocket_app_server: AppServer) -> None:
    proc = run_cli(["chat", "hi", "--url", websocket_app_server.url, "--token=wrong"],
                   websocket_app_server.env, timeout=30)
    message = assert_one_line_error(proc, 2)
    assert "401" in message and "--token" in message


@real_server
def test_unknown_thread_id_is_a_usage_error(stdio_app_server: AppServer) -> None:
    proc = run_cli(["chat", "hi", "--thread-id", "01a2375c-4ec6-77b2-a62d-85652e13eb44",
                    *server_args(stdio_app_server)], stdio_app_server.env)
    message = assert_one_line_error(proc, 2)
    assert message.startswith("codex-sync: error: --thread-id 01a2375c-4ec6-77b2-a62d-85652e13eb44: "), message


@real_server
@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
def test_declined_and_failed_steps_are_marked(scripted_model: ScriptedModel, stdio_app_server: AppServer,
                                              tmp_path: Path) -> None:
    target = tmp_path / "outside" / "made.txt"
    target.parent.mkdir()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    scripted_model.on("fail", exec_command("echo oops; exit 3"), text("It failed."))
    scripted_model.on("touch", exec_command(f"touch {target}", escalated=True, justification="needs it"),
                      text("Could not."))
    proc = run_cli(["chat", "fail please", "touch it", *server_args(stdio_app_server)], stdio_app_server.env,
                   cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[exec failed, exit 3] /bin/bash -lc 'echo oops; exit 3'\n    > oops\n" in out
    assert "[approval] run `/bin/bash -lc 'touch " in out
    assert "— needs it -> declined (pass --approve ask or --approve all to allow)" in out
    assert f"[exec declined] /bin/bash -lc 'touch {target}'" in out
    assert "[exec] " not in out  # nothing printed as if it ran
    assert not target.exists()
    for term in API_TERMS:
        assert term not in proc.stderr, proc.stderr


@real_server
@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
@pytest.mark.parametrize("approve, stdin, decision", [("all", "", "approved"), ("ask", "y\n", "approved"),
                                                      ("ask", "n\n", "declined"), ("ask", "", "declined")])
@real_server
def test_approve_flag(approve: str, stdin: str, decision: str, scripted_model: ScriptedModel,
                      stdio_app_server: AppServer, tmp_path: Path) -> None:
    target = tmp_path / "outside" / "made.txt"
    target.parent.mkdir()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    scripted_model.on("touch", exec_command(f"touch {target}", escalated=True), text("Done."))
    proc = run_cli(["chat", "touch it", "--approve", approve, *server_args(stdio_app_server)],
                   stdio_app_server.env, stdin=stdin, cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    assert f" -> {decision}\n" in proc.stdout, proc.stdout
    assert target.exists() == (decision == "approved")
    if approve == "ask":
        assert "[y]es/[s]ession/[n]o/[c]ancel" in proc.stderr  # ask_in_terminal's prompt
        assert "-> declined (pass" not in proc.stdout  # the never-mode hint is not shown


@real_server
def test_failed_turn_exits_3(scripted_model: ScriptedModel, stdio_app_server: AppServer) -> None:
    scripted_model.on("break", failed("the model is down"))
    proc = run_cli(["chat", "break it", "never reached", *server_args(stdio_app_server)], stdio_app_server.env)
    message = assert_one_line_error(proc, 3)
    assert "the model is down" in message
    assert "never reached" not in proc.stdout  # the run stops at the failed turn
    scripted_model.on("break", failed("the model is down"))
    proc = run_cli(["chat", "break again", "--json", *server_args(stdio_app_server)], stdio_app_server.env)
    assert proc.returncode == 3, proc.stderr
    result = [json.loads(line) for line in proc.stdout.splitlines()][-1]
    assert result["event"] == "result" and result["status"] == "failed", result
    assert "the model is down" in result["error"]


@real_server
def test_cancel_on_timeout_exits_4(scripted_model: ScriptedModel, stdio_app_server: AppServer) -> None:
    scripted_model.on("slow", hang(30))
    started = time.monotonic()
    proc = run_cli(["chat", "slow one", "--inactivity-timeout", "0.5", "--cancel-on-timeout",
                    *server_args(stdio_app_server)], stdio_app_server.env)
    assert time.monotonic() - started < 25
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    assert "[cancelled] turn " in proc.stdout and "--inactivity-timeout 0.5" in proc.stdout


@real_server
def test_inactivity_without_cancel_keeps_waiting(scripted_model: ScriptedModel,
                                                 stdio_app_server: AppServer) -> None:
    scripted_model.on("slow", hang(2.0, then="late answer"))
    proc = run_cli(["chat", "slow one", "--inactivity-timeout", "0.5", *server_args(stdio_app_server)],
                   stdio_app_server.env)
    assert proc.returncode == 0, proc.stderr
    assert "[waiting] turn " in proc.stdout and "still waiting" in proc.stdout
    assert proc.stdout.rstrip().endswith("=== late answer")


@real_server
def test_json_prints_one_object_per_line(scripted_model: ScriptedModel, app_server: AppServer) -> None:
    scripted_model.on("Show", exec_command("echo from json"),
                      text("All done.", reasoning=reasoning("Run it first."), usage=(7, 5)))
    if app_server.transport == "stdio":
        args = server_args(app_server)
    else:
        args = ["--url", app_server.url, f"--token={app_server.token}"]
    proc = run_cli(["chat", "Show me", "--json", "--stream", *args], app_server.env)
    assert proc.returncode == 0, proc.stderr
    records: List[Dict[str, Any]] = [json.loads(line) for line in proc.stdout.splitlines()]
    events = [r["event"] for r in records]
    assert events[0] == "turn" and events[-1] == "result"
    steps = [r for r in records if r["event"] == "step"]
    assert [s["step_type"] for s in steps] == ["userMessage", "exec", "thinking", "codex"]
    exec_step = steps[1]
    assert exec_step["status"] == "completed" and exec_step["exit_code"] == 0
    assert exec_step["output"].strip() == "from json" and exec_step["item"]["type"] == "commandExecution"
    deltas = "".join(r["delta"] for r in records if r["event"] == "delta" and r["kind"] == "codex")
    assert deltas == "All done."
    result = records[-1]
    assert result["status"] == "completed" and result["final_text"] == "All done."
    assert result["usage"]["total_tokens"] == 12
    assert {r["thread_id"] for r in records if "thread_id" in r} == {records[0]["thread_id"]}


@real_server
def test_quiet_prints_only_answers(stdio_app_server: AppServer) -> None:
    proc = run_cli(["chat", "one", "two", "--quiet", *server_args(stdio_app_server)], stdio_app_server.env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "echo: one\necho: two\n"


@real_server
def test_stream_prints_text_before_the_step_completes(scripted_model: ScriptedModel,
                                                      stdio_app_server: AppServer) -> None:
    words = ["Once ", "upon ", "a ", "time ", "a ", "client ", "streamed ", "this."]
    scripted_model.on("story", text("".join(words), deltas=words, delay=0.4))
    env = {**os.environ, **stdio_app_server.env}
    proc = subprocess.Popen([sys.executable, "-m", "codex_sync", "chat", "a story", "--stream",
                             *server_args(stdio_app_server)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"[codex] Once upon" not in seen:
            assert time.monotonic() < deadline, seen
            chunk = os.read(proc.stdout.fileno(), 1024)
            assert chunk, seen
            seen += chunk
        # The first words are out while the model is still writing the rest.
        assert b"streamed this." not in seen and b"===" not in seen
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out = (seen + rest).decode()
    assert proc.returncode == 0, err
    assert "[codex] Once upon a time a client streamed this.\n=== Once upon a time a client streamed this.\n" in out
    assert out.count("Once upon") == 2  # streamed once, then the final line; not printed again as a step


@real_server
def test_sigint_interrupts_the_turn_and_exits_130(scripted_model: ScriptedModel,
                                                  stdio_app_server: AppServer) -> None:
    scripted_model.on("slow", hang(30))
    env = {**os.environ, **stdio_app_server.env}
    proc = subprocess.Popen([sys.executable, "-m", "codex_sync", "chat", "slow one",
                             *server_args(stdio_app_server)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        scripted_model.wait_for_requests(1, timeout=20)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1] == "codex-sync: interrupted"
    assert "Traceback" not in err


# -- the demo --------------------------------------------------------------------------
def _wrapper(path: Path, marker: Path) -> Path:
    """An executable that records it ran, then runs the bundled codex with its arguments."""
    from codex_sync.testing import codex_binary

    path.write_text(f"#!/bin/sh\necho \"$@\" >> {shlex.quote(str(marker))}\n"
                    f"exec {shlex.quote(codex_binary())} \"$@\"\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def _path_without_codex() -> str:
    import shutil

    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not shutil.which("codex", path=d)]
    return os.pathsep.join(dirs)


@real_server
def test_demo_uses_the_bundled_binary_by_default(tmp_path: Path) -> None:
    env: Dict[str, Optional[str]] = {"PATH": _path_without_codex(), "HOME": str(tmp_path),
                                     "CODEX_APP_SERVER_CMD": None, "CODEX_SYNC_TEST_CODEX": None}
    proc = run_cli(["demo"], env)
    assert proc.returncode == 0, proc.stderr
    assert " from openai-codex-cli-bin: " in proc.stdout.splitlines()[0]
    assert "[exec] /bin/bash -lc 'echo hello from a real codex app-server'" in proc.stdout


@real_server
@pytest.mark.parametrize("where", ["variable", "path", "flag"])
def test_demo_uses_the_users_codex(where: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = _wrapper(bin_dir / "codex", marker)
    env: Dict[str, Optional[str]] = {"PATH": _path_without_codex(), "HOME": str(tmp_path),
                                     "CODEX_APP_SERVER_CMD": None}
    args = ["demo"]
    if where == "variable":
        env["CODEX_APP_SERVER_CMD"] = f"{wrapper} app-server"
        source = "from $CODEX_APP_SERVER_CMD"
    elif where == "path":
        env["PATH"] = f"{bin_dir}{os.pathsep}{_path_without_codex()}"
        source = "from codex on PATH"
    else:
        args += ["--cmd", f"{wrapper} app-server"]
        source = "from --cmd"
    proc = run_cli(args, env)
    assert proc.returncode == 0, proc.stderr
    assert source in proc.stdout.splitlines()[0], proc.stdout
    assert marker.read_text().split() == ["app-server"]
    assert "=== The command printed a greeting: the whole turn ran offline." in proc.stdout
