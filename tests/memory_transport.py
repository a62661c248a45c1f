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


class ScriptedTransport(MemoryTransport):
    """A MemoryTransport that plays a tiny app-server: it answers each request the client sends.

    ``initialize`` gets a user agent; ``thread/start`` and ``thread/resume``
    give ``thread-1`` (or the id asked for); ``turn/start`` gives ``turn-N``
    and then feeds ``turn_events(thread_id, turn_id)``; everything else gets
    ``{}`` unless a test sets ``results[method]`` (a value, or a function of
    the request). ``log`` lists every message the client sent.
    """

    def __init__(self, turn_events: Optional[Callable[[str, str], List[dict]]] = None) -> None:
        super().__init__()
        self.log: List[dict] = []
        self.results: dict = {}
        self.turn_events = turn_events
        self._turns = 0
        self._lock = threading.Lock()

    def send(self, text: str) -> None:
        super().send(text)
        message = json.loads(text)
        with self._lock:
            self.log.append(message)
        if "method" in message and "id" in message:
            self.handle(message)

    def handle(self, request: dict) -> None:
        method, params = request["method"], request.get("params") or {}
        if method in self.results:
            result = self.results[method]
            self.reply(request, result(request) if callable(result) else result)
        elif method == "initialize":
            self.reply(request, {"userAgent": "memory/0.0.0"})
        elif method in ("thread/start", "thread/resume"):
            self.reply(request, {"thread": {"id": params.get("threadId", "thread-1"), "turns": []}})
        elif method == "turn/start":
            self._turns += 1
            turn_id = f"turn-{self._turns}"
            self.reply(request, {"turn": {"id": turn_id, "status": "inProgress", "items": []}})
            if self.turn_events is not None:
                self.feed(*self.turn_events(params["threadId"], turn_id))
        else:
            self.reply(request, {})

    def reply(self, request: dict, result: Any) -> None:
        self.feed({"id": request["id"], "result": result})

    def fail(self, request: dict, code: int, message: str) -> None:
        self.feed({"id": request["id"], "error": {"code": code, "message": message}})

    def ask(self, request_id: Any, method: str, params: dict) -> None:
        """Send a server request to the client."""
        self.feed({"id": request_id, "method": method, "params": params})

    def notify(self, method: str, params: dict) -> None:
        self.feed({"method": method, "params": params})

    def requests(self, method: str) -> List[dict]:
        with self._lock:
            return [m for m in self.log if m.get("method") == method and "id" in m]

    def answer_to(self, request_id: Any, timeout: float = 5.0) -> Optional[dict]:
        """The client's answer to server request ``request_id`` (``None`` if none came in time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for m in self.log:
                    if m.get("id") == request_id and "method" not in m:
                        return m
            time.sleep(0.005)
        return None


def item_completed(thread_id: str, turn_id: str, item: dict) -> dict:
    return {"method": "item/completed", "params": {"threadId": thread_id, "turnId": turn_id, "item": item}}


def turn_completed(thread_id: str, turn_id: str, status: str = "completed", error: Optional[dict] = None) -> dict:
    return {"method": "turn/completed",
            "params": {"threadId": thread_id, "turn": {"id": turn_id, "status": status, "items": [], "error": error}}}


def agent_message(item_id: str, text: str) -> dict:
    return {"id": item_id, "type": "agentMessage", "text": text}
