"""Client life cycle: ``start`` is idempotent, ``with`` does not reconnect, factories do not connect.

Scenarios of the seed's ``test_client_lifecycle.py``. The seed swaps its
stdio transport class for a fake to see that ``connect_stdio`` does not
spawn; here a real child process reports when it starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conformance.fakes import Peer, client_for, wait_until

CHILD = (
    "import os, sys, pathlib\n"
    "pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))\n"
    "sys.stdin.read()\n"
)


def test_start_and_close_are_idempotent() -> None:
    peer = Peer()
    client = client_for(peer)
    client.start()
    client.start()
    assert peer.connect_calls == 1
    client.close()
    client.close()
    assert peer.close_calls == 1


def test_with_on_a_started_client_does_not_reconnect() -> None:
    peer = Peer()
    client = client_for(peer)
    client.start()
    assert peer.connect_calls == 1
    with client as managed:
        assert managed is client
    assert peer.connect_calls == 1
    assert peer.close_calls == 1


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie still answers kill(0): it has exited if its status says so
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status


def test_connect_stdio_returns_an_unstarted_client(tmp_path: Path) -> None:
    from codex_sync import CodexClient

    marker = tmp_path / "started"
    client = CodexClient.connect_stdio(command=[sys.executable, "-c", CHILD, str(marker)])
    assert isinstance(client, CodexClient)
    assert not marker.exists(), "connect_stdio spawned the server before start()"
    with client:
        wait_until(lambda: marker.exists() and marker.read_text() != "", 10, "the server to start")
        pid = int(marker.read_text())
    wait_until(lambda: _gone(pid), 10, "the server to exit after close")
