"""Turn flows of one client: which thread a turn runs on, and the streams of turns and reviews.

:class:`Conversation` is a composed part of the client with no state of its
own: it opens the thread a turn needs (started, resumed or as it is),
starts the turn through the :class:`~codex_sync.turn_registry.TurnRegistry`
(or finds a continued one there) and wraps it in a
:class:`~codex_sync.chat.ChatStream`; it runs compactions, reads a final
text back from the thread, and applies new defaults to a thread. The client checks arguments and runs
``initialize`` before calling it. Every method: any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import protocol
from .chat import ChatStream, TurnControls, find_turn
from .config import THREAD_RESUME_KEYS, THREAD_START_KEYS, UNSET, ThreadConfig, turn_overrides_from
from .connection import ReplyHook
from .errors import (
    CodexError,
    CodexOverloadedError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexUnknownContinuationError,
)
from .protocol import Notification
from .session import Session
from .transcript import DeltaCallback, final_message_of_turn
from .turn_args import TurnArgs
from .turn_registry import TurnRegistry
from .turns import TurnState
from .values import ChatContinuation

log = logging.getLogger("codex_sync")

_TURN_STARTS = frozenset({protocol.REVIEW_START, protocol.THREAD_COMPACT_START})
# How long a turn started without thread/resume waits for its thread to become resumable.
FOLLOW_SECONDS = 5.0
_ENDED = ("completed", "failed", "interrupted")


def backfill_events(resume_result: Any, thread_id: str, turn_id: Optional[str]) -> List[Notification]:
    """The ``item/completed`` (and, if it ended, ``turn/completed``) events of ``turn_id`` in a resume result."""
    thread = resume_result.get("thread") if isinstance(resume_result, dict) else None
    for turn in (thread or {}).get("turns") or []:
        if isinstance(turn, dict) and turn.get("id") == turn_id:
            return turn_events(turn, thread_id)
    return []


def turn_events(turn: Dict[str, Any], thread_id: str) -> List[Notification]:
    """A turn object's items as ``item/completed`` events, then ``turn/completed`` if it ended."""
    turn_id = turn.get("id")
    events = []
    for item in turn.get("items") or []:
        if isinstance(item, dict):
            params = {"threadId": thread_id, "turnId": turn_id, "item": item}
            events.append(Notification(protocol.ITEM_COMPLETED, params, {"method": protocol.ITEM_COMPLETED,
                                                                         "params": params}))
    if turn.get("status") in _ENDED:
        params = {"threadId": thread_id, "turn": turn}
        events.append(Notification(protocol.TURN_COMPLETED, params, {"method": protocol.TURN_COMPLETED,
                                                                     "params": params}))
    return events


class RecordingSession(Session):
    """A :class:`Session` that keeps, per calling thread, the result of the last review or compaction start.

    The turn registry sends those requests in the caller's thread and keeps
    only the turn; ``start_review`` and ``compact_thread`` return the whole
    result, as the async SDK does, from here (:meth:`take_start_result`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start_results = threading.local()

    def request(
        self, method: str, params: Optional[Dict[str, Any]], timeout: Optional[float],
        on_reply: Optional[ReplyHook] = None,
    ) -> Any:
        """:meth:`Session.request`, remembering the result of ``review/start`` and ``thread/compact/start``."""
        result = super().request(method, params, timeout, on_reply)
        if method in _TURN_STARTS:
            self._start_results.last = result
        return result

    def take_start_result(self) -> Any:
        """The result of the last turn-starting request this thread made (once), or ``None``."""
        result = getattr(self._start_results, "last", None)
        self._start_results.last = None
        return result


class Conversation:
    """Opens the streams of turns over a session and a turn registry."""

    def __init__(
        self, session: RecordingSession, turns: TurnRegistry, controls: TurnControls, *, strict: bool = False
    ) -> None:
        self._session = session
        self._turns = turns
        self._controls = controls
        self.strict = strict

    def open_thread(self, thread_id: Optional[str], config: Optional[ThreadConfig]) -> Tuple[str, bool]:
        """The thread to run a turn on: started (``thread_id=None``), resumed, or as it is.

        Returns the thread id, and whether this connection must still
        subscribe to it once the turn has started (:meth:`follow`). A thread
        this connection has not loaded, or new ``config``, means a
        ``thread/resume``. Blocks for that request. If the server refuses it
        (a thread another client started, with no turn yet, answers "no
        rollout found"), the turn goes ahead without it, as in the async SDK;
        ``turn/start`` then says whether the thread exists. The settings a
        turn can carry go with it; the others are dropped with a warning.
        ``strict`` raises instead.
        """
        timeout = self._controls.request_timeout
        config = config or ThreadConfig()
        if thread_id is None:
            result = self._session.request(protocol.THREAD_START, config.to_params(THREAD_START_KEYS), timeout)
            return protocol.required_id(result, "thread", protocol.THREAD_START), False
        if not self._session.is_loaded(thread_id) or not config.is_empty():
            params = config.to_params(THREAD_RESUME_KEYS)
            params.update(threadId=thread_id, excludeTurns=True)
            try:
                self._session.request(protocol.THREAD_RESUME, params, timeout)
            except CodexProtocolError as exc:
                if self.strict or isinstance(exc, CodexOverloadedError):
                    raise
                log.debug("thread/resume of %s refused (%s): starting the turn without it", thread_id, exc)
                self._carry_to_next_turn(thread_id, config)
                return thread_id, not self._session.is_loaded(thread_id)
        return thread_id, False

    def follow(self, state: TurnState) -> None:
        """Subscribe to the thread of a turn started without ``thread/resume``, and backfill what it missed.

        The server sends a turn's events only to connections that loaded its
        thread, and it cannot resume a thread before its first turn is
        written; so the resume is retried (briefly) once the turn has
        started. The turn's items completed so far come in the resume
        result: they are delivered to the turn, on the reader, before any
        later event (the transcript drops an item it already has). If the
        thread cannot be resumed, the turn is interrupted and
        :class:`CodexProtocolError` raised.
        """
        deadline = time.monotonic() + FOLLOW_SECONDS
        params = {"threadId": state.thread_id}

        def backfill(result: Any, error: Optional[BaseException]) -> None:  # on the reader
            if error is None:
                for message in backfill_events(result, state.thread_id, state.turn_id):
                    state.deliver(message)

        while True:
            try:
                self._session.request(protocol.THREAD_RESUME, params, self._controls.request_timeout, backfill)
                return
            except CodexProtocolError as exc:
                if isinstance(exc, CodexOverloadedError) or time.monotonic() >= deadline:
                    self._abandon(state, exc)
                    raise CodexProtocolError(
                        f"turn {state.turn_id} started on thread {state.thread_id}, but this client cannot "
                        f"follow it: thread/resume keeps failing ({exc.message})",
                        code=exc.code, data=exc.data,
                    ) from exc
                time.sleep(0.05)  # its rollout is written just after the turn starts

    def _abandon(self, state: TurnState, error: BaseException) -> None:
        """Interrupt a turn this connection cannot follow, and stop tracking it (its events never come here)."""
        try:
            self._session.request(protocol.TURN_INTERRUPT, {"threadId": state.thread_id, "turnId": state.turn_id},
                                  self._controls.request_timeout)
        except CodexError as exc:
            log.debug("turn/interrupt of unfollowed turn %s: %s", state.turn_id, exc)
        state.refuse(error)  # ends it here: the thread is free for this client's next turn
        self._turns.forget(state)

    def _carry_to_next_turn(self, thread_id: str, config: ThreadConfig) -> None:
        """Send what a turn can carry of ``config`` with the next turn; warn about the rest."""
        turn_level, ignored = turn_overrides_from(config)
        if not turn_level.is_empty():
            self._turns.defer_overrides(thread_id, turn_level)
        if ignored:
            log.warning("thread %s could not be resumed: its %s stay as they are", thread_id, ", ".join(ignored))

    def apply_thread_defaults(self, thread_id: str, overrides: ThreadConfig) -> Tuple[Dict[str, Any], ThreadConfig]:
        """``set_thread_defaults``: returns the ``thread/resume`` result and the settings that took effect.

        A thread this connection has not loaded is resumed with the settings.
        On a loaded one, those a turn can carry are deferred to its next
        turn and the rest are ignored with a warning.
        """
        if not self._session.is_loaded(thread_id):
            params = overrides.to_params(THREAD_RESUME_KEYS)
            params.update(threadId=thread_id, excludeTurns=True)
            info = self._session.request(protocol.THREAD_RESUME, params, self._controls.request_timeout)
            return dict(info or {}), overrides
        turn_level, ignored = turn_overrides_from(overrides)
        if not turn_level.is_empty():
            self._turns.defer_overrides(thread_id, turn_level)
        if ignored:
            log.warning(
                "thread %s is loaded: the server keeps its %s; start a new thread to change them",
                thread_id, ", ".join(ignored),
            )
        return {}, replace(overrides, **{name: UNSET for name in ignored})

    def open_stream(
        self, mode: str, args: TurnArgs, idle: Optional[float], on_delta: Optional[DeltaCallback]
    ) -> ChatStream:
        """A stream over a new turn, or over the continued one ``args.continuation`` names.

        Blocks until the turn has started (see :meth:`TurnRegistry.start`).
        Raises :class:`CodexUnknownContinuationError` for a continuation this
        client does not know.
        """
        seen: Tuple[str, ...] = ()
        if args.continuation is not None:
            state, cursor = self.turn_of(args.continuation)
            seen = args.continuation.seen_items
        else:
            thread_id, unfollowed = self.open_thread(args.thread_id, args.thread_config)
            state = self._turns.start(
                thread_id, protocol.TURN_START, args.turn_params(thread_id), timeout=self._controls.request_timeout,
                handlers=args.handlers, wants_deltas=on_delta is not None, idle_limit=idle, with_overrides=True,
            )
            if unfollowed:
                self.follow(state)
            cursor = 0
        return ChatStream(self._turns, state, cursor=cursor, inactivity_timeout=idle, on_delta=on_delta,
                          mode=mode, controls=self._controls, seen_items=seen)

    def turn_of(self, continuation: ChatContinuation) -> Tuple[TurnState, int]:
        """The turn a continuation names, and the event index to read it from.

        A turn this client knows is read from the continuation's cursor. Any
        other (another client's, another process's) is adopted: this client
        loads its thread, receives the items completed so far and then the
        live events, and reads from the start, skipping the items the
        continuation has seen. Raises :class:`CodexUnknownContinuationError`
        if the server does not know the turn (it was restarted, or the
        thread was deleted).
        """
        try:
            return find_turn(self._turns, continuation), continuation.cursor
        except CodexUnknownContinuationError as exc:
            if self._turns.was_cancelled(continuation.turn_id):
                raise CodexUnknownContinuationError(
                    f"unknown continuation for turn {continuation.turn_id}: this client cancelled it"
                ) from exc
        return self.adopt(continuation), 0

    def adopt(self, continuation: ChatContinuation) -> TurnState:
        """Follow a turn another client started: load its thread, backfill its items, follow it live.

        The thread is loaded (``thread/resume``, which starts the live
        events), then the turn's completed items are read with
        ``thread/turns/list`` (the ids the live events use, on every codex
        version) and put before the live events; the transcript drops an item
        it already has, so every item arrives once, in order. A pending
        approval of the turn is sent again by the server right after the
        resume: this client's handlers answer it. Blocks for two requests
        (``request_timeout`` each).
        """
        thread_id, turn_id = continuation.thread_id, continuation.turn_id
        timeout = self._controls.request_timeout
        state = self._turns.adopt(thread_id, turn_id)
        try:
            self._session.request(protocol.THREAD_RESUME, {"threadId": thread_id, "excludeTurns": True}, timeout)
            page = self._session.request(
                protocol.THREAD_TURNS_LIST, {"threadId": thread_id, "itemsView": "full", "limit": 20}, timeout
            )
        except CodexProtocolError as exc:
            state.refuse(exc)
            raise CodexUnknownContinuationError(
                f"unknown continuation for turn {turn_id}: it is not one this client runs (nor one it "
                f"keeps: finished, read or expired), and the app-server cannot load thread {thread_id} "
                f"({exc.message}); was it restarted with another CODEX_HOME, or the thread deleted?",
                code=exc.code, data=exc.data,
            ) from exc
        except BaseException as exc:
            state.refuse(exc)
            raise
        turns = [t for t in (page or {}).get("data") or [] if isinstance(t, dict) and t.get("id") == turn_id]
        if not turns:
            error = CodexUnknownContinuationError(
                f"unknown continuation for turn {turn_id}: it is not one this client runs (nor one it keeps: "
                f"finished, read or expired), and thread {thread_id} has no such turn on this app-server "
                "(was it restarted? turns that were running when it stopped are gone)"
            )
            state.refuse(error)
            raise error
        backfill = turn_events(turns[0], thread_id)
        ended = backfill and backfill[-1].method == protocol.TURN_COMPLETED
        state.events[0:0] = backfill[:-1] if ended else backfill  # before the live ones (nobody reads yet)
        if ended:
            state.deliver(backfill[-1])  # it ended while nobody watched
        self._turns.track(state)
        return state

    def start_review(self, thread_id: str, target: Mapping[str, Any], delivery: Optional[str],
                     wants_deltas: bool = False) -> Tuple[TurnState, Any]:
        """Start a review turn (``review/start``) on ``thread_id``: the turn, and the request's result.

        The turn is tracked like any other (its thread stays claimed until it
        ends; a continuation can read it) but nobody reads it yet.
        """
        thread, unfollowed = self.open_thread(thread_id, None)
        params: Dict[str, Any] = {"threadId": thread, "target": dict(target)}
        if delivery is not None:
            params["delivery"] = delivery
        state = self._turns.start(thread, protocol.REVIEW_START, params, timeout=self._controls.request_timeout,
                                  wants_deltas=wants_deltas)
        result = self._session.take_start_result()
        if unfollowed:
            self.follow(state)
        return state, result

    def open_review(
        self, thread_id: str, target: Mapping[str, Any], delivery: Optional[str],
        idle: Optional[float], on_delta: Optional[DeltaCallback],
    ) -> ChatStream:
        """A stream over a new review turn (``review/start``) on ``thread_id``."""
        state, _ = self.start_review(thread_id, target, delivery, wants_deltas=on_delta is not None)
        return ChatStream(self._turns, state, cursor=0, inactivity_timeout=idle, on_delta=on_delta,
                          mode="stream", controls=self._controls)

    def compact(self, thread_id: str, wait: bool, timeout: Optional[float]) -> Any:
        """Start a compaction turn on ``thread_id`` and return the request's result.

        With ``wait``, first wait up to ``timeout`` seconds for the compaction
        to end (:class:`CodexTimeoutError` then). Either way the thread stays
        claimed until it ends, so this client's next turn there waits for it.
        """
        state = self._turns.start(thread_id, protocol.THREAD_COMPACT_START, {"threadId": thread_id},
                                  timeout=self._controls.request_timeout)
        result = self._session.take_start_result()
        if not wait:
            return result
        try:
            if not state.wait_finished(None if timeout is None else time.monotonic() + timeout):
                raise CodexTimeoutError(f"compaction of thread {thread_id} did not finish within {timeout:g}s")
            if state.failure is not None and state.status is None:
                raise state.failure
        finally:
            self._turns.forget(state)
        return result

    def read_back(self, thread_id: str, turn_id: str) -> Optional[Tuple[Optional[str], str]]:
        """The turn's last agent message (item id, text) read back from the thread; ``None`` if none.

        ``thread/turns/list`` (the newest turns) first: ``thread/read`` with
        turns, which older servers need, makes today's send a
        ``deprecationNotice``.
        """
        timeout = self._controls.request_timeout
        try:
            page = self._session.request(
                protocol.THREAD_TURNS_LIST, {"threadId": thread_id, "itemsView": "full", "limit": 20}, timeout
            )
            turns = page.get("data") if isinstance(page, dict) else None
            if isinstance(turns, list) and any(isinstance(t, dict) and t.get("id") == turn_id for t in turns):
                return final_message_of_turn({"thread": {"turns": turns}}, turn_id)
        except CodexProtocolError as exc:
            log.debug("thread/turns/list for the read-back failed: %s", exc)
        try:
            result = self._session.request(
                protocol.THREAD_READ, {"threadId": thread_id, "includeTurns": True}, timeout
            )
        except CodexProtocolError as exc:
            log.debug("thread/read fallback failed: %s", exc)
            return None
        return final_message_of_turn(result, turn_id)
