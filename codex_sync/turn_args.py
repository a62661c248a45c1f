"""Checking the arguments of a turn (``chat``, ``chat_once``) before anything is sent.

Pure: :func:`check_turn_args` raises :class:`TypeError`/:class:`ValueError`
naming the bad argument, or returns a :class:`TurnArgs` ready to send. Every
argument is checked before the client starts a thread or claims one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .approvals import check_handler
from .config import UNSET, ThreadConfig, TurnOverrides, check_config, check_id
from .inputs import InputArg, to_input_items
from .values import ChatContinuation


@dataclass(frozen=True)
class TurnArgs:
    """A turn to start (``continuation is None``) or to resume (only ``continuation`` set)."""

    continuation: Optional[ChatContinuation] = None
    items: Tuple[Dict[str, Any], ...] = ()
    thread_id: Optional[str] = None
    thread_config: Optional[ThreadConfig] = None
    turn_overrides: Optional[TurnOverrides] = None
    extra: Optional[Dict[str, Any]] = None  # "user", "metadata"
    handlers: Tuple[Any, Any] = (None, None)

    @property
    def needs_experimental_api(self) -> bool:
        """Whether the turn asks for something the server gates behind ``experimentalApi`` (a collaboration mode)."""
        mode = self.turn_overrides.collaboration_mode if self.turn_overrides is not None else None
        return mode is not None and mode is not UNSET

    def turn_params(self, thread_id: str) -> Dict[str, Any]:
        """The ``turn/start`` params for ``thread_id`` (without settings deferred to the thread)."""
        params: Dict[str, Any] = self.turn_overrides.to_params() if self.turn_overrides else {}
        params.update(self.extra or {})
        params["threadId"] = thread_id
        params["input"] = list(self.items)
        return params


def check_turn_args(
    text: Optional[InputArg],
    thread_id: Optional[str],
    *,
    user: Optional[str],
    metadata: Optional[Mapping[str, Any]],
    thread_config: Optional[ThreadConfig],
    turn_overrides: Optional[TurnOverrides],
    continuation: Optional[ChatContinuation],
    approval_handler: Any,
    user_input_handler: Any,
    on_delta: Any,
) -> TurnArgs:
    """Check every argument of a turn; raise :class:`TypeError`/:class:`ValueError` naming the bad one."""
    if on_delta is not None and not callable(on_delta):
        raise TypeError("on_delta must be callable or None")
    if continuation is not None:
        given = [
            name
            for name, value in (
                ("text", text), ("thread_id", thread_id), ("user", user), ("metadata", metadata),
                ("thread_config", thread_config), ("turn_overrides", turn_overrides),
                ("approval_handler", approval_handler), ("user_input_handler", user_input_handler),
            )
            if value is not None
        ]
        if given:  # (a continuation resumes a turn that already started, with its settings)
            raise ValueError(f"{', '.join(given)} cannot be used with continuation")
        if not isinstance(continuation, ChatContinuation):
            raise TypeError(f"continuation must be a ChatContinuation, not {type(continuation).__name__}")
        return TurnArgs(continuation=continuation)
    if text is None:
        raise ValueError("text is required (or pass continuation=...)")
    items: List[Dict[str, Any]] = to_input_items(text, "text")
    if thread_id is not None:
        check_id(thread_id, "thread_id")
    if user is not None and not isinstance(user, str):
        raise TypeError(f"user must be a string or None, not {type(user).__name__}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict or None, not {type(metadata).__name__}")
    check_config(thread_config, ThreadConfig, "thread_config")
    check_config(turn_overrides, TurnOverrides, "turn_overrides")
    check_handler(approval_handler, "approval_handler")
    check_handler(user_input_handler, "user_input_handler")
    extra: Dict[str, Any] = {}
    if user is not None:
        extra["user"] = user
    if metadata is not None:
        extra["metadata"] = dict(metadata)
    return TurnArgs(
        items=tuple(items),
        thread_id=thread_id,
        thread_config=thread_config,
        turn_overrides=turn_overrides,
        extra=extra,
        handlers=(approval_handler, user_input_handler),
    )
