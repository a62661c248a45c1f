"""Re-establishing a dropped websocket and resuming every running turn in place (opt-in).

When the connection drops (not closed by us) and the client was made with
``reconnect=True``, the session hands the running turns to
:class:`Reconnector` instead of failing them. Its thread
(``codex-sync-reconnect``, one per drop, ending when done) opens a fresh
connection with a bounded, jittered backoff and runs ``initialize`` on it;
then, for each running turn, it loads the thread again, reads the items
completed meanwhile (``thread/turns/list``) and delivers them, then the live
events it buffered, then lets live events through: iterators and
``chat_once`` calls just go on, with no step lost or repeated (the
transcript drops an item it already has). Requests that were in flight
failed with :class:`CodexTransportError` (their effect is unknown). A turn
the server no longer knows (it was restarted) fails with an error that says
so; if no connection can be made, every turn fails with the last error.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Dict, List, Optional, Union

from . import protocol
from .connection import Subscriber
from .conversation import turn_events
from .errors import CodexError, CodexTransportError
from .protocol import Notification
from .session import ClientState, Session
from .turns import TurnState

log = logging.getLogger("codex_sync.reconnect")


class ReconnectPolicy:
    """How hard to try: ``attempts`` connections, waiting ``first_delay`` doubling up to ``max_delay`` (jittered)."""

    def __init__(self, attempts: int = 10, first_delay: float = 0.2, max_delay: float = 5.0) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"reconnect attempts must be an int >= 1, not {attempts!r}")
        if not 0 < first_delay <= max_delay:
            raise ValueError("reconnect delays must satisfy 0 < first_delay <= max_delay")
        self.attempts = attempts
        self.first_delay = first_delay
        self.max_delay = max_delay

    def delay(self, attempt: int) -> float:
        """The pause before ``attempt`` (0-based)."""
        return float(min(self.max_delay, self.first_delay * (2 ** attempt)) * random.uniform(0.5, 1.0))


class _Buffer:
    """Holds a turn's live events while its backfill is read, then forwards them."""

    def __init__(self, state: TurnState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._held: List[Notification] = []
        self._forwarding = False

    def deliver(self, message: Notification) -> bool:
        with self._lock:
            if not self._forwarding:
                self._held.append(message)
                return True
        return self.state.deliver(message)

    def take_raw_delta(self, data: Union[bytes, str]) -> bool:
        with self._lock:
            if not self._forwarding:
                return False  # parsed and held with the rest
        return self.state.take_raw_delta(data)

    def fail(self, error: CodexTransportError) -> None:
        self.state.fail(error)

    def release(self, backfill: List[Notification]) -> None:
        """Deliver the backfill, then what was held, then let live events through."""
        with self._lock:
            for message in backfill + self._held:
                self.state.deliver(message)
            self._held = []
            self._forwarding = True


class Reconnector:
    """Takes over the turns of a dropped connection and resumes them on a new one.

    One reconnect runs at a time: turns handed over while it runs (the new
    connection dropped too) join its queue, and it goes on until none is left.
    """

    def __init__(self, session: Session, policy: ReconnectPolicy, request_timeout: float = 30.0) -> None:
        self._session = session
        self._policy = policy
        self._request_timeout = request_timeout
        self._lock = threading.Lock()
        self._queue: Dict[str, TurnState] = {}
        self._running = False
        self._last_error: BaseException = CodexTransportError("the connection dropped")

    def dropped(self, error: CodexTransportError, subscribers: Dict[str, Subscriber]) -> None:
        """On the reader: queue the connection's turns and start the reconnect thread if none runs. Never blocks."""
        log.warning("the connection to the app-server dropped (%s); reconnecting", error)
        with self._lock:
            for thread_id, subscriber in subscribers.items():
                state = subscriber.state if isinstance(subscriber, _Buffer) else subscriber
                if isinstance(state, TurnState):
                    self._queue[thread_id] = state
                else:  # pragma: no cover - only turns subscribe
                    subscriber.fail(error)
            self._last_error = error
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, name="codex-sync-reconnect", daemon=True).start()

    def _run(self) -> None:
        self._session.reconnector_thread = threading.current_thread()
        try:
            while True:
                if not self._connect():
                    with self._lock:
                        states, self._queue = list(self._queue.values()), {}
                    failure = CodexTransportError(f"the connection dropped and could not be made again: "
                                                  f"{self._last_error}")
                    for state in states:
                        state.fail(failure)
                    return
                with self._lock:
                    batch, self._queue = dict(self._queue), {}
                for thread_id, state in batch.items():
                    self._resume(thread_id, state)
                with self._lock:
                    if not self._queue and self._session.alive:
                        return
        finally:
            with self._lock:
                again = bool(self._queue) and self._session.state is not ClientState.CLOSED
                self._running = again  # a drop that came after the last look: go round once more
                if not again:
                    self._session.reconnected()
            if again:
                threading.Thread(target=self._run, name="codex-sync-reconnect", daemon=True).start()

    def _connect(self) -> bool:
        """A live new connection (the current one, if it still lives), within the policy's attempts."""
        if self._session.alive:
            return True
        for attempt in range(self._policy.attempts):
            if self._session.state is ClientState.CLOSED:
                return False
            time.sleep(self._policy.delay(attempt))
            try:
                self._session.replace_connection()
            except (CodexError, OSError) as exc:
                self._last_error = exc
                log.info("reconnect attempt %d failed: %s", attempt + 1, exc)
                continue
            log.warning("reconnected to the app-server after %d attempt(s)", attempt + 1)
            return True
        return False

    def _resume(self, thread_id: str, state: TurnState) -> None:
        """Follow ``state`` on the new connection: buffer live events, backfill, then let them through.

        If this connection drops too, the turn comes back through :meth:`dropped`.
        """
        if state.finished:
            return
        buffer = _Buffer(state)
        turn: Optional[Dict[str, Any]] = None
        try:
            self._session.subscribe(thread_id, buffer)
            self._session.request(protocol.THREAD_RESUME, {"threadId": thread_id, "excludeTurns": True},
                                  self._request_timeout)
            page = self._session.request(protocol.THREAD_TURNS_LIST,
                                         {"threadId": thread_id, "itemsView": "full", "limit": 20},
                                         self._request_timeout)
            turns = [t for t in (page or {}).get("data") or [] if isinstance(t, dict) and t.get("id") == state.turn_id]
            turn = turns[0] if turns else None
        except CodexTransportError:
            with self._lock:
                self._queue.setdefault(thread_id, state)  # dropped again: the next round takes it
            return
        except CodexError as exc:
            self._session.unsubscribe(thread_id, buffer)
            state.fail(CodexTransportError(f"after reconnecting, turn {state.turn_id} could not be followed: {exc}"))
            return
        if turn is None:
            self._session.unsubscribe(thread_id, buffer)
            state.fail(CodexTransportError(
                f"after reconnecting, the app-server does not know turn {state.turn_id} any more "
                "(it was restarted: turns that were running are gone)"
            ))
            return
        self._session.mark_loaded(thread_id, resumable=True)
        buffer.release(turn_events(turn, thread_id))
