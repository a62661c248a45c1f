"""``python -m codex_sync.testing serve``, run for real: paste its exports, chat, stop it.

Each test runs the command as a subprocess, reads the lines it prints until
``# ready``, points a :class:`codex_sync.CodexClient` at it exactly as a shell
user would (the printed ``CODEX_APP_SERVER_CMD``, or URL and token), runs
turns, then signals the process and checks that it exits 0 and leaves
nothing behind: no model, no server, no throw-away home.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from codex_sync import CodexClient

from .memory_transport import wait_until
from .test_testkit_orphans import running

pytestmark = [
    pytest.mark.real_server,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell exports and signals"),
]


class Serve:
    """A running ``serve`` subprocess and what it printed."""

    def __init__(self, *flags: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "codex_sync.testing", "serve", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [self.lines.put(line) for line in stdout], daemon=True).start()
        self.printed: List[str] = []

    def read_until_ready(self, timeout: float = 60.0) -> None:
        while not (self.printed and self.printed[-1].startswith("# ready")):
            try:
                self.printed.append(self.lines.get(timeout=timeout).rstrip("\n"))
            except queue.Empty:
                self.proc.kill()
                err = self.proc.communicate(timeout=10)[1]
                pytest.fail(f"serve printed no '# ready' line: {self.printed!r}\nstderr:\n{err[-3000:]}")

    def exports(self) -> Dict[str, str]:
        """The ``export NAME=VALUE`` lines, unquoted the way a POSIX shell would."""
        found: Dict[str, str] = {}
        for line in self.printed:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].partition("=")
                words = shlex.split(value)
                assert len(words) == 1, f"not one shell word: {line!r}"
                found[name] = words[0]
        return found

    def comment(self, key: str) -> str:
        prefix = f"# {key}: "
        values = [line[len(prefix) :] for line in self.printed if line.startswith(prefix)]
        assert len(values) == 1, (key, self.printed)
        return values[0]

    def stop(self, sig: int) -> str:
        """Send ``sig``, wait for the exit; return the rest of stdout."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get_nowait())
        return "".join(rest)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator[List[Serve]]:
    started: List[Serve] = []
    yield started
    for serve in started:
        serve.close()


def model_refuses(url: str) -> bool:
    try:
        urllib.request.urlopen(url.rstrip("/") + "/responses", data=b"{}", timeout=5)
    except urllib.error.HTTPError:
        return False  # it answered
    except OSError:
        return True
    return False


def check_turns(client: CodexClient) -> None:
    with client:
        assert client.chat_once("hi").final_text == "echo: hi"
        shown = client.chat_once("Show me what you can do.")
        assert shown.final_text == "The command printed a greeting: the whole turn ran offline."
        assert [s.step_type for s in shown.steps] == ["userMessage", "exec", "thinking", "codex"]
        output = (shown.steps[1].data.get("item") or {}).get("aggregatedOutput") or ""
        assert "hello from a real codex app-server" in output


@pytest.mark.timeout(180)
def test_serve_stdio(serve_factory: List[Serve], tmp_path: Path) -> None:
    serve = Serve(cwd=tmp_path)
    serve_factory.append(serve)
    serve.read_until_ready()
    exports = serve.exports()
    assert set(exports) == {"CODEX_APP_SERVER_CMD"}
    command = shlex.split(exports["CODEX_APP_SERVER_CMD"])
    assert command[0] == "env" and command[-1] == "app-server"
    home = Path(serve.comment("home"))
    assert f"CODEX_HOME={home / 'codex_home'}" in command and f"HOME={home / 'home'}" in command
    assert home.is_dir()
    check_turns(CodexClient.connect_stdio(exports["CODEX_APP_SERVER_CMD"]))
    model_url = serve.comment("model")
    assert not model_refuses(model_url)
    rest = serve.stop(signal.SIGINT)
    assert serve.proc.returncode == 0, serve.proc.stderr.read() if serve.proc.stderr else ""
    assert "# stopped (SIGINT)" in rest
    assert not home.exists()
    assert model_refuses(model_url)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_websocket(sig: int, serve_factory: List[Serve], tmp_path: Path) -> None:
    serve = Serve("--websocket", cwd=tmp_path)
    serve_factory.append(serve)
    serve.read_until_ready()
    exports = serve.exports()
    assert set(exports) == {"CODEX_APP_SERVER_WS_URL", "CODEX_APP_SERVER_TOKEN"}
    assert exports["CODEX_APP_SERVER_WS_URL"].startswith("ws://127.0.0.1:")
    pid = int(serve.comment("server pid"))
    home = Path(serve.comment("home"))
    assert running(pid) and home.is_dir()
    check_turns(
        CodexClient.connect_websocket(exports["CODEX_APP_SERVER_WS_URL"], token=exports["CODEX_APP_SERVER_TOKEN"])
    )
    rest = serve.stop(sig)
    assert serve.proc.returncode == 0, serve.proc.stderr.read() if serve.proc.stderr else ""
    assert f"# stopped ({signal.Signals(sig).name})" in rest
    wait_until(lambda: not running(pid), timeout=10)
    assert not running(pid)
    assert not home.exists()
    assert model_refuses(serve.comment("model"))


def test_serve_without_binary_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-codex-here"
    proc = subprocess.run(
        [sys.executable, "-m", "codex_sync.testing", "serve"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "CODEX_SYNC_TEST_CODEX": str(missing)},
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("codex_sync.testing: error: ") and str(missing) in proc.stderr
    assert "export" not in proc.stdout
