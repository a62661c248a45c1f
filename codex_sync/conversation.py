"""The conversation API of :class:`CodexClient` (a mixin): turns, chat, cancel, steer.

Turns on one codex thread run one at a time: a call claims the thread (waiting
for a running turn of this client to end), subscribes a :class:`TurnState` to
the thread's notifications and sends the request that starts the turn. The
reader releases the claim when ``turn/completed`` arrives or the connection
dies. Every method may be called from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Set

from . import protocol
from .approvals import check_handler, default_answer
from .chat import ChatStream, DeltaCallback
from .config import (
    UNSET,
    ThreadConfig,
    TurnOverrides,
    check_config,
    check_id,
    check_timeout,
)
from .errors import (
    CodexEmptyAnswerError,
    CodexError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
)
from .inputs import InputArg, to_input_items
from .turns import TurnState
from .values import CancelResult, ChatContinuation, ChatResult

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection
    from .server_requests import ServerRequestDispatcher
    from .thread import ThreadHandle

log = logging.getLogger("codex_sync")

# A completed turn nobody reads any more is kept this long, and at most this many.
RETAINED_TURN_SECONDS = 600.0
RETAINED_TURN_LIMIT = 64
PRUNE_EVERY_SECONDS = 60.0
# Ctrl-C and early exit wait this long at most for the interrupted turn to end.
STOP_DRAIN_SECONDS = 10.0


class ConversationMixin:
    """Turns: ``chat``, ``chat_once``, ``cancel``, ``steer_turn``, ``interrupt_turn``, ``start_review``."""

    if TYPE_CHECKING:  # what the mixin uses of CodexClient
        request_timeout: Optional[float]
        inactivity_timeout: Optional[float]
        _conn: Connection
        _requests: ServerRequestDispatcher
        _turn_lock: threading.Condition
        _active_by_thread: Dict[str, TurnState]
        _turns: Dict[str, TurnState]
        _last_prune: float
        _loaded_threads: Set[str]
        _pending_overrides: Dict[str, TurnOverrides]

        def _ensure_initialized(self) -> None: ...
        def _timeout_or_default(self, timeout: Optional[float]) -> Optional[float]: ...
        def start_thread(
            self, config: Optional[ThreadConfig] = None, *, approval_handler: Any = None,
            user_input_handler: Any = None,
        ) -> ThreadHandle: ...
        def resume_thread(
            self, thread_id: str, overrides: Optional[ThreadConfig] = None, **handlers: Any
        ) -> ThreadHandle: ...
        def _request(
            self, method: str, params: Optional[Dict[str, Any]], timeout: Optional[float],
            on_result: Optional[Callable[[Any], None]] = None,
        ) -> Any: ...

    # -- threads ------------------------------------------------------------
    def _open_thread(self, thread_id: Optional[str], config: Optional[ThreadConfig]) -> str:
        """The thread to run a turn on: started, resumed or as it is."""
        if thread_id is None:
            return self.start_thread(config).thread_id
        if thread_id not in self._loaded_threads or (config is not None and not config.is_empty()):
            self.resume_thread(thread_id, config)
        return thread_id

    def _idle_timeout(self, value: Any) -> Optional[float]:
        """A call's ``inactivity_timeout``: ``UNSET`` means the client's."""
        return self.inactivity_timeout if value is UNSET else check_timeout(value, "inactivity_timeout")

    def _send_interrupt(self, state: TurnState, timeout: Optional[float]) -> None:
        """``turn/interrupt`` for a running turn; a turn that ended meanwhile is fine."""
        if state.finished or state.turn_id is None or not self._conn.alive:
            return
        try:
            self._request(protocol.TURN_INTERRUPT, {"threadId": state.thread_id, "turnId": state.turn_id}, timeout)
        except CodexProtocolError as exc:  # "no active turn": it is over already
            log.debug("turn/interrupt for %s: %s", state.turn_id, exc)

    # -- turns --------------------------------------------------------------
    def _claim_thread(self, thread_id: str, idle_limit: Optional[float] = None) -> TurnState:
        """Wait until no turn of ours runs on ``thread_id``, then own it.

        With ``idle_limit``, give up (:class:`CodexTimeoutError`) once the busy
        turn has been silent that long: it may be one a caller abandoned.
        """
        with self._turn_lock:
            while thread_id in self._active_by_thread:
                self._conn.check_alive()
                busy = self._active_by_thread[thread_id]
                silent = time.monotonic() - busy.last_activity
                if idle_limit is not None and silent > idle_limit:
                    raise CodexTimeoutError(
                        f"thread {thread_id} is busy with turn {busy.turn_id}, silent for {silent:.1f}s; "
                        "cancel it with client.cancel(<its continuation>) or "
                        f"client.interrupt_turn({busy.turn_id!r}, thread_id={thread_id!r})"
                    )
                self._turn_lock.wait(0.25)
            state = TurnState(thread_id, self._turn_finished)
            self._active_by_thread[thread_id] = state
        self._conn.subscribe(thread_id, state)
        return state

    def _turn_finished(self, state: TurnState) -> None:
        """Runs (on the reader, usually) when a turn completes or the connection dies."""
        self._conn.unsubscribe(state.thread_id, state)
        with self._turn_lock:
            if self._active_by_thread.get(state.thread_id) is state:
                del self._active_by_thread[state.thread_id]
            self._turn_lock.notify_all()

    def _register_turn(self, state: TurnState) -> None:
        """Remember a started turn (for continuations); drop old unread ones now and then.

        A turn whose id its request's reply did not give (a compaction) and
        that has not announced itself yet is not remembered: nothing can
        continue it.
        """
        now = time.monotonic()
        with self._turn_lock:
            if state.turn_id is None:
                return
            self._turns[state.turn_id] = state
            if len(self._turns) <= RETAINED_TURN_LIMIT and now - self._last_prune < PRUNE_EVERY_SECONDS:
                return  # nothing can be over the limit, and the age check ran recently
            self._last_prune = now
            finished = [s for s in self._turns.values() if s.finished and s.finished_at is not None]
            stale = [s for s in finished if now - (s.finished_at or now) > RETAINED_TURN_SECONDS]
            finished.sort(key=lambda s: s.finished_at or 0.0)
            stale += finished[: max(0, len(finished) - RETAINED_TURN_LIMIT)]
            for s in stale:
                if s.turn_id is not None:
                    self._turns.pop(s.turn_id, None)

    def _forget_turn(self, state: TurnState) -> None:
        with self._turn_lock:
            if state.turn_id is not None and self._turns.get(state.turn_id) is state:
                del self._turns[state.turn_id]

    def _start_turn(
        self,
        thread_id: str,
        input_items: List[Dict[str, Any]],
        overrides: Optional[TurnOverrides],
        extra: Dict[str, Any],
        handlers: Any = (None, None),
        wants_deltas: bool = False,
        idle_limit: Optional[float] = None,
    ) -> TurnState:
        pending = self._pending_overrides.pop(thread_id, None)
        if pending is not None:  # from set_thread_defaults: they stick once sent
            overrides = pending.merged(overrides)
        params: Dict[str, Any] = overrides.to_params() if overrides else {}
        params.update(extra)
        params["threadId"] = thread_id
        params["input"] = input_items
        try:
            return self._run_turn_request(
                thread_id, protocol.TURN_START, params, handlers, wants_deltas, idle_limit
            )
        except BaseException:
            if pending is not None:
                self._pending_overrides.setdefault(thread_id, pending)
            raise

    def _run_turn_request(
        self, thread_id: str, method: str, params: Dict[str, Any], handlers: Any = (None, None),
        wants_deltas: bool = False,
        idle_limit: Optional[float] = None,
    ) -> TurnState:
        """Own the thread, send the request that starts a turn, and track that turn.

        ``wants_deltas`` must be known before the request goes out: deltas of
        a turn nobody reads them for are skipped from its first message on.
        """
        state = self._claim_thread(thread_id, idle_limit)
        state.wants_deltas = wants_deltas
        if handlers[0] is not None or handlers[1] is not None:
            state.handlers = tuple(handlers)

        def on_result(result: Any) -> None:  # on the reader: before any later event
            turn = result.get("turn") if isinstance(result, dict) else None
            if isinstance(turn, dict) and isinstance(turn.get("id"), str):
                state.set_turn_id(turn["id"])

        try:
            self._request(method, params, self.request_timeout, on_result=on_result)
        except KeyboardInterrupt:
            self._stop_turn(state, reason="KeyboardInterrupt")
            raise
        except CodexTransportError as exc:
            state.fail(exc)
            raise
        except CodexError as exc:
            state.fail(CodexTransportError(f"{method} failed: {exc}"))
            raise
        self._register_turn(state)
        return state

    def _stop_turn(self, state: TurnState, reason: str) -> None:
        """Interrupt a turn we stop reading and wait (bounded) for its end."""
        deadline = time.monotonic() + STOP_DRAIN_SECONDS
        try:
            while state.turn_id is None and not state.finished and time.monotonic() < deadline:
                state.wait_beyond(len(state.events), min(deadline, time.monotonic() + 0.25))
            self._send_interrupt(state, max(0.1, deadline - time.monotonic()))
            if not state.wait_finished(deadline):
                log.warning(
                    "turn %s did not end within %.0fs of being interrupted (%s)",
                    state.turn_id, STOP_DRAIN_SECONDS, reason,
                )
        except CodexError as exc:
            log.debug("stopping turn %s after %s: %s", state.turn_id, reason, exc)
        finally:
            self._forget_turn(state)

    def _stop_turn_later(self, state: TurnState) -> None:
        """Interrupt a turn from a background thread (garbage-collected stream)."""
        if state.finished or not self._conn.alive:
            self._forget_turn(state)
            return
        threading.Thread(
            target=self._stop_turn, args=(state, "abandoned"), name="codex-sync-stop", daemon=True
        ).start()

    # -- conversation API ---------------------------------------------------
    def chat(
        self,
        text: Optional[InputArg] = None,
        thread_id: Optional[str] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        thread_config: Optional[ThreadConfig] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Any = UNSET,
        continuation: Optional[ChatContinuation] = None,
        on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ChatStream:
        """Start a turn (or resume one) and return an iterator of its completed steps.

        Blocks until the turn has started (a ``thread/start`` first when
        ``thread_id`` is ``None``); iteration then blocks per step. ``text`` is
        a string or a list of input items (see ``codex_sync.inputs``).
        ``inactivity_timeout``: seconds of silence before
        :class:`CodexTurnInactiveError`; ``None`` no limit; default the
        client's. ``continuation`` resumes a turn exactly where a previous call
        stopped and excludes every other turn argument (:class:`ValueError`).
        If another call of this client runs a turn on the same thread, this
        one waits for it to end first. ``on_delta`` receives live text
        (:class:`TextDelta`) in the iterating thread. ``approval_handler`` and
        ``user_input_handler`` answer this turn's server requests (over the
        thread's and the client's; ``codex_sync.MANUAL`` yields them as steps).
        """
        return self._chat(
            "chat", text, thread_id, user, metadata, thread_config, turn_overrides,
            inactivity_timeout, continuation, on_delta, (approval_handler, user_input_handler),
        )

    def _chat(
        self,
        mode: str,
        text: Optional[InputArg],
        thread_id: Optional[str],
        user: Optional[str],
        metadata: Optional[Mapping[str, Any]],
        thread_config: Optional[ThreadConfig],
        turn_overrides: Optional[TurnOverrides],
        inactivity_timeout: Any,
        continuation: Optional[ChatContinuation],
        on_delta: Optional[DeltaCallback],
        handlers: Any = (None, None),
    ) -> ChatStream:
        idle = self._idle_timeout(inactivity_timeout)
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta must be callable or None")
        if continuation is not None:
            given = [
                name
                for name, value in (
                    ("text", text), ("thread_id", thread_id), ("user", user), ("metadata", metadata),
                    ("thread_config", thread_config), ("turn_overrides", turn_overrides),
                    ("approval_handler", handlers[0]), ("user_input_handler", handlers[1]),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"continuation= cannot be combined with {', '.join(given)}: it resumes a turn "
                    "that already started (change settings with thread.update_defaults(...) first)"
                )
            state = self._turn_for(continuation)
            return ChatStream(
                self, state, cursor=continuation.cursor, inactivity_timeout=idle,
                on_delta=on_delta, mode=mode,
            )
        if text is None:
            raise ValueError("text is required (or pass continuation=...)")
        items = to_input_items(text, "text")
        if thread_id is not None:
            check_id(thread_id, "thread_id")
        if user is not None and not isinstance(user, str):
            raise TypeError(f"user must be a string or None, not {type(user).__name__}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict or None, not {type(metadata).__name__}")
        check_config(thread_config, ThreadConfig, "thread_config")
        check_config(turn_overrides, TurnOverrides, "turn_overrides")
        self._ensure_initialized()
        thread = self._open_thread(thread_id, thread_config)
        extra: Dict[str, Any] = {}
        if user is not None:
            extra["user"] = user
        if metadata is not None:
            extra["metadata"] = dict(metadata)
        check_handler(handlers[0], "approval_handler")
        check_handler(handlers[1], "user_input_handler")
        state = self._start_turn(thread, items, turn_overrides, extra, handlers, on_delta is not None, idle)
        return ChatStream(self, state, cursor=0, inactivity_timeout=idle, on_delta=on_delta, mode=mode)

    def _turn_for(self, continuation: ChatContinuation) -> TurnState:
        if not isinstance(continuation, ChatContinuation):
            raise TypeError(
                f"continuation must be a ChatContinuation, not {type(continuation).__name__}"
            )
        with self._turn_lock:
            state = self._turns.get(continuation.turn_id)
        if state is None or state.thread_id != continuation.thread_id:
            raise ValueError(
                f"unknown continuation for turn {continuation.turn_id}: it was issued by another "
                "client, already finished and read, cancelled, or expired "
                f"(completed turns are kept {RETAINED_TURN_SECONDS:.0f}s)"
            )
        if not 0 <= continuation.cursor <= len(state.events):
            raise ValueError(f"continuation cursor {continuation.cursor} is out of range")
        return state

    def chat_once(
        self,
        text: Optional[InputArg] = None,
        thread_id: Optional[str] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        thread_config: Optional[ThreadConfig] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Any = UNSET,
        continuation: Optional[ChatContinuation] = None,
        on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ChatResult:
        """Run one turn to its end and return its :class:`ChatResult`.

        Same arguments as :meth:`chat`. Blocks until ``turn/completed``.
        Raises :class:`CodexTurnInactiveError` (resume with its
        ``continuation``), :class:`CodexTurnFailedError`,
        :class:`CodexTurnInterruptedError`, :class:`CodexEmptyAnswerError`
        (no answer text at all), :class:`CodexTransportError`. Ctrl-C
        interrupts the turn, drains it and re-raises. A server request whose
        handler is ``codex_sync.MANUAL`` gets the default answer here (with a
        warning): answering by hand needs a ``chat()`` loop.
        """
        stream = self._chat(
            "chat_once", text, thread_id, user, metadata, thread_config, turn_overrides,
            inactivity_timeout, continuation, on_delta, (approval_handler, user_input_handler),
        )
        for step in stream:
            if step.request is not None and not step.request.answered:
                # MANUAL mode needs a chat() loop to answer in; chat_once has none.
                log.warning("chat_once cannot show %s for a manual answer; answering with the "
                            "default (use chat() for codex_sync.MANUAL)", step.request.method)
                default_answer(step.request)
        final = stream.final_text
        source = "item/completed"
        if not final:
            final = self._final_text_from_read(stream.thread_id, stream.turn_id)
            source = "thread/read"
        if not final:
            raise CodexEmptyAnswerError(
                f"turn {stream.turn_id} completed without an answer",
                thread_id=stream.thread_id,
                turn_id=stream.turn_id,
            )
        return ChatResult(
            thread_id=stream.thread_id,
            turn_id=stream.turn_id,
            final_text=final,
            raw_events=tuple(stream.raw_events),
            assistant_item_id=stream.assistant_item_id,
            completion_source=source,
            steps=tuple(stream.steps),
            usage=stream.usage,
        )

    def _final_text_from_read(self, thread_id: str, turn_id: str) -> Optional[str]:
        try:
            result = self._request(
                protocol.THREAD_READ, {"threadId": thread_id, "includeTurns": True}, self.request_timeout
            )
        except CodexProtocolError as exc:
            log.debug("thread/read fallback failed: %s", exc)
            return None
        turns = (result.get("thread") or {}).get("turns") or []
        for turn in turns:
            if isinstance(turn, dict) and turn.get("id") == turn_id:
                texts = [
                    item.get("text")
                    for item in turn.get("items") or []
                    if isinstance(item, dict) and item.get("type") == "agentMessage"
                ]
                texts = [t for t in texts if isinstance(t, str) and t]
                return texts[-1] if texts else None
        return None

    def cancel(self, continuation: ChatContinuation, timeout: Optional[float] = None) -> CancelResult:
        """Stop a turn left by :class:`CodexTurnInactiveError` and collect what was unread.

        Sends ``turn/interrupt`` if the turn still runs, then waits for
        ``turn/completed`` — one deadline for both, ``timeout`` seconds
        (default: ``request_timeout``). Returns the steps and events after the
        continuation's cursor; the turn is forgotten and its thread can take a
        new turn at once. Raises :class:`CodexTimeoutError` if the turn does
        not end in time, :class:`ValueError` for an unknown continuation.
        """
        state = self._turn_for(continuation)
        wait = self._timeout_or_default(timeout)
        deadline = None if wait is None else time.monotonic() + wait
        was_finished = state.finished
        self._send_interrupt(state, None if deadline is None else max(0.001, deadline - time.monotonic()))
        if not state.wait_finished(deadline):
            raise CodexTimeoutError(
                f"turn {continuation.turn_id} did not end within {wait:g}s of turn/interrupt"
            )
        reader = ChatStream(
            self, state, cursor=continuation.cursor, inactivity_timeout=None, on_delta=None,
            mode="chat",
        )
        reader._detached = True
        try:
            for _ in reader:
                pass
        except CodexError:
            pass  # interrupted / failed: the flags below say how it ended
        self._forget_turn(state)
        if state.failure is not None and state.status is None:
            raise CodexTransportError(
                f"the connection died before turn {continuation.turn_id} ended"
            ) from state.failure
        return CancelResult(
            thread_id=state.thread_id,
            turn_id=continuation.turn_id,
            steps=tuple(reader.steps),
            raw_events=tuple(reader.raw_events),
            was_completed=state.status == "completed" or (was_finished and state.status != "interrupted"),
            was_interrupted=state.status == "interrupted",
        )

    def steer_turn(self, *, thread_id: str, expected_turn_id: str, input_items: InputArg) -> str:
        """Add input to the running turn (``turn/steer``); returns the turn id.

        ``input_items`` is a string or a list of input items. Raises
        :class:`CodexProtocolError` if no such turn is running.
        """
        check_id(thread_id, "thread_id")
        check_id(expected_turn_id, "expected_turn_id")
        items = to_input_items(input_items, "input_items")
        self._ensure_initialized()
        result = self._request(
            protocol.TURN_STEER,
            {"threadId": thread_id, "expectedTurnId": expected_turn_id, "input": items},
            self.request_timeout,
        )
        return str((result or {}).get("turnId") or expected_turn_id)

    def interrupt_turn(
        self, turn_id: str, thread_id: Optional[str] = None, timeout: Optional[float] = None
    ) -> None:
        """Send ``turn/interrupt`` for ``turn_id`` (low level; returns once the server accepts).

        ``thread_id`` may be left out for a turn this client started. The turn
        then ends with ``turn/completed`` (status ``interrupted``) on its own.
        """
        check_id(turn_id, "turn_id")
        if thread_id is None:
            with self._turn_lock:
                state = self._turns.get(turn_id)
            if state is None:
                raise ValueError(f"thread_id is needed: turn {turn_id} is not one this client runs")
            thread_id = state.thread_id
        wait = self._timeout_or_default(timeout)
        self._ensure_initialized()
        self._request(protocol.TURN_INTERRUPT, {"threadId": thread_id, "turnId": turn_id}, wait)

    def start_review(
        self,
        *,
        thread_id: str,
        target: Mapping[str, Any],
        delivery: Optional[str] = None,
        inactivity_timeout: Any = UNSET,
        on_delta: Optional[DeltaCallback] = None,
    ) -> ChatStream:
        """Start a review turn (``review/start``) and return its steps as a :class:`ChatStream`.

        ``target`` is e.g. ``{"type": "uncommittedChanges"}``,
        ``{"type": "baseBranch", "branch": "main"}``,
        ``{"type": "commit", "sha": ..., "title": ...}`` or
        ``{"type": "custom", "instructions": ...}``. ``delivery`` may be
        ``"inline"`` (the only value today's server accepts) or ``None``.
        The review's findings arrive as an ``exitedReviewMode`` step.
        """
        check_id(thread_id, "thread_id")
        if not isinstance(target, Mapping) or not isinstance(target.get("type"), str):
            raise TypeError("target must be a dict with a 'type', e.g. {'type': 'uncommittedChanges'}")
        if delivery is not None and not isinstance(delivery, str):
            raise TypeError("delivery must be a string or None")
        idle = self._idle_timeout(inactivity_timeout)
        self._ensure_initialized()
        thread = self._open_thread(thread_id, None)
        params: Dict[str, Any] = {"threadId": thread, "target": dict(target)}
        if delivery is not None:
            params["delivery"] = delivery
        state = self._run_turn_request(thread, "review/start", params, wants_deltas=on_delta is not None)
        return ChatStream(self, state, cursor=0, inactivity_timeout=idle, on_delta=on_delta, mode="chat")
