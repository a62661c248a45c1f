"""Run a command, and kill it when the process that started us dies: the websocket server's guard.

A websocket ``codex app-server`` reads nothing on stdin, so unlike a stdio
server it would outlive a test process that dies without closing it
(SIGKILL, SIGTERM, a crash): it would end up with PPID 1, still running.
:class:`~codex_sync.testing.websocket_server.WebsocketServer` therefore starts
it through this script::

    python -I -S orphan_guard.py COMMAND [ARG ...]

with stdin a pipe whose write end only the starting process holds. The guard

- starts ``COMMAND`` as its child (stdin ``/dev/null``, stdout and stderr
  inherited) and writes ``codex_sync orphan guard: pid <N>`` on stderr;
- when stdin reaches end of file, which the kernel makes happen however the
  starting process ends, kills the command with SIGKILL and, when the guard
  leads its own session (it is started with ``start_new_session=True``),
  everything else in its process group, itself included;
- passes SIGTERM, SIGINT and SIGHUP on to the command and exits with the
  command's status (``128 + N`` after signal ``N``) once it ends;
- on Linux also gives the command ``PR_SET_PDEATHSIG(SIGKILL)``, so it dies at
  once if the guard itself is killed. (Safe here: the guard's main thread,
  which forks it, lives as long as the guard; in the test process the signal
  would fire when the *thread* that started the server ends.)

Limit: a process forked without exec from the starting process (e.g.
``multiprocessing`` with the ``fork`` start method) inherits the pipe's write
end, and the guard sees end of file only when that one is gone too.

Standard library only, and no import from ``codex_sync``: it runs as a script.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Callable, List, Optional

#: What the guard writes on stderr once the command runs, followed by its pid.
PID_LINE = "codex_sync orphan guard: pid "


def _pdeathsig_hook() -> Optional[Callable[[], None]]:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when the guard dies (``None`` elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    guard_pid = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:  # in the child, between fork and exec; the guard has no other thread yet
        prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        if os.getppid() != guard_pid:  # the guard died before prctl took effect
            os._exit(1)

    return hook


def _watch_stdin(proc: subprocess.Popen[bytes], parent_gone: threading.Event) -> None:
    """Block until stdin ends, then kill the command (the main thread is waiting for it)."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    parent_gone.set()
    try:
        proc.kill()
    except OSError:
        pass


def _sweep_group() -> None:
    """Kill what is left in our process group (us included) if we lead our own session."""
    if hasattr(os, "killpg") and os.getsid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)


def main(argv: List[str]) -> int:
    """Run ``argv`` under the guard; return the exit status for the guard."""
    if not argv:
        sys.stderr.write("usage: orphan_guard.py COMMAND [ARG ...]\n")
        return 2
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=_pdeathsig_hook())
    except OSError as exc:
        sys.stderr.write(f"codex_sync orphan guard: cannot start {argv[0]!r}: {exc}\n")
        return 127
    sys.stderr.write(f"{PID_LINE}{proc.pid}\n")
    sys.stderr.flush()

    def forward(signum: int, frame: object) -> None:
        try:
            proc.send_signal(signum)
        except OSError:
            pass

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    parent_gone = threading.Event()
    threading.Thread(target=_watch_stdin, args=(proc, parent_gone), daemon=True).start()
    code = proc.wait()
    if parent_gone.is_set():
        _sweep_group()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
