"""Scripted peers for the scenario tests: the test plays the app-server.

A :class:`Peer` has the seed's transport shape (``connect()``,
``send(dict)``, ``recv() -> dict``, ``close()``), made synchronous. Most
scenarios plug it into codex_sync through :class:`PeerTransport` (codex_sync's
own ``Transport`` interface), so that what they measure is the behaviour
under test; the scenario about seed-style transports passes the peer to
``CodexClient`` directly.

Replies follow today's app-server shapes (``thread/start`` answers
``{"thread": {"id": ...}}``, ``turn/completed`` carries ``threadId`` and a
``turn`` object). The seed's own fakes answer in shorter shapes; one scenario
(``test_seed_shaped_replies_are_understood``) measures those on their own.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from codex_sync import CodexClient
from codex_sync.errors import CodexTransportError
from codex_sync.transports.base import Transport

_CLOSED = object()
JSON = Dict[str, Any]


class Peer:
    """A scripted app-server that answers every request with ``{}`` unless a subclass knows better."""

    def __init__(self) -> None:
        self.incoming: queue.Queue[Any] = queue.Queue()
        self.sent: List[JSON] = []
        self.connect_calls = 0
        self.close_calls = 0
        self._lock = threading.Lock()

    # -- the seed's transport interface, synchronous -----------------------
    def connect(self) -> None:
        self.connect_calls += 1

    def send(self, payload: Mapping[str, Any]) -> None:
        message = dict(payload)
        with self._lock:
            self.sent.append(message)
        if "method" in message and "id" in message:
            self.on_request(message)

    def recv(self) -> JSON:
        item = self.incoming.get()
        if item is _CLOSED:
            self.incoming.put(_CLOSED)
            raise CodexTransportError("peer closed")
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        self.close_calls += 1
        self.incoming.put(_CLOSED)

    # -- scripting -------------------------------------------------------------
    def on_request(self, message: JSON) -> None:
        method = message["method"]
        if method == "initialize":
            self.reply(message, {"userAgent": "scripted-peer/0.0.0", "platformOs": "linux"})
        else:
            self.reply(message, {})

    def push(self, *messages: Union[JSON, BaseException]) -> None:
        for message in messages:
            self.incoming.put(message)

    def reply(self, request: JSON, result: Any) -> None:
        self.push({"jsonrpc": "2.0", "id": request["id"], "result": result})

    def reply_error(self, request: JSON, code: int, message: str) -> None:
        self.push({"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": message}})

    def notify(self, method: str, params: JSON) -> None:
        self.push({"jsonrpc": "2.0", "method": method, "params": params})

    def ask(self, request_id: Union[int, str], method: str, params: JSON) -> None:
        """Send a server-to-client request."""
        self.push({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})

    # -- what the client sent ------------------------------------------------
    def snapshot(self) -> List[JSON]:
        with self._lock:
            return list(self.sent)

    def methods(self) -> List[Optional[str]]:
        return [message.get("method") for message in self.snapshot()]

    def requests(self, method: str) -> List[JSON]:
        return [m for m in self.snapshot() if m.get("method") == method and "id" in m]

    def params_of(self, method: str, index: int = 0) -> JSON:
        found = self.requests(method)
        assert found, f"the client sent no {method!r} request (it sent {self.methods()})"
        params = found[index].get("params")
        assert isinstance(params, dict), f"{method} params: {params!r}"
        return params

    def answers(self) -> List[JSON]:
        """Messages the client sent that answer a server request (an id, no method)."""
        return [m for m in self.snapshot() if "id" in m and "method" not in m]

    def wait_answer(self, request_id: Union[int, str], timeout: float = 2.0) -> JSON:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.answers():
                if message.get("id") == request_id:
                    return message
            time.sleep(0.005)
        raise AssertionError(f"no answer to server request {request_id!r} within {timeout}s (sent: {self.snapshot()})")


# ---------------------------------------------------------------- messages


def item_completed(thread_id: str, turn_id: str, item: JSON) -> JSON:
    return {"jsonrpc": "2.0", "method": "item/completed",
            "params": {"threadId": thread_id, "turnId": turn_id, "item": item}}


def turn_completed(thread_id: str, turn_id: str, status: str = "completed", error: Optional[JSON] = None) -> JSON:
    turn: JSON = {"id": turn_id, "status": status, "items": [], "error": error}
    return {"jsonrpc": "2.0", "method": "turn/completed", "params": {"threadId": thread_id, "turn": turn}}


def agent_delta(thread_id: str, turn_id: str, item_id: str, delta: str) -> JSON:
    return {"jsonrpc": "2.0", "method": "item/agentMessage/delta",
            "params": {"threadId": thread_id, "turnId": turn_id, "itemId": item_id, "delta": delta}}


def message(item_id: str, text: str) -> JSON:
    return {"id": item_id, "type": "agentMessage", "text": text}


def thread_result(thread_id: str) -> JSON:
    return {"thread": {"id": thread_id, "preview": "", "turns": []}}


def turn_result(turn_id: str) -> JSON:
    return {"turn": {"id": turn_id, "status": "inProgress", "items": []}}


class OneTurnPeer(Peer):
    """``thread/start`` → ``thread-1``; ``turn/start`` → ``turn-1`` followed by ``script(peer)``'s events."""

    def __init__(self, events: Optional[List[JSON]] = None, thread_id: str = "thread-1", turn_id: str = "turn-1") -> None:
        super().__init__()
        self.thread_id = thread_id
        self.turn_id = turn_id
        self.events = list(events or [])
        self.read_result: JSON = {"thread": {"id": thread_id, "turns": []}}

    def on_request(self, message_: JSON) -> None:
        method = message_["method"]
        if method == "thread/start":
            self.reply(message_, thread_result(self.thread_id))
        elif method == "thread/resume":
            self.reply(message_, thread_result(message_["params"].get("threadId", self.thread_id)))
        elif method == "turn/start":
            self.reply(message_, turn_result(self.turn_id))
            self.push(*self.events)
        elif method == "thread/read":
            self.reply(message_, self.read_result)
        else:
            super().on_request(message_)


# ---------------------------------------------------------------- adapters


class PeerTransport(Transport):
    """codex_sync's ``Transport`` interface over a :class:`Peer`."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    def open(self) -> None:
        self.peer.connect()

    def send(self, text: str) -> None:
        self.peer.send(json.loads(text))

    def receive(self) -> Optional[str]:
        try:
            return json.dumps(self.peer.recv())
        except CodexTransportError:
            return None

    def close(self) -> None:
        self.peer.close()

    def describe(self) -> str:
        return "scripted peer"


def client_for(peer: Peer, **options: Any) -> CodexClient:
    """An unstarted client over ``peer`` (options are passed as the seed would: by keyword)."""
    return CodexClient(PeerTransport(peer), **options)


# ---------------------------------------------------------------- waiting


class Background:
    """A call running on a daemon thread (the sync stand-in for an asyncio task)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._value = call()
        except BaseException as exc:  # re-raised in result()
            self._error = exc
        finally:
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float = 5.0) -> Any:
        if not self._done.wait(timeout):
            raise AssertionError(f"still blocked after {timeout}s")
        if self._error is not None:
            raise self._error
        return self._value

    def outcome(self, timeout: float = 5.0) -> Any:
        """The result, or the exception it raised (as ``gather(return_exceptions=True)``)."""
        try:
            return self.result(timeout)
        except AssertionError:
            raise
        except BaseException as exc:
            return exc


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``, failing the test if it is still blocked after ``seconds``."""
    return Background(call).result(seconds)


def wait_until(condition: Callable[[], bool], timeout: float = 2.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
