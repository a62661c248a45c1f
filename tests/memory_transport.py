"""An in-memory transport for unit tests: the test plays the server."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any, List, Optional, Union

from codex_sync.errors import CodexTransportError
from codex_sync.transports.base import Transport

_EOF = object()


class MemoryTransport(Transport):
    """Messages the client sends land in ``sent``; ``feed`` plays server lines."""

    def __init__(self) -> None:
        self._incoming: queue.Queue[Any] = queue.Queue()
        self.sent: queue.Queue[dict] = queue.Queue()
        self.closed = threading.Event()
        self.opened = False

    def open(self) -> None:
        self.opened = True

    def send(self, text: str) -> None:
        if self.closed.is_set():
            raise CodexTransportError("closed")
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

    def drain_sent(self) -> List[dict]:
        out = []
        while not self.sent.empty():
            out.append(self.sent.get_nowait())
        return out
