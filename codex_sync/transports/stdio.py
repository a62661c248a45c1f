"""Run ``codex app-server`` as a child process and talk over its stdin/stdout."""

from __future__ import annotations

import io
import logging
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any, Callable, Dict, List, Optional, Tuple, Union

from ..errors import CodexTimeoutError, CodexTransportError
from .base import MessageCutError, Transport

log = logging.getLogger("codex_sync.transport")

ENV_COMMAND = "CODEX_APP_SERVER_CMD"
STDERR_TAIL_BYTES = 64 * 1024
# One read takes up to a full pipe (64 KiB on Linux): fewer system calls and
# wake-ups of the reader when the server writes fast (8 KiB by default).
READ_BUFFER_BYTES = 64 * 1024
_CLOSE_WAIT_SECONDS = 2.0
# After the child exits, its stdout should end at once; if a descendant still
# holds it, the group is killed after this long, and waiters are failed after
# as long again (a detached descendant in a session of its own).
_EOF_GRACE_SECONDS = 0.8

CommandArg = Union[str, Sequence[str], None]

# The bundled binary's package exists for Python >= 3.10 only: on 3.9 the extra installs nothing.
_INSTALL_HINT = (
    "`pip install 'codex-sync[runtime]'` (the openai-codex-cli-bin package carries the binary)"
    if sys.version_info >= (3, 10) else
    "`npm install -g @openai/codex` (on Python 3.9 `pip install 'codex-sync[runtime]'` installs no "
    "binary: its openai-codex-cli-bin package needs Python >= 3.10)"
)


def _runtime_binary() -> Tuple[Optional[str], Optional[str]]:
    """The codex binary (and its PATH folder) of ``openai-codex-cli-bin``, if installed."""
    try:
        import codex_cli_bin  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None, None
    try:
        binary = str(codex_cli_bin.bundled_codex_path())
        path_dir = codex_cli_bin.bundled_path_dir()
    except (OSError, AttributeError):
        return None, None
    return binary, (str(path_dir) if path_dir else None)


def resolve_command(command: CommandArg = None) -> Tuple[List[str], Optional[str]]:
    """Find the app-server command and a folder to put first on its ``PATH``.

    In order: ``command`` (a list, or a string split with :func:`shlex.split`),
    ``$CODEX_APP_SERVER_CMD``, ``codex app-server`` on ``PATH``, then the
    binary of the ``openai-codex-cli-bin`` package. Raises
    :class:`CodexTransportError` naming all four when none is found, and
    :class:`TypeError`/:class:`ValueError` for a malformed ``command``.
    """
    if command is not None:
        if isinstance(command, str):
            argv = shlex.split(command)
        elif isinstance(command, (list, tuple)) and all(isinstance(a, str) for a in command):
            argv = list(command)
        else:
            raise TypeError(f"command must be a string or a list of strings, not {command!r}")
        if not argv:
            raise ValueError("command must not be empty")
        return argv, None
    from_env = os.environ.get(ENV_COMMAND, "").strip()
    if from_env:
        return shlex.split(from_env), None
    on_path = shutil.which("codex")
    if on_path:
        return [on_path, "app-server"], None
    binary, path_dir = _runtime_binary()
    if binary:
        return [binary, "app-server"], path_dir
    raise CodexTransportError(
        "cannot find the codex app-server: pass connect_stdio(command=[...]), set "
        f"${ENV_COMMAND}, put `codex` on PATH, or {_INSTALL_HINT}"
    )


class StdioTransport(Transport):
    """A child ``codex app-server`` speaking one JSON object per line.

    The child runs in a new session (so a Ctrl-C meant for us does not kill
    it), its stderr is drained by a thread into a bounded tail, and lines of
    any length are read as bytes and decoded as UTF-8 by the protocol layer.
    """

    def __init__(
        self,
        command: CommandArg = None,
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        if env is not None and not isinstance(env, Mapping):
            raise TypeError(f"env must be a mapping of strings, not {type(env).__name__}")
        if cwd is not None and not isinstance(cwd, (str, os.PathLike)):
            raise TypeError(f"cwd must be a path, not {type(cwd).__name__}")
        self._command_arg = command
        self._cwd = os.fspath(cwd) if cwd is not None else None
        self._env: Optional[Dict[str, str]] = None if env is None else dict(env)
        self._argv: List[str] = []
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._stdin: Optional[io.RawIOBase] = None  # unbuffered: every message goes out at once
        self._stdout: Optional[IO[bytes]] = None
        self._stderr_tail = bytearray()
        self._stderr_lock = threading.Lock()
        self._stderr_thread: Optional[threading.Thread] = None
        self._close_lock = threading.Lock()
        self._on_death: Optional[Callable[[CodexTransportError], None]] = None
        self._eof = threading.Event()  # receive() saw the end of stdout
        self._reading = False  # the reader is inside receive(): stdout's lock is taken
        self._closed = False  # set first: sends fail from then on
        self._close_done = False  # set last: every step of close() ran

    def fresh(self) -> StdioTransport:
        """A new, unopened transport with the same command, folder and environment."""
        return StdioTransport(self._command_arg, cwd=self._cwd, env=self._env)

    # -- life cycle -------------------------------------------------------
    def open(self) -> None:
        argv, path_dir = resolve_command(self._command_arg)
        self._argv = argv
        env = dict(os.environ) if self._env is None else dict(self._env)  # the whole environment, as in Popen
        if path_dir:
            env["PATH"] = path_dir + os.pathsep + env.get("PATH", "")
        kwargs: Dict[str, object] = {}
        if sys.platform == "win32":  # pragma: no cover - not tested here
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=READ_BUFFER_BYTES,
                cwd=self._cwd,
                env=env,
                **kwargs,  # type: ignore[call-overload]
            )
        except FileNotFoundError as exc:
            raise CodexTransportError(
                f"cannot start {argv[0]!r}: no such file. Pass connect_stdio(command=[...]), set "
                f"${ENV_COMMAND}, put `codex` on PATH, or {_INSTALL_HINT}"
            ) from exc
        except OSError as exc:
            raise CodexTransportError(f"cannot start {shlex.join(argv)}: {exc}") from exc
        self._proc = proc  # from here on close() stops it, however open() ends
        stdin: Any = proc.stdin  # a BufferedWriter; we write to the pipe under it
        if sys.platform != "win32":  # a full pipe returns at once: writes keep their deadline
            os.set_blocking(stdin.fileno(), False)
        self._stdin = stdin.raw
        self._stdout = proc.stdout
        drain = threading.Thread(target=self._drain_stderr, name="codex-sync-stderr", daemon=True)
        drain.start()
        self._stderr_thread = drain  # only once started: close() joins it
        threading.Thread(target=self._watch_child, args=(proc,), name="codex-sync-child-watch", daemon=True).start()

    def on_death(self, callback: Callable[[CodexTransportError], None]) -> None:
        self._on_death = callback

    def _watch_child(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait (in ``waitpid``, no polling) for the child; fail the waiters if its stdout stays open.

        A wrapper (a shell script without ``exec``, an npm launcher) can die
        while the real server, its child, keeps our pipes open: then the end
        of stdout never comes. The group is killed, and if even that does not
        end the stream (a descendant detached into a session of its own), the
        connection is failed with the child's exit code.
        """
        try:
            code = proc.wait()
        except Exception:  # pragma: no cover - interpreter shutdown
            return
        if self._closed or self._eof.wait(_EOF_GRACE_SECONDS):
            return
        self._kill_group(proc.pid)
        if self._closed or self._eof.wait(_EOF_GRACE_SECONDS):
            return
        callback = self._on_death
        if callback is not None:
            log.warning("the app-server exited (code %s) but its output stays open: a process it started holds it", code)
            callback(self.failure(f"the app-server exited with code {code}"))

    def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        stream = self._proc.stderr
        read = getattr(stream, "read1", stream.read)
        try:
            while True:
                chunk = read(65536)
                if not chunk:
                    break
                with self._stderr_lock:
                    self._stderr_tail += chunk
                    if len(self._stderr_tail) > STDERR_TAIL_BYTES:
                        del self._stderr_tail[: len(self._stderr_tail) - STDERR_TAIL_BYTES]
        except (OSError, ValueError):
            pass

    # -- messages -----------------------------------------------------------
    def send(self, text: str) -> None:
        self.send_within(text, None)

    def send_within(self, text: str, deadline: Optional[float]) -> None:
        """Write one line; the pipe is non-blocking, so a server that stops reading costs only the deadline."""
        stdin = self._stdin
        if stdin is None or self._closed:
            raise self.failure("the app-server connection is closed")
        data = (text + "\n").encode("utf-8")
        try:
            # Straight to the pipe (the buffered writer over it is always empty):
            # one system call, no copy into a buffer and no separate flush.
            written = stdin.write(data) or 0
            while written < len(data):  # the pipe is full (or a signal cut a big write)
                if not self._wait_writable(deadline):
                    if written:
                        raise MessageCutError(
                            f"the app-server stopped reading its input: a message was cut after "
                            f"{written} of {len(data)} bytes; the connection is closed"
                        )
                    raise CodexTimeoutError("the app-server is not reading its input (its pipe is full)")
                written += stdin.write(memoryview(data)[written:]) or 0
        except (OSError, ValueError) as exc:
            raise self.failure(f"cannot write to the app-server: {exc}") from exc

    def _wait_writable(self, deadline: Optional[float]) -> bool:
        """Wait (in slices, Ctrl-C works) until the pipe takes more; ``False`` at the deadline."""
        stdin = self._stdin
        assert stdin is not None
        while True:
            wait = 0.25
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return False
            if select.select([], [stdin], [], wait)[1]:
                return True

    def receive(self) -> Optional[bytes]:
        stdout = self._stdout
        if stdout is None:
            return None
        self._reading = True
        try:
            line = stdout.readline()
        except (OSError, ValueError):
            line = b""
        finally:
            self._reading = False
        if not line:
            self._eof.set()
            return None
        return line

    # -- ending -----------------------------------------------------------
    @property
    def pid(self) -> Optional[int]:
        """The child's process id, once started."""
        return self._proc.pid if self._proc else None

    def exit_code(self, wait: float = 0.0) -> Optional[int]:
        """The child's exit status, waiting up to ``wait`` seconds for it."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=wait) if wait > 0 else self._proc.poll()
        except subprocess.TimeoutExpired:
            return None

    def stderr_tail(self) -> str:
        """The last part of what the child wrote to stderr, decoded leniently."""
        with self._stderr_lock:
            data = bytes(self._stderr_tail)
        return data.decode("utf-8", errors="replace")

    def failure(self, reason: str) -> CodexTransportError:
        code = self.exit_code(wait=0.5)
        if code is not None and self._stderr_thread is not None:
            self._stderr_thread.join(timeout=0.5)  # its last words arrive after stdout's EOF
        if code is not None and self._argv and "app-server" not in self._argv:
            reason += (
                f" (the command {shlex.join(self._argv)!r} has no `app-server`: to run the server it "
                "must be e.g. ['codex', 'app-server'])"
            )
        return CodexTransportError(reason, exit_code=code, stderr_tail=self.stderr_tail())

    def close(self) -> None:
        """Ask the server to exit (stdin EOF), then terminate, then kill its whole group.

        Idempotent and safe from any thread; a close cut short (Ctrl-C) is
        done again by the next call. Bounded: about 6 s at most.
        """
        with self._close_lock:
            if self._close_done:
                return
            self._closed = True  # no more sends from now on
        proc = self._proc
        if proc is None:
            self._close_done = True
            return
        if proc.stdin is not None:  # EOF asks the server to exit by itself
            try:
                proc.stdin.close()
            except (OSError, ValueError):
                pass
        if self.exit_code(wait=_CLOSE_WAIT_SECONDS) is None:
            proc.terminate()
            if self.exit_code(wait=_CLOSE_WAIT_SECONDS) is None:
                proc.kill()
                self.exit_code(wait=_CLOSE_WAIT_SECONDS)
        self._kill_group(proc.pid)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=_CLOSE_WAIT_SECONDS)
        stderr_open = self._stderr_thread is not None and self._stderr_thread.is_alive()
        for stream, busy in ((proc.stdout, self._reading), (proc.stderr, stderr_open)):
            if stream is None or busy:
                continue  # a thread blocked reading it holds its lock: closing would wait for it
            try:
                stream.close()
            except (OSError, ValueError):  # pragma: no cover - a concurrent read
                pass
        self._close_done = True

    @staticmethod
    def _kill_group(pid: int) -> None:
        """Kill what the server left behind in its session (shells it spawned)."""
        if sys.platform == "win32":  # pragma: no cover
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def describe(self) -> str:
        return "stdio:" + (shlex.join(self._argv) if self._argv else "codex app-server")
