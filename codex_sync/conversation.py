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
import time
from dataclasses import replace
from typing import Any, Dict, Mapping, Optional, Tuple

from . import protocol
from .chat import ChatStream, TurnControls
from .config import THREAD_RESUME_KEYS, THREAD_START_KEYS, UNSET, ThreadConfig, turn_overrides_from
from .errors import CodexProtocolError, CodexTimeoutError
from .session import Session
from .transcript import DeltaCallback, final_text_of_turn
from .turn_args import TurnArgs
from .turn_registry import TurnRegistry

log = logging.getLogger("codex_sync")


class Conversation:
    """Opens the streams of turns over a session and a turn registry."""

    def __init__(self, session: Session, turns: TurnRegistry, controls: TurnControls) -> None:
        self._session = session
        self._turns = turns
        self._controls = controls

    def open_thread(self, thread_id: Optional[str], config: Optional[ThreadConfig]) -> str:
        """The thread to run a turn on: started (``thread_id=None``), resumed, or as it is.

        A thread this connection has not loaded, or new ``config``, means a
        ``thread/resume``. Blocks for that request.
        """
        timeout = self._controls.request_timeout
        config = config or ThreadConfig()
        if thread_id is None:
            result = self._session.request(protocol.THREAD_START, config.to_params(THREAD_START_KEYS), timeout)
            return str(result["thread"]["id"])
        if not self._session.is_loaded(thread_id) or not config.is_empty():
            params = config.to_params(THREAD_RESUME_KEYS)
            params.update(threadId=thread_id, excludeTurns=True)
            self._session.request(protocol.THREAD_RESUME, params, timeout)
        return thread_id

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
        """
        if args.continuation is not None:
            state = self._turns.find(args.continuation)
            cursor = args.continuation.cursor
        else:
            thread_id = self.open_thread(args.thread_id, args.thread_config)
            state = self._turns.start(
                thread_id, protocol.TURN_START, args.turn_params(thread_id), timeout=self._controls.request_timeout,
                handlers=args.handlers, wants_deltas=on_delta is not None, idle_limit=idle, with_overrides=True,
            )
            cursor = 0
        return ChatStream(self._turns, state, cursor=cursor, inactivity_timeout=idle, on_delta=on_delta,
                          mode=mode, controls=self._controls)

    def open_review(
        self, thread_id: str, target: Mapping[str, Any], delivery: Optional[str],
        idle: Optional[float], on_delta: Optional[DeltaCallback],
    ) -> ChatStream:
        """A stream over a new review turn (``review/start``) on ``thread_id``."""
        thread = self.open_thread(thread_id, None)
        params: Dict[str, Any] = {"threadId": thread, "target": dict(target)}
        if delivery is not None:
            params["delivery"] = delivery
        state = self._turns.start(thread, protocol.REVIEW_START, params, timeout=self._controls.request_timeout,
                                  wants_deltas=on_delta is not None)
        return ChatStream(self._turns, state, cursor=0, inactivity_timeout=idle, on_delta=on_delta,
                          mode="chat", controls=self._controls)

    def compact(self, thread_id: str, wait: Optional[float]) -> None:
        """Run a compaction turn on ``thread_id`` and wait up to ``wait`` seconds for its end."""
        state = self._turns.start(thread_id, protocol.THREAD_COMPACT_START, {"threadId": thread_id},
                                  timeout=self._controls.request_timeout)
        try:
            if not state.wait_finished(None if wait is None else time.monotonic() + wait):
                raise CodexTimeoutError(f"compaction of thread {thread_id} did not finish within {wait:g}s")
            if state.failure is not None and state.status is None:
                raise state.failure
        finally:
            self._turns.forget(state)

    def read_back(self, thread_id: str, turn_id: str) -> Optional[str]:
        """The turn's last agent message read back with ``thread/read`` (``None`` if none or refused)."""
        try:
            result = self._session.request(
                protocol.THREAD_READ, {"threadId": thread_id, "includeTurns": True}, self._controls.request_timeout
            )
        except CodexProtocolError as exc:
            log.debug("thread/read fallback failed: %s", exc)
            return None
        return final_text_of_turn(result, turn_id)
