"""``ThreadHandle``: one codex thread, with its defaults and handlers.

A handle knows its client only through :class:`ThreadClient`, the calls it
makes (``CodexClient`` implements it), so this module sits below the client.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, Mapping, Optional

from typing_extensions import Protocol

from .chat import ChatStream
from .config import FORK_KEEPS_PARENTS, ThreadConfig, TurnOverrides
from .inputs import InputArg
from .transcript import DeltaCallback
from .values import ChatContinuation, ChatResult


class ThreadClient(Protocol):
    """What a :class:`ThreadHandle` calls on its client (:class:`CodexClient` does all of it)."""

    def chat_once(
        self, text: Optional[InputArg] = None, thread_id: Optional[str] = None, *,
        user: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None,
        turn_overrides: Optional[TurnOverrides] = None, inactivity_timeout: Optional[float] = None,
        continuation: Optional[ChatContinuation] = None, on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None, user_input_handler: Any = None,
    ) -> ChatResult:
        """Run one turn to its end."""

    def chat(
        self, text: Optional[InputArg] = None, thread_id: Optional[str] = None, *,
        user: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None,
        turn_overrides: Optional[TurnOverrides] = None, inactivity_timeout: Optional[float] = None,
        continuation: Optional[ChatContinuation] = None, on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None, user_input_handler: Any = None,
    ) -> ChatStream:
        """Start a turn and return its steps."""

    def _apply_thread_defaults(self, thread_id: str, overrides: ThreadConfig) -> ThreadConfig:
        """Apply thread settings; return those that took effect."""

    def _set_thread_handlers(self, thread_id: str, approval: Any, user_input: Any) -> None:
        """Handlers for every turn of the thread."""

    def fork_thread(
        self, thread_id: str, overrides: Optional[ThreadConfig] = None, *,
        approval_handler: Any = None, user_input_handler: Any = None,
    ) -> ThreadHandle:
        """Fork the thread."""

    def read_thread(self, thread_id: str, include_turns: bool = True) -> Dict[str, Any]:
        """``thread/read``."""

    def set_thread_name(self, thread_id: str, name: str) -> None:
        """``thread/name/set``."""

    def archive_thread(self, thread_id: str) -> None:
        """``thread/archive``."""

    def unarchive_thread(self, thread_id: str) -> Dict[str, Any]:
        """``thread/unarchive``."""

    def rollback_thread(self, thread_id: str, num_turns: int = 1) -> Dict[str, Any]:
        """Drop the last turns."""

    def compact_thread(self, thread_id: str, timeout: Optional[float] = None, *, wait: bool = False) -> Any:
        """Compact the thread's context."""

    def start_review(
        self, *, thread_id: str, target: Mapping[str, Any], delivery: Optional[str] = None,
    ) -> Any:
        """Start a review turn; the raw result."""

    def review(
        self, *, thread_id: str, target: Mapping[str, Any], delivery: Optional[str] = None,
        inactivity_timeout: Optional[float] = None, on_delta: Optional[DeltaCallback] = None,
    ) -> ChatStream:
        """Start a review turn; its steps."""


class ThreadHandle:
    """A codex thread bound to a client: chat on it, change its defaults, fork it.

    ``defaults`` is the local snapshot of the :class:`ThreadConfig` this
    handle applied. Handlers given here answer approvals and questions of
    every turn on this thread (a turn's own handlers win; the client's apply
    when none is set). Methods block like their client counterparts and may
    be called from any thread; turns on one thread run one at a time.
    """

    def __init__(
        self,
        client: ThreadClient,
        thread_id: str,
        defaults: Optional[ThreadConfig] = None,
        *,
        approval_handler: Any = None,
        user_input_handler: Any = None,
        info: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.client = client
        self.thread_id = thread_id
        self.defaults = defaults or ThreadConfig()
        self.info: Dict[str, Any] = dict(info or {})
        if approval_handler is not None or user_input_handler is not None:
            client._set_thread_handlers(thread_id, approval_handler, user_input_handler)

    def __repr__(self) -> str:
        return f"ThreadHandle({self.thread_id!r})"

    def _turn_kwargs(self, continuation: Optional[ChatContinuation]) -> Dict[str, Any]:
        return {} if continuation is not None else {"thread_id": self.thread_id}

    def chat_once(
        self,
        text: Optional[InputArg] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Optional[float] = None,
        continuation: Optional[ChatContinuation] = None,
        on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ChatResult:
        """:meth:`CodexClient.chat_once` on this thread (``inactivity_timeout=None``: the client's;
        ``codex_sync.NO_TIMEOUT``: no limit)."""
        return self.client.chat_once(
            text, user=user, metadata=metadata, turn_overrides=turn_overrides,
            inactivity_timeout=inactivity_timeout, continuation=continuation, on_delta=on_delta,
            approval_handler=approval_handler, user_input_handler=user_input_handler,
            **self._turn_kwargs(continuation),
        )

    def chat(
        self,
        text: Optional[InputArg] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Optional[float] = None,
        continuation: Optional[ChatContinuation] = None,
        on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ChatStream:
        """:meth:`CodexClient.chat` on this thread (``inactivity_timeout=None``: the client's;
        ``codex_sync.NO_TIMEOUT``: no limit)."""
        return self.client.chat(
            text, user=user, metadata=metadata, turn_overrides=turn_overrides,
            inactivity_timeout=inactivity_timeout, continuation=continuation, on_delta=on_delta,
            approval_handler=approval_handler, user_input_handler=user_input_handler,
            **self._turn_kwargs(continuation),
        )

    def update_defaults(self, overrides: ThreadConfig) -> None:
        """Apply new thread settings for the next turns and remember those that apply.

        See :meth:`CodexClient.set_thread_defaults`: on a loaded thread only
        the settings a turn can carry change; ``defaults`` records just those.
        """
        applied = self.client._apply_thread_defaults(self.thread_id, overrides)
        self.defaults = self.defaults.merged(applied)

    def fork(self, overrides: Optional[ThreadConfig] = None, **handlers: Any) -> ThreadHandle:
        """A new thread with this one's history and ``defaults`` merged with ``overrides``."""
        forked = self.client.fork_thread(self.thread_id, self.defaults.merged(overrides), **handlers)
        kept = {name: getattr(self.defaults, name) for name in FORK_KEEPS_PARENTS}
        forked.defaults = replace(forked.defaults, **kept)
        return forked

    def read(self, include_turns: bool = True) -> Dict[str, Any]:
        """``thread/read`` of this thread."""
        return self.client.read_thread(self.thread_id, include_turns=include_turns)

    def set_name(self, name: str) -> None:
        """Rename the thread."""
        self.client.set_thread_name(self.thread_id, name)

    def archive(self) -> None:
        """Archive the thread."""
        self.client.archive_thread(self.thread_id)

    def unarchive(self) -> Dict[str, Any]:
        """Unarchive the thread."""
        return self.client.unarchive_thread(self.thread_id)

    def rollback(self, num_turns: int = 1) -> Dict[str, Any]:
        """Drop the last ``num_turns`` turns (see :meth:`CodexClient.rollback_thread`)."""
        return self.client.rollback_thread(self.thread_id, num_turns)

    def compact(self, *, wait: bool = False, timeout: Optional[float] = None) -> Any:
        """Start compacting the context; the raw result (see :meth:`CodexClient.compact_thread`).

        With ``wait=True``, returns once the compaction turn has ended, within
        ``timeout`` (``None``: the client's ``request_timeout``;
        ``codex_sync.NO_TIMEOUT``: no limit).
        """
        return self.client.compact_thread(self.thread_id, timeout, wait=wait)

    def start_review(self, target: Mapping[str, Any], delivery: Optional[str] = None) -> Any:
        """Start a review turn on this thread; the raw result (see :meth:`CodexClient.start_review`)."""
        return self.client.start_review(thread_id=self.thread_id, target=target, delivery=delivery)

    def review(
        self, target: Mapping[str, Any], *, delivery: Optional[str] = None,
        inactivity_timeout: Optional[float] = None, on_delta: Optional[DeltaCallback] = None,
    ) -> ChatStream:
        """A review turn on this thread, as a stream of its steps (see :meth:`CodexClient.review`)."""
        return self.client.review(thread_id=self.thread_id, target=target, delivery=delivery,
                                  inactivity_timeout=inactivity_timeout, on_delta=on_delta)
