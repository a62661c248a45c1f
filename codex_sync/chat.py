"""``ChatStream``: the iterator ``client.chat()`` returns, reading one turn from a cursor.

The stream reads a :class:`~codex_sync.turns.TurnState`'s events from its
cursor and folds them into a :class:`~codex_sync.transcript.Transcript`. It
owns only its reading position; ending the turn (stop, cancel, forget) is
the :class:`~codex_sync.turn_registry.TurnRegistry`'s job.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from typing_extensions import Protocol

from .approvals import default_answer
from .config import resolve_timeout
from .errors import (
    CodexEmptyAnswerError,
    CodexForkError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTurnInactiveError,
    CodexUnknownContinuationError,
)
from .protocol import DeltaRun
from .transcript import DeltaCallback, Transcript, ending_error, terminal_turn
from .turn_registry import TurnRegistry
from .turns import TurnState
from .values import CancelResult, ChatContinuation, ChatResult, ConversationStep, TokenUsage

log = logging.getLogger("codex_sync.chat")

__all__ = ["ChatStream", "DeltaCallback", "run_to_end", "find_turn", "cancel_turn"]

STREAM, ONCE = "stream", "once"  # ChatContinuation.mode: the API that stopped reading


def find_turn(turns: TurnRegistry, continuation: ChatContinuation) -> TurnState:
    """The turn a continuation names; :class:`CodexUnknownContinuationError` if this client has none."""
    try:
        return turns.find(continuation)
    except TypeError:
        raise
    except ValueError as exc:
        raise CodexUnknownContinuationError(str(exc)) from exc


def cancel_turn(
    turns: TurnRegistry, state: TurnState, cursor: int, timeout: Optional[float], continuation: ChatContinuation
) -> CancelResult:
    """Interrupt and drain a turn (:meth:`TurnRegistry.cancel`).

    When it does not end within ``timeout`` this raises
    :class:`CodexTurnInactiveError` with ``continuation``, which stays usable
    (resume or cancel again); so it does when the server refuses the
    interrupt (:class:`CodexProtocolError`, the server's own error).
    """
    try:
        return turns.cancel(state, cursor, timeout, continuation.seen_items)
    except CodexTurnInactiveError:
        raise
    except CodexTimeoutError as exc:
        raise CodexTurnInactiveError(
            f"turn {continuation.turn_id} did not end within {timeout:g}s of turn/interrupt; it may still "
            "be running: cancel it again, or resume it with chat(continuation=exc.continuation)",
            continuation=continuation,
            idle_seconds=timeout,
        ) from exc


class TurnControls(Protocol):
    """What a stream asks of its client: the default timeout and steering."""

    request_timeout: Optional[float]

    def steer_turn(self, *, thread_id: str, expected_turn_id: str, input_items: Any) -> Any:
        """Add input to a running turn."""


class ChatStream(Iterator[ConversationStep]):
    """The completed steps of one running turn, in order, as they arrive.

    Iterate it (``for step in client.chat(...)``); each ``next()`` blocks
    until the next item completes. It raises :class:`CodexTurnInactiveError`
    (with a ``continuation``) when the turn is silent for longer than the
    inactivity timeout, :class:`CodexTurnFailedError` /
    :class:`CodexTurnInterruptedError` when the turn ends that way, and
    :class:`CodexTransportError` if the connection dies.

    Leaving the loop early (``break`` then garbage collection, :meth:`close`,
    or the ``with`` block) interrupts the turn; so does Ctrl-C while blocked,
    which drains the turn before re-raising. Iterate from one thread at a
    time; :meth:`cancel`, :meth:`steer` and :meth:`close` may be called from
    any thread.
    """

    def __init__(
        self,
        turns: TurnRegistry,
        state: TurnState,
        *,
        cursor: int,
        inactivity_timeout: Optional[float],
        on_delta: Optional[DeltaCallback],
        mode: str,
        controls: TurnControls,
        seen_items: Sequence[str] = (),
    ) -> None:
        self._turns = turns
        self._state = state
        self._controls = controls
        self._start_cursor = cursor
        self._cursor = cursor
        self._run_seen = 0  # lines of the open run at _cursor already passed to on_delta
        self._inactivity_timeout = inactivity_timeout
        self._on_delta = on_delta
        self._mode = mode
        self._opened_at = time.monotonic()
        self._pid = os.getpid()
        self._done = False  # iteration over (end reached, error raised, cancelled)
        self._detached = False  # a continuation now owns the turn
        self._start_seen = tuple(seen_items)
        self._transcript = Transcript(state.thread_id, state.turn_id, seen_items)
        if on_delta is not None:
            state.wants_deltas = True

    # -- identity and what was read -----------------------------------------------
    @property
    def thread_id(self) -> str:
        """The codex thread this turn runs on."""
        return self._state.thread_id

    @property
    def turn_id(self) -> str:
        """The turn's id."""
        return self._state.turn_id or ""

    @property
    def continuation(self) -> ChatContinuation:
        """Where this stream stands: pass it to ``chat``/``chat_once``/``cancel`` later.

        ``mode`` is ``"stream"`` for ``chat()``, ``"once"`` for ``chat_once()``
        (whose continuation resumes the whole turn, from where it started).
        Valid at every point of an iteration: it names the position after the
        last step yielded, by event index (this client) and by item id (any
        client: :meth:`ChatContinuation.to_json`).
        """
        if self._mode == STREAM:
            seen = self._start_seen + tuple(self._transcript.completed_ids)
            return ChatContinuation(self.thread_id, self.turn_id, self._cursor, self._mode, seen)
        return ChatContinuation(self.thread_id, self.turn_id, self._start_cursor, self._mode, self._start_seen)

    @property
    def steps(self) -> List[ConversationStep]:
        """The steps this stream has yielded so far."""
        return self._transcript.steps

    @property
    def raw_events(self) -> List[Dict[str, Any]]:
        """The raw notifications this stream has read so far, deltas included (a new list each time)."""
        return list(self._transcript.raw_events_unparsed())

    @property
    def final_text(self) -> Optional[str]:
        """The text of the last agent message read so far."""
        return self._transcript.final_text

    @property
    def assistant_item_id(self) -> Optional[str]:
        """The item id of that agent message."""
        return self._transcript.assistant_item_id

    @property
    def last_error(self) -> Optional[Dict[str, Any]]:
        """The server's last error (not retried) read so far."""
        return self._transcript.last_error

    @property
    def usage(self) -> Optional[TokenUsage]:
        """Token usage seen so far in this turn (``None`` before the first report)."""
        return self._transcript.usage

    # -- iteration ----------------------------------------------------------------
    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> ConversationStep:
        if self._done:
            raise StopIteration
        if os.getpid() != self._pid:
            raise CodexForkError(
                f"this stream was opened in process {self._pid} and cannot be read in process "
                f"{os.getpid()} (after fork): its turn belongs to the parent's client"
            )
        try:
            step = self._advance()
        except CodexTurnInactiveError:
            self._detached = True
            raise
        except BaseException as exc:  # Ctrl-C, an on_delta callback raised, or the turn ended badly
            self._done = True
            if self._state.finished:
                self._turns.forget(self._state)
            else:
                reason = "KeyboardInterrupt" if isinstance(exc, KeyboardInterrupt) else "error in the caller"
                self._turns.stop(self._state, reason=reason)
            raise
        if step is None:
            self._done = True
            self._turns.forget(self._state)
            raise StopIteration
        return step

    def _advance(self) -> Optional[ConversationStep]:
        state = self._state
        transcript = self._transcript
        callback = self._on_delta
        while True:
            events = state.events
            index, end = self._cursor, len(events)
            parked = False  # on an open run of deltas (the last event): wait for more lines
            while index < end:
                message = events[index]
                if callback is not None and isinstance(message, DeltaRun):
                    if not self._pass_on_run(message, index):
                        parked = True
                        break
                    index += 1
                    self._cursor = index
                    continue
                index += 1
                self._cursor = index
                on_delta = None
                if callback is not None and index > state.deltas_delivered:
                    state.deltas_delivered = index  # never the same delta twice, even on resume
                    on_delta = callback
                if transcript.turn_id is None:
                    transcript.turn_id = state.turn_id
                step = transcript.fold(message, on_delta)
                if step is not None:
                    return step
            if state.finished:
                if self._cursor < len(state.events):
                    continue
                transcript.turn_id = state.turn_id
                error = ending_error(transcript, state.status, state.error, state.failure, state.start_error)
                if error is not None:
                    raise error
                return None
            deadline = self._idle_deadline()
            if parked:
                woke = state.wait_beyond_run(self._cursor, self._run_seen, deadline)
            else:
                woke = state.wait_beyond(self._cursor, deadline)
            if not woke:
                deadline = self._idle_deadline()  # activity may have moved it
                if deadline is not None and time.monotonic() >= deadline:
                    idle = time.monotonic() - max(state.last_activity, self._opened_at)
                    inactive = CodexTurnInactiveError("", idle, continuation=self.continuation)
                    said = state.describe_server_error()  # what the server kept saying meanwhile
                    if said:
                        inactive = CodexTurnInactiveError(str(inactive) + said, idle, continuation=self.continuation)
                    raise inactive

    def _pass_on_run(self, run: DeltaRun, index: int) -> bool:
        """Parse the new lines of the run at ``index`` and pass them to ``on_delta``; ``False`` if it may grow.

        A run grows while it is the last event of a running turn; once a
        later event exists (or the turn ended) its lines are final, so they
        are counted only after that check. ``state.deltas_delivered`` and
        ``delta_lines_delivered`` move before the callback runs: a resumed
        reader never gets the same delta twice.
        """
        state = self._state
        closed = len(state.events) > index + 1 or state.finished
        upto = len(run.lines)
        if index < state.deltas_delivered:
            start = upto  # passed on by an earlier reader of this turn
        elif index == state.deltas_delivered:
            start = max(self._run_seen, state.delta_lines_delivered)
        else:
            start = self._run_seen
        if start < upto:
            state.deltas_delivered, state.delta_lines_delivered = index, upto
            if self._transcript.turn_id is None:
                self._transcript.turn_id = state.turn_id
            self._transcript.fold_delta_lines(run.lines, start, upto, self._on_delta)  # type: ignore[arg-type]
        if not closed:
            self._run_seen = upto
            return False
        self._run_seen = 0
        if state.deltas_delivered <= index:
            state.deltas_delivered, state.delta_lines_delivered = index + 1, 0
        return True

    def _idle_deadline(self) -> Optional[float]:
        if self._inactivity_timeout is None:
            return None
        return max(self._state.last_activity, self._opened_at) + self._inactivity_timeout

    # -- control --------------------------------------------------------------------
    def cancel(self, timeout: Optional[float] = None) -> CancelResult:
        """Interrupt the turn and return what this stream has not yielded yet.

        Blocks until ``turn/completed`` or ``timeout`` (``None``: the
        client's request timeout; ``codex_sync.NO_TIMEOUT``: no limit); then
        raises :class:`CodexTurnInactiveError` with a continuation. If the
        server refuses the interrupt, raises its :class:`CodexProtocolError`
        and the turn runs on (:attr:`continuation` resumes it). Works also
        after the turn ended (then nothing is interrupted and
        ``was_completed`` tells how it ended). See :meth:`CodexClient.cancel`.
        Any thread.
        """
        wait = resolve_timeout(timeout, self._controls.request_timeout)
        self._done = True
        try:
            return cancel_turn(self._turns, self._state, self._cursor, wait, self.continuation)
        except (CodexTurnInactiveError, CodexProtocolError):  # not ended, or the interrupt was refused
            self._detached = True  # the continuation owns the turn now
            raise

    def steer(self, text: Any) -> str:
        """Add ``text`` (or input items) to the running turn; returns the turn id.

        Blocks for one request. Raises :class:`CodexProtocolError` if the turn has ended.
        """
        self._controls.steer_turn(thread_id=self.thread_id, expected_turn_id=self.turn_id, input_items=text)
        return self.turn_id

    def detach(self) -> ChatContinuation:
        """Stop reading but leave the turn running; return the continuation that resumes it.

        For durable turns: hand ``detach().to_json()`` to another request or
        process (see ``docs/durable.md``). After it, leaving the loop, ``close()``
        and garbage collection no longer interrupt the turn. Does not block; any thread.
        """
        self._detached = True
        return self.continuation

    def close(self) -> None:
        """Stop reading: if the turn still runs and no continuation owns it, interrupt it.

        Blocks until the turn ends, at most ``STOP_DRAIN_SECONDS`` (10 s).
        Idempotent; any thread.
        """
        if self._done or self._detached:
            return
        self._done = True
        self._turns.stop(self._state, reason="closed")

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # No lock here: the cyclic GC may run this in a thread that holds one.
        if not getattr(self, "_done", True) and not self._detached and os.getpid() == self._pid:
            self._done = True
            self._turns.stop_later(self._state)


ReadBack = Callable[[str, str], Optional[Tuple[Optional[str], str]]]


def run_to_end(stream: ChatStream, read_back: ReadBack) -> ChatResult:
    """Read ``stream`` to its end and return the turn's :class:`ChatResult` (``chat_once``).

    A server request left for a manual answer gets the default answer (with
    a warning): there is no loop to answer it in. The final text is the last
    agent message, stripped (``completion_source="item_completed"``);
    without one, ``read_back(thread_id, turn_id)`` reads the turn's last
    agent message back from the thread (``"thread_read_fallback"``). Raises
    what the stream raises, and :class:`CodexEmptyAnswerError` when there is
    no answer text at all.
    """
    for step in stream:
        if step.request is not None and not step.request.answered:
            log.warning("chat_once cannot show %s for a manual answer; answering with the "
                        "default (use chat() for codex_sync.MANUAL)", step.request.method)
            default_answer(step.request)
    final = (stream.final_text or "").strip()
    item_id, source = stream.assistant_item_id, "item_completed"
    if not final:
        found = read_back(stream.thread_id, stream.turn_id)
        item_id, final = (found[0], found[1].strip()) if found is not None else (None, "")
        source = "thread_read_fallback"
    if not final:
        transcript = stream._transcript
        raise CodexEmptyAnswerError(
            f"turn {stream.turn_id} completed with no final assistant message (none completed, "
            "none in thread/read)",
            thread_id=stream.thread_id,
            turn_id=stream.turn_id,
            data=terminal_turn(transcript, "completed", None),
        )
    return ChatResult(
        thread_id=stream.thread_id,
        turn_id=stream.turn_id,
        final_text=final,
        raw_events=stream._transcript.raw_events_unparsed(),
        assistant_item_id=item_id,
        completion_source=source,
        steps=list(stream.steps),
        usage=stream.usage,
    )
