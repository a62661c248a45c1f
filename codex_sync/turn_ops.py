"""The turn methods of :class:`CodexClient` (a stateless mixin): chat, cancel, steer, interrupt, review, compact.

Each checks its arguments and hands the turn to the client's
:class:`~codex_sync.conversation.Conversation` and
:class:`~codex_sync.turn_registry.TurnRegistry`; it holds no state. Every
method may be called from any thread; what each blocks for is in its
docstring. Timeouts: ``None`` means the client's value and
``codex_sync.NO_TIMEOUT`` means no limit.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from . import protocol
from .chat import ChatStream, cancel_turn, run_to_end
from .config import ThreadConfig, TurnOverrides, check_id, resolve_timeout
from .conversation import Conversation
from .inputs import InputArg, to_input_items
from .transcript import DeltaCallback
from .turn_args import check_turn_args
from .turn_registry import TurnRegistry
from .values import CancelResult, ChatContinuation, ChatResult


class TurnOpsMixin:
    """Turns: ``chat``, ``chat_once``, ``cancel``, ``steer_turn``, ``interrupt_turn``, reviews, compaction."""

    request_timeout: Optional[float]
    _conversation: Conversation
    _turns: TurnRegistry

    def _call(
        self, method: str, params: Dict[str, Any], timeout: Optional[float] = None, *, extra_seconds: float = 0.0
    ) -> Any:
        """Initialize if needed, then send one request; ``timeout=None``: the client's."""
        raise NotImplementedError

    def _ensure_initialized(self, *, experimental: bool = False) -> None:
        """Run ``initialize`` once, if it has not run (asking for the experimental API with ``experimental``)."""
        raise NotImplementedError

    def _idle_timeout(self, value: Optional[float]) -> Optional[float]:
        """A call's ``inactivity_timeout`` resolved against the client's."""
        raise NotImplementedError

    def compact_thread(self, thread_id: str, timeout: Optional[float] = None, *, wait: bool = False) -> Any:
        """Start compacting the thread's context (``thread/compact/start``); returns the raw result.

        The compaction is a turn of its own: it waits for a running turn of
        this client on the thread first, and this client's next turn there
        waits for it. Returns once the server accepted it (as the async SDK
        does); with ``wait=True``, only once the compaction has ended, up to
        ``timeout`` (``None``: ``request_timeout``; ``codex_sync.NO_TIMEOUT``:
        no limit), raising :class:`CodexTimeoutError` then (Ctrl-C stops it).
        Raises :class:`CodexProtocolError` if the server refuses. Any thread.
        """
        check_id(thread_id, "thread_id")
        limit = resolve_timeout(timeout, self.request_timeout)
        self._ensure_initialized()
        return self._conversation.compact(thread_id, bool(wait), limit)

    def chat(
        self,
        text: Optional[InputArg] = None,
        thread_id: Optional[str] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        thread_config: Optional[ThreadConfig] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Optional[float] = None,
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
        :class:`CodexTurnInactiveError`; ``None`` (the default) the client's;
        ``codex_sync.NO_TIMEOUT`` no limit. ``continuation`` resumes a turn
        exactly where a previous call stopped and excludes every other turn
        argument (:class:`ValueError`); one this client does not know raises
        :class:`CodexUnknownContinuationError`.
        If another call of this client runs a turn on the same thread, this
        one waits for it to end first. ``on_delta`` receives live text
        (:class:`TextDelta`) in the iterating thread. ``approval_handler`` and
        ``user_input_handler`` answer this turn's server requests (over the
        thread's and the client's; ``codex_sync.MANUAL`` yields them as steps).
        """
        args = check_turn_args(
            text, thread_id, user=user, metadata=metadata, thread_config=thread_config,
            turn_overrides=turn_overrides, continuation=continuation, approval_handler=approval_handler,
            user_input_handler=user_input_handler, on_delta=on_delta,
        )
        idle = self._idle_timeout(inactivity_timeout)
        self._ensure_initialized(experimental=args.needs_experimental_api)  # (a continuation needs it too)
        return self._conversation.open_stream("stream", args, idle, on_delta)

    def chat_once(
        self,
        text: Optional[InputArg] = None,
        thread_id: Optional[str] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        thread_config: Optional[ThreadConfig] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Optional[float] = None,
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
        (no answer text at all; all three are :class:`CodexProtocolError`,
        as in the async SDK), :class:`CodexTransportError`. Ctrl-C
        interrupts the turn, drains it and re-raises. A server request whose
        handler is ``codex_sync.MANUAL`` gets the default answer here (with a
        warning): answering by hand needs a ``chat()`` loop or
        ``approval_mode="manual"`` with :meth:`approval_requests`.
        """
        args = check_turn_args(
            text, thread_id, user=user, metadata=metadata, thread_config=thread_config,
            turn_overrides=turn_overrides, continuation=continuation, approval_handler=approval_handler,
            user_input_handler=user_input_handler, on_delta=on_delta,
        )
        idle = self._idle_timeout(inactivity_timeout)
        self._ensure_initialized(experimental=args.needs_experimental_api)  # (a continuation needs it too)
        return run_to_end(self._conversation.open_stream("once", args, idle, on_delta),
                          self._conversation.read_back)

    def cancel(self, continuation: ChatContinuation, timeout: Optional[float] = None) -> CancelResult:
        """Stop a turn left by :class:`CodexTurnInactiveError` and collect what was unread.

        Sends ``turn/interrupt`` if the turn still runs, then waits for
        ``turn/completed`` — one deadline for both, ``timeout`` seconds
        (``None``: ``request_timeout``; ``codex_sync.NO_TIMEOUT``: no limit).
        Returns the steps and events after the continuation's cursor; the
        turn is forgotten and its thread can take a new turn at once. Raises
        :class:`CodexTurnInactiveError` (with the continuation, still usable)
        if the turn does not end in time, the server's
        :class:`CodexProtocolError` if it refuses the interrupt of a turn that
        still runs (the continuation stays usable),
        :class:`CodexUnknownContinuationError` (a :class:`CodexProtocolError`)
        for a turn the app-server does not know, :class:`CodexTransportError`.
        A continuation from another client (``ChatContinuation.from_json``) is
        adopted first. Any thread.
        """
        if not isinstance(continuation, ChatContinuation):
            raise TypeError(f"continuation must be a ChatContinuation, not {type(continuation).__name__}")
        wait = resolve_timeout(timeout, self.request_timeout)
        self._ensure_initialized()
        state, cursor = self._conversation.turn_of(continuation)  # another client's turn is adopted first
        return cancel_turn(self._turns, state, cursor, wait, continuation)

    def steer_turn(self, *, thread_id: str, expected_turn_id: str, input_items: InputArg) -> Any:
        """Add input to the running turn (``turn/steer``); returns the raw result (``{"turnId": ...}``).

        ``input_items`` is a string or a list of input items. Blocks for one
        request; raises :class:`CodexProtocolError` if no such turn is running.
        Any thread.
        """
        check_id(thread_id, "thread_id")
        check_id(expected_turn_id, "expected_turn_id")
        items = to_input_items(input_items, "input_items")
        return self._call(
            protocol.TURN_STEER, {"threadId": thread_id, "expectedTurnId": expected_turn_id, "input": items}
        )

    def interrupt_turn(
        self, turn_id: str, thread_id: Optional[str] = None, timeout: Optional[float] = None
    ) -> None:
        """Send ``turn/interrupt`` for ``turn_id`` (low level; returns once the server accepts).

        ``thread_id`` may be left out for a turn this client runs
        (:class:`ValueError` otherwise, or when it names another thread than
        the turn's). The turn then ends with ``turn/completed`` (status
        ``interrupted``) on its own. Blocks for one request (``timeout``:
        ``None`` is ``request_timeout``, ``codex_sync.NO_TIMEOUT`` no limit).
        Any thread.
        """
        check_id(turn_id, "turn_id")
        known = self._turns.thread_of_turn(turn_id)
        if thread_id is None:
            if known is None:
                raise ValueError(f"thread_id is required: turn {turn_id} is not one this client runs")
            thread_id = known
        elif known is not None and known != thread_id:
            raise ValueError(f"thread_id {thread_id!r} does not match the thread of turn {turn_id} ({known!r})")
        self._call(protocol.TURN_INTERRUPT, {"threadId": thread_id, "turnId": turn_id}, timeout)

    def start_review(self, *, thread_id: str, target: Mapping[str, Any], delivery: Optional[str] = None) -> Any:
        """Start a review turn (``review/start``); returns the raw result (``{"turn": ..., "reviewThreadId": ...}``).

        As in the async SDK, this returns once the review has started; the
        turn runs on and this client's next turn on the thread waits for it.
        Its steps can still be read with ``chat(continuation=ChatContinuation(
        thread_id, result["turn"]["id"]))``; :meth:`review` returns them as a
        stream at once. Arguments and errors as :meth:`review`. Any thread.
        """
        self._check_review(thread_id, target, delivery, None)
        self._ensure_initialized()
        return self._conversation.start_review(thread_id, target, delivery)[1]

    def review(
        self,
        *,
        thread_id: str,
        target: Mapping[str, Any],
        delivery: Optional[str] = None,
        inactivity_timeout: Optional[float] = None,
        on_delta: Optional[DeltaCallback] = None,
    ) -> ChatStream:
        """Start a review turn (``review/start``) and return its steps as a :class:`ChatStream`.

        ``target`` is e.g. ``{"type": "uncommittedChanges"}``,
        ``{"type": "baseBranch", "branch": "main"}``,
        ``{"type": "commit", "sha": ..., "title": ...}`` or
        ``{"type": "custom", "instructions": ...}``. ``delivery`` may be
        ``"inline"`` (the only value today's server accepts) or ``None``.
        The review's findings arrive as an ``exitedReviewMode`` step.
        ``inactivity_timeout`` and ``on_delta`` as for :meth:`chat` (``None``:
        the client's; ``codex_sync.NO_TIMEOUT``: no limit). Blocks until the
        review has started; raises :class:`TypeError` for a bad
        ``target``, :class:`CodexProtocolError` if the server refuses. Any
        thread (iterate the stream from one at a time).
        """
        self._check_review(thread_id, target, delivery, on_delta)
        idle = self._idle_timeout(inactivity_timeout)
        self._ensure_initialized()
        return self._conversation.open_review(thread_id, target, delivery, idle, on_delta)

    @staticmethod
    def _check_review(thread_id: str, target: Mapping[str, Any], delivery: Optional[str], on_delta: Any) -> None:
        check_id(thread_id, "thread_id")
        if not isinstance(target, Mapping) or not isinstance(target.get("type"), str):
            raise TypeError("target must be a dict with a 'type', e.g. {'type': 'uncommittedChanges'}")
        if delivery is not None and not isinstance(delivery, str):
            raise TypeError("delivery must be a string or None")
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta must be callable or None")

