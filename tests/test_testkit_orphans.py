"""A websocket AppServer's ``codex app-server`` ends when its Python process dies, however it dies.

A child Python process starts a websocket :class:`AppServer`, prints the
server's pid and sleeps; the test kills the child (SIGKILL, SIGTERM: no
``close()``, no ``atexit``) and checks that the server process is gone.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional

import pytest

from .memory_transport import wait_until

pytestmark = [
    pytest.mark.real_server,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

CHILD = """
import time
from codex_sync.testing import AppServer, ScriptedModel

model = ScriptedModel().start()
server = AppServer(model, transport="websocket").start()
print(server.pid, flush=True)
time.sleep(120)
"""


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) said it exists
    return state not in ("Z", "X")


def read_line(proc: subprocess.Popen[str], timeout: float) -> Optional[str]:
    """The child's first stdout line, or ``None`` if none came within ``timeout``."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout) or None
    except queue.Empty:
        return None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_websocket_server_dies_with_its_python_process(sig: int, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    pid: Optional[int] = None
    try:
        line = read_line(child, timeout=60)
        if line is None:
            child.kill()
            pytest.fail(f"the child printed no pid; stderr:\n{child.communicate(timeout=10)[1][-3000:]}")
        pid = int(line.split()[0])
        assert running(pid)
        assert pid != child.pid
        child.send_signal(sig)
        child.wait(timeout=10)
        assert child.returncode == -sig  # died by the signal: no close(), no atexit
        wait_until(lambda: not running(pid), timeout=10)
        assert not running(pid), f"codex app-server {pid} outlived its Python process (signal {sig})"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if pid is not None and running(pid):
            os.kill(pid, signal.SIGKILL)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def parent_of(pid: int) -> int:
    """The parent pid of ``pid`` (Linux: from ``/proc``)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.timeout(60)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_killing_the_guard_kills_the_server() -> None:
    from codex_sync.testing import AppServer, ScriptedModel

    with ScriptedModel() as model:
        server = AppServer(model, transport="websocket").start()
        try:
            pid = server.pid
            assert pid is not None and running(pid)
            guard = parent_of(pid)
            assert guard != os.getpid() and "orphan_guard" in Path(f"/proc/{guard}/cmdline").read_text()
            os.kill(guard, signal.SIGKILL)
            wait_until(lambda: not running(pid), timeout=10)
            assert not running(pid), f"codex app-server {pid} outlived its guard {guard}"
        finally:
            server.close()  # still closes cleanly (and removes the home) after the guard died
        assert not server.codex_home.exists()
