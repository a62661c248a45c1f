"""``ChatStream``: the iterator ``client.chat()`` returns, reading one turn from a cursor."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from . import protocol
from .errors import (
    CodexTransportError,
    CodexTurnFailedError,
    CodexTurnInactiveError,
    CodexTurnInterruptedError,
)
from .protocol import Notification
from .steps import step_from_item
from .turns import TurnState
from .values import CancelResult, ChatContinuation, ConversationStep, TextDelta, TokenUsage

if TYPE_CHECKING:  # pragma: no cover
    from .conversation import ConversationMixin

log = logging.getLogger("codex_sync.chat")

DeltaCallback = Callable[[TextDelta], None]


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
        client: ConversationMixin,
        state: TurnState,
        *,
        cursor: int,
        inactivity_timeout: Optional[float],
        on_delta: Optional[DeltaCallback],
        mode: str,
    ) -> None:
        self._client = client
        self._state = state
        self._start_cursor = cursor
        self._cursor = cursor
        self._inactivity_timeout = inactivity_timeout
        self._on_delta = on_delta
        self._mode = mode
        self._opened_at = time.monotonic()
        self._done = False  # iteration over (end reached, error raised, cancelled)
        self._detached = False  # a continuation now owns the turn
        self.steps: List[ConversationStep] = []
        self.raw_events: List[Dict[str, Any]] = []
        self.final_text: Optional[str] = None
        self.assistant_item_id: Optional[str] = None
        self.last_error: Optional[Dict[str, Any]] = None
        self._usage_sum: Dict[str, int] = {}
        self._usage_last: Optional[Dict[str, Any]] = None
        if on_delta is not None:
            state.wants_deltas = True

    # -- identity -----------------------------------------------------------
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
        """Where this stream stands: pass it to ``chat``/``chat_once``/``cancel`` later."""
        cursor = self._cursor if self._mode == "chat" else self._start_cursor
        return ChatContinuation(self.thread_id, self.turn_id, cursor, self._mode)

    @property
    def usage(self) -> Optional[TokenUsage]:
        """Token usage seen so far in this turn (``None`` before the first report)."""
        last = self._usage_last
        if last is None:
            return None
        total = last.get("total") if isinstance(last.get("total"), dict) else {}
        s = self._usage_sum
        return TokenUsage(
            input_tokens=s.get("inputTokens", 0),
            cached_input_tokens=s.get("cachedInputTokens", 0),
            output_tokens=s.get("outputTokens", 0),
            reasoning_output_tokens=s.get("reasoningOutputTokens", 0),
            total_tokens=s.get("totalTokens", 0),
            thread_total_tokens=int(total.get("totalTokens", 0)) if total else 0,
            model_context_window=last.get("modelContextWindow"),
            raw=last,
        )

    # -- iteration ----------------------------------------------------------
    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> ConversationStep:
        if self._done:
            raise StopIteration
        try:
            step = self._advance()
        except KeyboardInterrupt:
            self._done = True
            self._client._stop_turn(self._state, reason="KeyboardInterrupt")
            raise
        except CodexTurnInactiveError:
            self._detached = True
            raise
        except BaseException:  # an on_delta callback raised, or the turn ended badly
            self._done = True
            if self._state.finished:
                self._client._forget_turn(self._state)
            else:
                self._client._stop_turn(self._state, reason="error in the caller")
            raise
        if step is None:
            self._done = True
            self._client._forget_turn(self._state)
            raise StopIteration
        return step

    def _advance(self) -> Optional[ConversationStep]:
        state = self._state
        while True:
            events = state.events
            while self._cursor < len(events):
                message = events[self._cursor]
                self._cursor += 1
                step = self._process(message, self._cursor - 1)
                if step is not None:
                    return step
            if state.finished:
                if self._cursor < len(state.events):
                    continue
                self._conclude()
                return None
            deadline = self._idle_deadline()
            if not state.wait_beyond(self._cursor, deadline):
                deadline = self._idle_deadline()  # activity may have moved it
                if deadline is not None and time.monotonic() >= deadline:
                    idle = time.monotonic() - max(state.last_activity, self._opened_at)
                    raise CodexTurnInactiveError(self.continuation, idle)

    def _idle_deadline(self) -> Optional[float]:
        if self._inactivity_timeout is None:
            return None
        return max(self._state.last_activity, self._opened_at) + self._inactivity_timeout

    def _process(self, message: Notification, index: int) -> Optional[ConversationStep]:
        state = self._state
        turn_id = message.turn_id
        if turn_id is not None and state.turn_id is not None and turn_id != state.turn_id:
            return None
        self.raw_events.append(message.raw)
        method = message.method
        params = message.params
        if method == protocol.ITEM_COMPLETED:
            item = params.get("item")
            if not isinstance(item, dict):
                return None
            step = step_from_item(item, params, state.thread_id, state.turn_id)
            if step.item_type == "agentMessage" and step.text:
                self.final_text = step.text
                self.assistant_item_id = step.item_id
            self.steps.append(step)
            return step
        if method in protocol.DELTA_KINDS:
            if self._on_delta is not None and index >= state.deltas_delivered:
                state.deltas_delivered = index + 1  # never the same delta twice, even on resume
                delta = params.get("delta")
                if isinstance(delta, str):
                    self._on_delta(TextDelta(protocol.DELTA_KINDS[method], params.get("itemId"), delta, method))
            return None
        if method == protocol.TOKEN_USAGE_UPDATED:
            usage = params.get("tokenUsage")
            if isinstance(usage, dict):
                self._usage_last = usage
                last = usage.get("last")
                if isinstance(last, dict):
                    for key, value in last.items():
                        if isinstance(value, int):
                            self._usage_sum[key] = self._usage_sum.get(key, 0) + value
            return None
        if method == protocol.ERROR_NOTIFICATION and not params.get("willRetry"):
            error = params.get("error")
            if isinstance(error, dict):
                self.last_error = error
            return None
        request = getattr(message, "request", None)
        if request is not None:  # a server request waiting for a manual answer
            return ConversationStep(
                step_type="approval",
                item_type=method,
                text=request.describe(),
                item_id=params.get("itemId"),
                thread_id=state.thread_id,
                turn_id=state.turn_id,
                data={"params": params, "item": None},
                request=request,
            )
        return None

    def _conclude(self) -> None:
        state = self._state
        if state.status is None and state.failure is not None:
            raise CodexTransportError(
                f"the connection died during turn {state.turn_id}: {state.failure.message}",
                exit_code=state.failure.exit_code,
                stderr_tail=state.failure.stderr_tail,
            ) from state.failure
        if state.status == "failed":
            error = state.error or self.last_error or {}
            message = str(error.get("message") or "the turn failed")
            raise CodexTurnFailedError(
                f"turn {state.turn_id} failed: {message}",
                thread_id=state.thread_id,
                turn_id=state.turn_id,
                error=error,
            )
        if state.status == "interrupted":
            raise CodexTurnInterruptedError(
                f"turn {state.turn_id} was interrupted",
                thread_id=state.thread_id,
                turn_id=state.turn_id,
                error=state.error,
            )

    # -- control ------------------------------------------------------------
    def cancel(self, timeout: Optional[float] = None) -> CancelResult:
        """Interrupt the turn and return what this stream has not yielded yet.

        Blocks until ``turn/completed`` or ``timeout`` (default: the client's
        request timeout). See :meth:`CodexClient.cancel`.
        """
        self._done = True
        return self._client.cancel(
            ChatContinuation(self.thread_id, self.turn_id, self._cursor, "chat"), timeout=timeout
        )

    def steer(self, text: str) -> str:
        """Add ``text`` (or input items) to the running turn; returns the turn id."""
        return self._client.steer_turn(
            thread_id=self.thread_id, expected_turn_id=self.turn_id, input_items=text
        )

    def close(self) -> None:
        """Stop reading: if the turn still runs and no continuation owns it, interrupt it.

        Blocks until the turn ends, at most ``STOP_DRAIN_SECONDS`` (10 s).
        Idempotent; any thread.
        """
        if self._done or self._detached:
            return
        self._done = True
        self._client._stop_turn(self._state, reason="closed")

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._done and not self._detached:
                self._done = True
                self._client._stop_turn_later(self._state)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
