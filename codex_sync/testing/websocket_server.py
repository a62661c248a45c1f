"""One websocket ``codex app-server`` process: start it, watch it, stop it.

:class:`WebsocketServer` runs ``<codex> app-server --listen ws://127.0.0.1:0``
with a capability token file, under the orphan guard
(:mod:`codex_sync.testing.orphan_guard`) so the server ends when the Python
process that started it dies, however it dies. It learns the URL from the
server's stderr (``listening on: ws://...``), waits for ``GET /readyz``, keeps
the last 200 stderr lines, and stops the server with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Deque, List, Mapping, Optional

from .orphan_guard import PID_LINE

__all__ = ["WebsocketServer", "kill_session"]

_LISTEN_RE = re.compile(r"listening on:\s*(ws://\S+)")
_PID_RE = re.compile(re.escape(PID_LINE) + r"(\d+)")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
_GUARD = Path(__file__).with_name("orphan_guard.py")


def kill_session(pid: int) -> None:
    """Kill what is left in the process group led by ``pid`` (shells the server spawned).

    The same as ``StdioTransport``'s clean-up; written here because the test
    kit uses only codex_sync's public API (SPEC §5). No-op on Windows.
    """
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:  # ProcessLookupError, PermissionError: nothing left, or not ours
        pass


def guarded(argv: List[str]) -> List[str]:
    """``argv`` run under the orphan guard (unchanged when no Python or guard file is at hand)."""
    if not sys.executable or not _GUARD.is_file():
        return list(argv)
    return [sys.executable, "-I", "-S", str(_GUARD), *argv]


class WebsocketServer:
    """A websocket ``codex app-server`` child process (one owner thread starts and stops it).

    ``argv`` is the server command up to ``app-server``; ``env`` its whole
    environment; ``token_file`` the capability token file. Nothing runs until
    :meth:`start`.
    """

    def __init__(
        self, argv: List[str], *, env: Mapping[str, str], cwd: Optional[str], token_file: Path
    ) -> None:
        """Record the command; start nothing."""
        self._argv = list(argv) + [
            "--listen",
            "ws://127.0.0.1:0",
            "--ws-auth",
            "capability-token",
            "--ws-token-file",
            str(token_file.resolve()),
        ]
        self._env = dict(env)
        self._cwd = cwd
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._guard_pipe: Optional[IO[bytes]] = None
        self._stderr_tail: Deque[str] = deque(maxlen=200)
        self._stderr_thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._url: Optional[str] = None
        self._pid: Optional[int] = None

    @property
    def url(self) -> Optional[str]:
        """``"ws://127.0.0.1:PORT"`` once the server said where it listens, else ``None``."""
        return self._url

    @property
    def pid(self) -> Optional[int]:
        """The ``codex app-server`` process id, once started."""
        return self._pid

    @property
    def guard_pid(self) -> Optional[int]:
        """The orphan guard's process id (the server's parent), or the server's when unguarded."""
        return None if self._proc is None else self._proc.pid

    @property
    def stderr_tail(self) -> str:
        """The last 200 lines of the server's stderr, ANSI colours removed."""
        return "\n".join(list(self._stderr_tail))

    def start(self, timeout: float) -> None:
        """Start the server; block until it answers ``GET /readyz``, at most ``timeout`` seconds.

        Raises ``RuntimeError`` (with the stderr tail) if it exits or is not
        ready in time, ``OSError`` if it cannot be started. The caller stops it
        with :meth:`stop` in both cases.
        """
        argv = guarded(self._argv)
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if argv != self._argv else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
        )
        if argv == self._argv:
            self._pid = self._proc.pid
        self._guard_pipe = self._proc.stdin  # its end of file tells the guard we are gone
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr,
            args=(self._proc,),
            name="codex_sync-app-server-stderr",
            daemon=True,
        )
        self._stderr_thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None:
                self._stderr_thread.join(timeout=1.0)
                raise RuntimeError(
                    f"codex app-server exited with code {self._proc.returncode} before listening; "
                    f"stderr:\n{self.stderr_tail}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"codex app-server did not report its listen URL within {timeout:.0f} s; "
                    f"stderr:\n{self.stderr_tail}"
                )
        self._wait_ready(deadline)

    def _wait_ready(self, deadline: float) -> None:
        assert self._url is not None and self._proc is not None
        hostport = self._url[len("ws://") :].split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        while True:
            conn = http.client.HTTPConnection(host, int(port), timeout=2.0)
            try:
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"codex app-server at {self._url} is not ready (exit code {self._proc.returncode}); "
                    f"stderr:\n{self.stderr_tail}"
                )
            time.sleep(0.05)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        stream = proc.stderr
        assert stream is not None
        try:
            for raw in iter(stream.readline, b""):
                line = _ANSI_RE.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n")
                if self._pid is None:
                    found = _PID_RE.search(line)
                    if found:
                        self._pid = int(found.group(1))
                        if self._url is not None:
                            self._ready.set()
                        continue
                self._stderr_tail.append(line)
                if self._url is None:
                    found = _LISTEN_RE.search(line)
                    if found:
                        self._url = found.group(1)
                        if self._pid is not None:
                            self._ready.set()
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def stop(self) -> None:
        """Stop the server: SIGTERM (passed on by the guard), SIGKILL after 5 s; then sweep its session.

        Blocks at most about 12 seconds. Idempotent.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout=5.0)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    pass
            except OSError:
                pass
        kill_session(proc.pid)
        if self._guard_pipe is not None:
            try:
                self._guard_pipe.close()
            except OSError:
                pass
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2.0)
