"""One turn's state: the buffer of its events, its idle clock, how it ended.

The reader thread appends (:meth:`TurnState.deliver`); any number of callers
read from a cursor (:meth:`TurnState.wait_beyond`). Events are never removed
while the turn is known to the client, so a continuation resumes at its
cursor with nothing lost and nothing repeated.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List, Optional, Tuple, Union

from . import protocol
from .connection import wait_slice
from .errors import CodexTransportError
from .protocol import DeltaRun, Notification

_monotonic = time.monotonic  # (bound once: the reader calls it for every delta)


class RequestEvent(Notification):
    """A server request placed among a turn's events for manual answering."""

    __slots__ = ("request",)

    def __init__(self, request: Any) -> None:
        super().__init__(request.method, request.params, {"method": request.method, "params": request.params})
        self.request = request


class TurnState:
    """Events of one turn of one codex thread, as they arrive.

    ``events`` only grows. ``finished`` is set when ``turn/completed`` arrives,
    when the connection dies (``failure`` then holds the error), or when the
    request that starts the turn failed (``start_error``). The turn registry
    owns its life (claim, start, stop, forget); this class only buffers and
    wakes waiters.
    """

    def __init__(self, thread_id: str, on_finished: Callable[[TurnState], None]) -> None:
        self.thread_id = thread_id
        self.turn_id: Optional[str] = None
        self.events: List[Notification] = []
        self.status: Optional[str] = None
        self.error: Optional[dict[str, Any]] = None
        self.failure: Optional[CodexTransportError] = None
        self.start_error: Optional[BaseException] = None
        self.finished = False
        self.finished_at: Optional[float] = None
        self.last_activity = time.monotonic()
        self.handlers: Optional[Tuple[Any, Any]] = None  # (approval, user input) of this turn
        self.wants_deltas = False  # set by a reader with on_delta: a delta then wakes it
        # on_delta has had the deltas of the events before this index, and this many lines of the run at it
        self.deltas_delivered = 0
        self.delta_lines_delivered = 0
        # The server's latest error notification of this turn, and when its run of retries began.
        self.server_error: Optional[str] = None
        self.server_error_since: Optional[float] = None
        self._waiting = 0  # callers inside wait_beyond/wait_finished: notify only then
        self._woken = False  # a notify is on its way to them: no need for another
        self._cond = threading.Condition(threading.Lock())
        self._on_finished = on_finished

    def __repr__(self) -> str:
        return f"TurnState(thread={self.thread_id}, turn={self.turn_id}, events={len(self.events)})"

    # -- reader side (must never block) ------------------------------------
    def deliver(self, message: Notification) -> bool:
        """Take a notification of this thread; refuse one of another turn.

        Runs on the reader only. An ordinary event is appended without the
        lock (``list.append`` is atomic, and ``turn_id`` is written only on
        the reader); the lock is taken to wake a waiting caller (once per
        wait, see :meth:`_wait_until`) and to end the turn.
        """
        if self.finished:
            return False
        turn_id = message.turn_id
        if turn_id is not None:
            if self.turn_id is None:
                if message.method == protocol.TURN_STARTED:
                    self.turn_id = turn_id
            elif turn_id != self.turn_id:
                return False
        if message.method == protocol.TURN_COMPLETED and (turn_id is None or turn_id == self.turn_id):
            return self._complete(message)  # (one naming another turn, before ours is known, is kept)
        if message.method == protocol.ERROR_NOTIFICATION:
            self._note_server_error(message)
            if message.params.get("willRetry"):  # a retry is not progress: the idle clock runs on
                self.events.append(message)
                self._wake()
                return True
        self.events.append(message)
        self.last_activity = time.monotonic()
        if self._waiting and not self._woken:  # (inline: the hot path of every event)
            with self._cond:
                self._woken = True
                self._cond.notify_all()
        return True

    def _wake(self) -> None:
        if self._waiting and not self._woken:
            with self._cond:
                self._woken = True
                self._cond.notify_all()

    def _note_server_error(self, message: Notification) -> None:
        error = message.params.get("error")
        text = error.get("message") if isinstance(error, dict) else None
        if isinstance(text, str) and text:
            if self.server_error_since is None or not message.params.get("willRetry"):
                self.server_error_since = time.monotonic()
            self.server_error = text

    def describe_server_error(self) -> str:
        """``"; the server has been retrying for 84 s: <its last error>"``, or ``""`` if it said nothing."""
        if self.server_error is None or self.server_error_since is None:
            return ""
        return f"; the server has been retrying for {time.monotonic() - self.server_error_since:.0f} s: {self.server_error}"

    def _complete(self, message: Notification, *, kept: bool = False) -> bool:
        with self._cond:
            if self.finished:
                return False
            if not kept:
                self.events.append(message)
            self.last_activity = time.monotonic()
            turn = message.params.get("turn")
            turn = turn if isinstance(turn, dict) else {}
            self.status = str(turn.get("status") or "completed")
            error = turn.get("error")
            self.error = error if isinstance(error, dict) else self.error
            self.finished = True
            self.finished_at = time.monotonic()
            self._cond.notify_all()
        self._on_finished(self)
        return True

    def take_raw_delta(self, data: Union[bytes, str]) -> bool:
        """A delta for this thread: keep its line, unparsed, in a :class:`DeltaRun`.

        Runs on the reader only. The line joins the run that is the last
        event, or starts one. A reader with ``on_delta`` (``wants_deltas``) is
        woken, once per wait, to parse and pass it on; others are not (a delta
        completes no step). Returns ``False`` once the turn is finished.
        """
        if self.finished:
            return False
        events = self.events
        last = events[-1] if events else None
        if isinstance(last, DeltaRun):  # the open run is the last event: the line joins it
            last.lines.append(data)
        else:
            events.append(DeltaRun(data))
        self.last_activity = _monotonic()  # readers re-read it when their wait ends
        if self.wants_deltas:
            self._wake()  # after the append (see _wait_until)
        return True

    def set_turn_id(self, turn_id: str) -> None:
        """Record the id from the ``turn/start`` reply (runs on the reader).

        A turn that failed at once may have sent ``turn/completed`` before
        this reply (with no ``turn/started``): it was kept as an ordinary
        event, and ends the turn now.
        """
        with self._cond:
            if self.turn_id is not None:
                return
            self.turn_id = turn_id
            early = [m for m in self.events if m.method == protocol.TURN_COMPLETED and m.turn_id == turn_id]
        if early:
            self._complete(early[0], kept=True)

    def add_request(self, request: Any) -> bool:
        """Queue a server request for the reader of this turn (manual mode).

        Returns ``False`` if the turn is already over (the caller answers it).
        """
        with self._cond:
            if self.finished:
                return False
            self.events.append(RequestEvent(request))
            self.last_activity = time.monotonic()
            self._cond.notify_all()
        return True

    def touch(self) -> None:
        """Restart the idle clock (a server request for this turn arrived)."""
        with self._cond:
            self.last_activity = time.monotonic()
            self._cond.notify_all()

    def fail(self, error: CodexTransportError) -> None:
        """The connection died: wake every reader."""
        with self._cond:
            if self.finished:
                return
            self.failure = error
            self.finished = True
            self.finished_at = time.monotonic()
            self._cond.notify_all()
        self._on_finished(self)

    def refuse(self, error: BaseException) -> None:
        """The turn never started (its request was refused or never sent): end it now.

        Runs on the reader (an error reply) or in the caller.
        """
        with self._cond:
            if self.finished:
                return
            self.start_error = error
            self.finished = True
            self.finished_at = time.monotonic()
            self._cond.notify_all()
        self._on_finished(self)

    # -- caller side ------------------------------------------------------
    def wait_beyond(self, cursor: int, deadline: Optional[float]) -> bool:
        """Block until an event exists at ``cursor`` or the turn is finished.

        Returns ``False`` if ``deadline`` (a :func:`time.monotonic` value,
        ``None`` for no limit) passes first. Waits in slices (Ctrl-C works).
        """
        return self._wait_until(lambda: len(self.events) > cursor or self.finished, deadline)

    def wait_beyond_run(self, index: int, seen_lines: int, deadline: Optional[float]) -> bool:
        """Block until the run at ``index`` has more than ``seen_lines`` lines, a later event exists, or the end.

        For a reader with ``on_delta`` parked on an open :class:`DeltaRun`.
        Returns ``False`` if ``deadline`` passes first.
        """
        run = self.events[index]
        lines = run.lines if isinstance(run, DeltaRun) else []
        return self._wait_until(
            lambda: len(self.events) > index + 1 or self.finished or len(lines) > seen_lines, deadline
        )

    def wait_finished(self, deadline: Optional[float]) -> bool:
        """Block until the turn is finished or ``deadline`` passes."""
        return self._wait_until(lambda: self.finished, deadline)

    def _wait_until(self, done: Callable[[], bool], deadline: Optional[float]) -> bool:
        """Wait, lock held, until ``done()``; ``False`` if ``deadline`` passes first.

        ``_waiting`` is raised before ``done()`` is first checked, so an event
        the reader appends after that check finds a waiter and takes the lock
        to notify, which it gets only once this thread is inside ``wait``.
        ``_woken`` is cleared before each check, so the reader notifies once
        per wait instead of once per event.
        """
        slice_ = wait_slice()
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    self._woken = False
                    if done():
                        return True
                    remaining = slice_
                    if deadline is not None:
                        remaining = min(remaining, deadline - time.monotonic())
                        if remaining <= 0:
                            return False
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1
