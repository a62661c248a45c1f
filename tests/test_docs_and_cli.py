"""The README's Python blocks run as written, and the CLI works, against the scripted model."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from codex_sync.testing import AppServer, ScriptedModel

pytestmark = pytest.mark.real_server
ROOT = Path(__file__).resolve().parent.parent


def readme_blocks() -> List[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_readme_python_blocks_run(
    index: int, stdio_app_server: AppServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in stdio_app_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CODEX_APP_SERVER_CMD", shlex.join(stdio_app_server.command))
    exec(compile(readme_blocks()[index], f"README.md block {index}", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    if "chat_once(" in readme_blocks()[index] and "print(" in readme_blocks()[index]:
        assert "echo: " in out


def _run_cli(args: List[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codex_sync", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_cli_demo_shows_reasoning_a_command_and_an_answer() -> None:
    proc = _run_cli(["demo"], {})
    assert proc.returncode == 0, proc.stderr
    assert "[thinking]" in proc.stdout and "[exec]" in proc.stdout and "[codex]" in proc.stdout
    assert "> hello from a real codex app-server" in proc.stdout


def test_cli_chat_over_both_transports(scripted_model: ScriptedModel, app_server: AppServer) -> None:
    if app_server.transport == "stdio":
        args = ["--cmd", shlex.join(app_server.command)]
    else:
        args = ["--transport", "websocket", f"--url={app_server.url}", f"--token={app_server.token}"]
    proc = _run_cli(["chat", "first prompt", "second prompt", *args], app_server.env)
    assert proc.returncode == 0, proc.stderr
    assert "=== echo: first prompt" in proc.stdout and "=== echo: second prompt" in proc.stdout
    assert proc.stdout.count("--- thread ") == 2
    thread_ids = set(re.findall(r"--- thread (\S+)", proc.stdout))
    assert len(thread_ids) == 1  # both prompts ran in one thread


def test_cli_errors_are_one_line_and_non_zero() -> None:
    proc = _run_cli(["chat", "hi", "--transport", "websocket", "--url", "ws://127.0.0.1:9"], {})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "CodexTransportError" in proc.stderr
