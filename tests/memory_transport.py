"""An in-memory transport for unit tests: the test plays the server."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Callable, List, Optional, Tuple, Union

from codex_sync.connection import Connection
from codex_sync.errors import CodexTransportError
from codex_sync.protocol import Notification, ServerRequest
from codex_sync.transports.base import Transport

_EOF = object()


class MemoryTransport(Transport):
    """Messages the client sends land in ``sent``; ``feed`` plays server lines."""

    def __init__(self) -> None:
        self._incoming: queue.Queue[Any] = queue.Queue()
        self.sent: queue.Queue[dict] = queue.Queue()
        self.closed = threading.Event()

    def open(self) -> None:
        pass

    def send(self, text: str) -> None:
        if self.closed.is_set():
            raise CodexTransportError("closed")
        text.encode("utf-8")  # as every real transport does before a byte goes out
        self.sent.put(json.loads(text))

    def receive(self) -> Optional[Union[bytes, str]]:
        item = self._incoming.get()
        if item is _EOF:
            self._incoming.put(_EOF)
            return None
        return item  # type: ignore[no-any-return]

    def feed(self, *lines: Union[bytes, str, dict]) -> None:
        for line in lines:
            self._incoming.put(json.dumps(line) if isinstance(line, dict) else line)

    def end(self) -> None:
        self._incoming.put(_EOF)

    def close(self) -> None:
        self.closed.set()
        self.end()

    def describe(self) -> str:
        return "memory"

    def next_sent(self, timeout: float = 5.0) -> dict:
        return self.sent.get(timeout=timeout)


def connected() -> Tuple[Connection, MemoryTransport, List[Notification], List[ServerRequest]]:
    """A started connection over a new transport, with what it routes nowhere else.

    Returns the connection, the transport, the notifications no subscriber
    took, and the server requests.
    """
    transport = MemoryTransport()
    unrouted: List[Notification] = []
    requests: List[ServerRequest] = []
    conn = Connection(transport, on_server_request=requests.append, on_unrouted=unrouted.append)
    conn.start()
    return conn, transport, unrouted, requests


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds or ``timeout`` passes (the caller asserts after)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
