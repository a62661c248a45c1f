"""The turn registry: every running turn of one client, and each turn's whole life.

One :class:`TurnRegistry` per client owns, under one lock (``_lock``):

- the running turn of each codex thread (``_active``): a turn *claims* its
  thread before its request goes out, and turns on one thread run one at a
  time (a second caller waits);
- the turns a continuation can still reach (``_by_turn_id``), kept
  :data:`RETAINED_TURN_SECONDS` after they end, at most
  :data:`RETAINED_TURN_LIMIT` of them;
- turn settings deferred to a thread's next turn (``_overrides``);
- the approval/user-input handlers of each thread (``_handlers``).

It starts turns (:meth:`start`), stops them (:meth:`stop`, bounded by
:data:`STOP_DRAIN_SECONDS`), stops abandoned ones from its janitor thread
(:meth:`stop_later`, safe from a finalizer: it takes no lock), cancels them
(:meth:`cancel`) and forgets them. Every cleanup runs for any exception,
``KeyboardInterrupt`` included. It answers the dispatcher's
:class:`~codex_sync.server_requests.TurnLookup` questions.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import protocol
from .config import TurnOverrides
from .errors import (
    CodexError,
    CodexOverloadedError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
)
from .session import Session
from .transcript import Transcript
from .turns import TurnState
from .values import CancelResult, ChatContinuation

log = logging.getLogger("codex_sync")

# A completed turn nobody reads any more is kept this long, and at most this many.
RETAINED_TURN_SECONDS = 600.0
RETAINED_TURN_LIMIT = 64
PRUNE_EVERY_SECONDS = 60.0
# Ctrl-C and early exit wait this long at most for the interrupted turn to end.
STOP_DRAIN_SECONDS = 10.0
# Handlers of this many codex threads are kept at most (the oldest set are dropped).
THREAD_HANDLERS_LIMIT = 10_000
# Threads this client keeps subscribed, at most and at the longest idle (see TurnRegistry).
MAX_LOADED_THREADS = 100
THREAD_IDLE_SECONDS = 1800.0
_UNLOAD = "unload"  # a janitor job: unsubscribe threads over the limits

Handlers = Tuple[Any, Any]


class TurnRegistry:
    """The running and retained turns of one client. Every method: any thread."""

    def __init__(
        self,
        session: Session,
        *,
        max_loaded_threads: int = MAX_LOADED_THREADS,
        thread_idle_seconds: Optional[float] = THREAD_IDLE_SECONDS,
    ) -> None:
        self._session = session
        self.max_loaded_threads = max_loaded_threads
        self.thread_idle_seconds = thread_idle_seconds
        self._lock = threading.Condition(threading.Lock())
        self._active: Dict[str, TurnState] = {}
        self._by_turn_id: Dict[str, TurnState] = {}
        self._overrides: Dict[str, TurnOverrides] = {}
        self._handlers: OrderedDict[str, Handlers] = OrderedDict()
        self._cancelled: OrderedDict[str, None] = OrderedDict()  # turn ids cancel() ended here (bounded)
        self._last_prune = time.monotonic()
        self._janitor_jobs: queue.SimpleQueue[Union[TurnState, str, None]] = queue.SimpleQueue()
        self._janitor: Optional[threading.Thread] = None
        self._closed = False

    # -- starting a turn ----------------------------------------------------------
    def start(
        self,
        thread_id: str,
        method: str,
        params: Dict[str, Any],
        *,
        timeout: Optional[float],
        handlers: Optional[Handlers] = None,
        wants_deltas: bool = False,
        idle_limit: Optional[float] = None,
        with_overrides: bool = False,
    ) -> TurnState:
        """Claim ``thread_id``, send the request that starts a turn, and track the turn.

        Blocks while another turn of this client runs on the thread (with
        ``idle_limit``, gives up with :class:`CodexTimeoutError` once that
        turn has been silent so long), then for the request's reply (up to
        ``timeout``). ``with_overrides`` adds the settings deferred to this
        thread's next turn (``turn/start`` only); they stay deferred if the
        turn does not start. ``wants_deltas`` must be known before the
        request goes out: deltas of a turn nobody reads are skipped from its
        first message on.

        On Ctrl-C the turn is stopped (bounded) before ``KeyboardInterrupt``
        propagates; on a timeout it is stopped in the background; when the
        request was refused or never sent the thread is free at once.
        """
        self._start_janitor()
        try:
            state = self._start_once(thread_id, method, params, timeout, handlers, wants_deltas, idle_limit,
                                     with_overrides)
        except CodexProtocolError as exc:
            if exc.code != protocol.INVALID_REQUEST or "thread not found" not in str(exc):
                raise
            # The server unloaded the thread (idle, no subscriber): load it again and try once more.
            log.info("thread %s was unloaded by the server; resuming it", thread_id)
            self._session.mark_unloaded(thread_id)
            state = self._start_once(thread_id, method, params, timeout, handlers, wants_deltas, idle_limit,
                                     with_overrides)
        if self._session.loaded_count() > self.max_loaded_threads:
            self._janitor_jobs.put(_UNLOAD)
        return state

    def _start_once(
        self, thread_id: str, method: str, params: Dict[str, Any], timeout: Optional[float],
        handlers: Optional[Handlers], wants_deltas: bool, idle_limit: Optional[float], with_overrides: bool,
    ) -> TurnState:
        state = self._claim(thread_id, idle_limit)
        state.wants_deltas = wants_deltas
        if handlers is not None and (handlers[0] is not None or handlers[1] is not None):
            state.handlers = handlers
        deferred: Optional[TurnOverrides] = None
        try:
            self._ensure_loaded(thread_id, timeout)
            if with_overrides:
                deferred = self._take_overrides(thread_id)
                if deferred is not None:
                    params = {**deferred.to_params(), **params}
            self._send_start(state, method, params, timeout)
        except BaseException as exc:
            if state.turn_id is None:  # it did not start: the settings wait for the next turn
                self._restore_overrides(thread_id, deferred)
            self._after_failed_start(state, exc)
            raise
        self._session.touch_thread(thread_id)
        self._register(state)
        return state

    def _ensure_loaded(self, thread_id: str, timeout: Optional[float]) -> None:
        """Under the claim: subscribe again to a thread unloaded since the caller looked (``thread/resume``).

        A thread with no rollout yet cannot be resumed: the turn goes ahead
        and the server says what it thinks of it.
        """
        if self._session.is_loaded(thread_id):
            return
        try:
            self._session.request(protocol.THREAD_RESUME, {"threadId": thread_id, "excludeTurns": True}, timeout)
        except CodexProtocolError as exc:
            if "no rollout found" not in str(exc):
                raise
            log.debug("thread %s has no rollout yet; starting the turn without a resume", thread_id)

    def _send_start(self, state: TurnState, method: str, params: Dict[str, Any], timeout: Optional[float]) -> None:
        def on_reply(result: Any, error: Optional[BaseException]) -> None:  # on the reader
            if isinstance(error, CodexOverloadedError):
                return  # the session retries it: the turn may still start (a last refusal is handled below)
            if error is not None:
                state.refuse(error)
                return
            turn_id = protocol.id_in_result(result, "turn")
            if turn_id is not None:
                state.set_turn_id(turn_id)

        self._session.request(method, params, timeout, on_reply=on_reply)

    def _after_failed_start(self, state: TurnState, error: BaseException) -> None:
        """Free the thread, or stop a turn that may have started, after its start failed."""
        if state.finished:
            return  # refused, or the connection died: the claim is released
        if isinstance(error, CodexTimeoutError):
            self._register(state)
            self.stop_later(state)  # it may start after all: stop it then
        elif isinstance(error, (TypeError, ValueError, CodexError)):
            state.refuse(error)  # raised before anything went out
        else:  # Ctrl-C (or another BaseException) while the reply was on its way
            self.stop(state, reason=type(error).__name__)

    def _claim(self, thread_id: str, idle_limit: Optional[float]) -> TurnState:
        """Wait until no turn of ours runs on ``thread_id``, then own it."""
        with self._lock:
            while thread_id in self._active:
                self._session.check_alive()
                busy = self._active[thread_id]
                silent = time.monotonic() - busy.last_activity
                if idle_limit is not None and silent > idle_limit:
                    raise CodexTimeoutError(
                        f"thread {thread_id} is busy with turn {busy.turn_id}, silent for {silent:.1f}s; "
                        "cancel it with client.cancel(<its continuation>) or "
                        f"client.interrupt_turn({busy.turn_id!r}, thread_id={thread_id!r})"
                    )
                self._lock.wait(0.25)
            state = TurnState(thread_id, self._finished)
            self._active[thread_id] = state
        try:
            self._session.subscribe(thread_id, state)
        except BaseException as exc:
            state.refuse(exc)  # frees the thread
            raise
        return state

    def _finished(self, state: TurnState) -> None:
        """Runs (on the reader, usually) when a turn ends, fails or is refused."""
        self._session.unsubscribe(state.thread_id, state)
        with self._lock:
            if self._active.get(state.thread_id) is state:
                del self._active[state.thread_id]
            self._lock.notify_all()

    def _register(self, state: TurnState) -> None:
        """Remember a started turn for continuations; drop old unread ones now and then.

        A turn whose id is not known yet (a compaction, before it announces
        itself) is not remembered: nothing can continue it.
        """
        now = time.monotonic()
        with self._lock:
            if state.turn_id is None:
                return
            self._by_turn_id[state.turn_id] = state
            if len(self._by_turn_id) <= RETAINED_TURN_LIMIT and now - self._last_prune < PRUNE_EVERY_SECONDS:
                return  # nothing can be over the limit, and the age check ran recently
            self._last_prune = now
            finished = [s for s in self._by_turn_id.values() if s.finished and s.finished_at is not None]
            stale = [s for s in finished if now - (s.finished_at or now) > RETAINED_TURN_SECONDS]
            finished.sort(key=lambda s: s.finished_at or 0.0)
            stale += finished[: max(0, len(finished) - RETAINED_TURN_LIMIT)]
            for s in stale:
                if s.turn_id is not None:
                    self._by_turn_id.pop(s.turn_id, None)

    # -- turns another client started -------------------------------------------------------
    def adopt(self, thread_id: str, turn_id: str) -> TurnState:
        """Claim ``thread_id`` for turn ``turn_id``, started by another client (a travelled continuation).

        Blocks while a turn of this client runs on the thread. The caller
        loads the thread (which starts the events), then calls :meth:`track`,
        or ``state.refuse(error)`` to let the thread go.
        """
        self._start_janitor()
        state = self._claim(thread_id, None)
        state.set_turn_id(turn_id)
        return state

    def track(self, state: TurnState) -> None:
        """Remember an adopted turn for continuations, as :meth:`start` does for its own."""
        self._register(state)

    # -- finding turns --------------------------------------------------------------
    def find(self, continuation: ChatContinuation) -> TurnState:
        """The turn a continuation names.

        Raises :class:`ValueError` if this client has no such turn,
        :class:`CodexForkError` in a process forked after the client was made.
        """
        if not isinstance(continuation, ChatContinuation):
            raise TypeError(f"continuation must be a ChatContinuation, not {type(continuation).__name__}")
        self._session.check_pid()
        with self._lock:
            state = self._by_turn_id.get(continuation.turn_id)
        if state is None or state.thread_id != continuation.thread_id:
            raise ValueError(
                f"unknown continuation for turn {continuation.turn_id}: it was issued by another "
                "client, already finished and read, cancelled, or expired "
                f"(completed turns are kept {RETAINED_TURN_SECONDS:.0f}s)"
            )
        if not 0 <= continuation.cursor <= len(state.events):
            raise ValueError(f"continuation cursor {continuation.cursor} is out of range")
        return state

    def was_cancelled(self, turn_id: str) -> bool:
        """Whether :meth:`cancel` ended this turn on this client (its continuations are spent)."""
        with self._lock:
            return turn_id in self._cancelled

    def deliver_by_turn(self, message: protocol.Notification) -> bool:
        """Give a notification naming a turn but no thread (the async SDK's fakes) to that running turn."""
        turn_id = message.turn_id
        if turn_id is None:
            return False
        with self._lock:
            state = next((s for s in self._active.values() if s.turn_id == turn_id), None)
        return state is not None and state.deliver(message)

    def thread_of_turn(self, turn_id: str) -> Optional[str]:
        """The codex thread of a turn this client knows, if any."""
        with self._lock:
            state = self._by_turn_id.get(turn_id)
        return state.thread_id if state is not None else None

    def forget(self, state: TurnState) -> None:
        """Drop a turn from the continuation registry (its reader is done with it)."""
        with self._lock:
            if state.turn_id is not None and self._by_turn_id.get(state.turn_id) is state:
                del self._by_turn_id[state.turn_id]

    # -- stopping -------------------------------------------------------------------
    def stop(self, state: TurnState, reason: str) -> None:
        """Interrupt a turn nobody will read on, wait (bounded) for its end, and forget it.

        Waits at most :data:`STOP_DRAIN_SECONDS` in all, also for a start
        reply still on its way. Never raises a :class:`CodexError`.
        """
        deadline = time.monotonic() + STOP_DRAIN_SECONDS
        try:
            while state.turn_id is None and not state.finished and time.monotonic() < deadline:
                state.wait_beyond(len(state.events), min(deadline, time.monotonic() + 0.25))
            self._interrupt(state, max(0.1, deadline - time.monotonic()))
            if not state.wait_finished(deadline):
                log.warning(
                    "turn %s did not end within %.0fs of being interrupted (%s)",
                    state.turn_id, STOP_DRAIN_SECONDS, reason,
                )
        except CodexError as exc:
            log.debug("stopping turn %s after %s: %s", state.turn_id, reason, exc)
        finally:
            self.forget(state)

    def stop_later(self, state: TurnState) -> None:
        """Stop a turn from the janitor thread (an abandoned stream). Takes no lock: finalizers may call it."""
        self._janitor_jobs.put(state)

    def _interrupt(self, state: TurnState, timeout: Optional[float], *, refusal_raises: bool = False) -> None:
        """``turn/interrupt`` for a running turn; a refusal is logged (raised: ``refusal_raises``) unless it ended."""
        if state.finished or state.turn_id is None or not self._session.alive:
            return
        try:
            self._session.request(
                protocol.TURN_INTERRUPT, {"threadId": state.thread_id, "turnId": state.turn_id}, timeout
            )
        except CodexProtocolError as exc:  # "no active turn": it is over already
            if refusal_raises and not state.finished:
                raise
            log.debug("turn/interrupt for %s: %s", state.turn_id, exc)

    def _start_janitor(self) -> None:
        if self._janitor is not None:
            return
        with self._lock:
            if self._janitor is None and not self._closed:
                self._janitor = threading.Thread(target=self._run_janitor, name="codex-sync-janitor", daemon=True)
                self._janitor.start()

    def _run_janitor(self) -> None:
        while True:
            try:
                job = self._janitor_jobs.get(timeout=PRUNE_EVERY_SECONDS)
            except queue.Empty:  # now and then: threads idle for too long
                job = _UNLOAD if self.thread_idle_seconds is not None else ""
            if job is None:
                return
            if isinstance(job, TurnState):
                if job.finished or not self._session.alive:
                    self.forget(job)
                else:
                    self.stop(job, reason="abandoned")
            elif job == _UNLOAD:
                self._unload_idle_threads()

    def _unload_idle_threads(self) -> None:
        """Unsubscribe threads over ``max_loaded_threads`` or idle ``thread_idle_seconds`` (janitor only).

        Each is claimed first, so no turn starts on it meanwhile; a turn that
        comes later finds it unloaded and resumes it under its own claim.
        """
        for thread_id in self._session.unload_candidates(self.max_loaded_threads, self.thread_idle_seconds):
            with self._lock:
                if thread_id in self._active or self._closed:
                    continue
                placeholder = TurnState(thread_id, self._finished)
                self._active[thread_id] = placeholder
            try:
                self._session.request(protocol.THREAD_UNSUBSCRIBE, {"threadId": thread_id}, 30.0)
                self._session.mark_unloaded(thread_id)
            except CodexError as exc:
                log.debug("thread/unsubscribe of %s: %s", thread_id, exc)
                if not self._session.alive:
                    return
            finally:
                placeholder.refuse(CodexError("unsubscribed"))  # frees the thread for turns

    def cancel(
        self, state: TurnState, cursor: int, timeout: Optional[float], seen_items: Sequence[str] = ()
    ) -> CancelResult:
        """Interrupt the turn if it runs, wait for its end, and return what is unread after ``cursor``.

        One deadline (``timeout`` seconds, ``None`` for no limit) covers the
        interrupt and the wait. The turn is forgotten. Raises
        :class:`CodexTimeoutError` if it does not end in time,
        :class:`CodexProtocolError` (the server's error) if the server refused
        the interrupt of a turn that still runs (the turn is kept: cancel it
        again or read on), :class:`CodexTransportError` if the connection
        died first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        was_finished = state.finished
        self._interrupt(
            state, None if deadline is None else max(0.001, deadline - time.monotonic()), refusal_raises=True
        )
        if not state.wait_finished(deadline):
            raise CodexTimeoutError(f"turn {state.turn_id} did not end within {timeout:g}s of turn/interrupt")
        transcript = Transcript(state.thread_id, state.turn_id, seen_items)
        for message in state.events[cursor:]:
            transcript.fold(message)
        self.forget(state)
        with self._lock:
            self._cancelled[state.turn_id or ""] = None
            while len(self._cancelled) > THREAD_HANDLERS_LIMIT:
                self._cancelled.popitem(last=False)
        if state.failure is not None and state.status is None:
            raise CodexTransportError(f"the connection died before turn {state.turn_id} ended") from state.failure
        return CancelResult(
            thread_id=state.thread_id,
            turn_id=state.turn_id or "",
            steps=list(transcript.steps),
            raw_events=transcript.raw_events_unparsed(),
            was_completed=state.status == "completed" or (was_finished and state.status != "interrupted"),
            was_interrupted=state.status == "interrupted",
        )

    # -- per-thread settings ------------------------------------------------------------
    def defer_overrides(self, thread_id: str, overrides: TurnOverrides) -> None:
        """Send ``overrides`` with this client's next turn on ``thread_id`` (merged with earlier ones)."""
        with self._lock:
            pending = self._overrides.get(thread_id)
            self._overrides[thread_id] = overrides if pending is None else pending.merged(overrides)

    def _take_overrides(self, thread_id: str) -> Optional[TurnOverrides]:
        with self._lock:
            return self._overrides.pop(thread_id, None)

    def _restore_overrides(self, thread_id: str, taken: Optional[TurnOverrides]) -> None:
        """Put back settings a turn that did not start took (newer ones win)."""
        if taken is None:
            return
        with self._lock:
            newer = self._overrides.get(thread_id)
            self._overrides[thread_id] = taken if newer is None else taken.merged(newer)

    def set_thread_handlers(self, thread_id: str, approval: Any, user_input: Any) -> None:
        """Handlers for every turn on ``thread_id`` (``None`` falls back to the client's)."""
        with self._lock:
            self._handlers.pop(thread_id, None)
            if approval is not None or user_input is not None:
                self._handlers[thread_id] = (approval, user_input)
                while len(self._handlers) > THREAD_HANDLERS_LIMIT:
                    dropped, _ = self._handlers.popitem(last=False)
                    log.debug("dropped the handlers of thread %s (over %d threads)", dropped, THREAD_HANDLERS_LIMIT)

    # -- what the server-request dispatcher asks (TurnLookup) -----------------------------
    def turn_of_thread(self, thread_id: Optional[str]) -> Optional[TurnState]:
        """The turn this client runs on ``thread_id`` now, if any."""
        if thread_id is None:
            return None
        with self._lock:
            return self._active.get(thread_id)

    def thread_handlers(self, thread_id: Optional[str]) -> Optional[Handlers]:
        """The handlers set for ``thread_id``, if any."""
        if thread_id is None:
            return None
        with self._lock:
            return self._handlers.get(thread_id)

    def running(self) -> List[TurnState]:
        """The turns running now (for diagnostics and tests)."""
        with self._lock:
            return list(self._active.values())

    def close(self) -> None:
        """Stop the janitor after the stops already queued. Idempotent."""
        with self._lock:
            self._closed = True
            janitor, self._janitor = self._janitor, None
        if janitor is not None:
            self._janitor_jobs.put(None)
