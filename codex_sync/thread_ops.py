"""The thread methods of :class:`CodexClient` (a stateless mixin).

Each method checks its arguments and makes one or two requests through the
one call the mixin declares, :meth:`ThreadOpsMixin._call`; it holds no state
(the session marks threads loaded as their ``thread/start``, ``thread/resume``
or ``thread/fork`` succeeds).
Each blocks for its requests (bounded by ``request_timeout``), may be called
from any thread, and raises :class:`CodexProtocolError` when the server
refuses (an unknown thread id, for instance) and :class:`CodexTransportError`
when the connection is gone. Changing a loaded thread's defaults and
compacting touch the client's turns and live on the client itself.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Dict, Optional, Sequence, cast

from . import protocol
from .config import (
    FORK_KEEPS_PARENTS,
    THREAD_FORK_KEYS,
    THREAD_RESUME_KEYS,
    THREAD_START_KEYS,
    UNSET,
    ThreadConfig,
    _camel,
    check_config,
    check_id,
)
from .thread import ThreadClient, ThreadHandle

log = logging.getLogger("codex_sync")


class ThreadOpsMixin:
    """Threads: start, resume, fork, read, list, name, archive, revert, roll back."""

    def _call(
        self, method: str, params: Dict[str, Any], timeout: Optional[float] = None, *, extra_seconds: float = 0.0
    ) -> Any:
        """Initialize if needed, then send one request; ``timeout=None``: the client's."""
        raise NotImplementedError

    def _as_client(self) -> ThreadClient:
        """This object as the client its handles call (``CodexClient`` is the only class mixing this in)."""
        return cast(ThreadClient, self)

    def start_thread(
        self,
        config: Optional[ThreadConfig] = None,
        *,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ThreadHandle:
        """Start a thread (``thread/start``) and return its :class:`ThreadHandle`.

        ``approval_handler``/``user_input_handler`` apply to every turn of
        this thread (over the client's; a turn's own win over both). Blocks
        for one request; raises :class:`CodexProtocolError` if the server
        refuses the settings.
        """
        check_config(config, ThreadConfig, "config")
        config = config or ThreadConfig()
        result = self._call(protocol.THREAD_START, config.to_params(THREAD_START_KEYS))
        thread_id = protocol.required_id(result, "thread", protocol.THREAD_START)
        return ThreadHandle(self._as_client(), thread_id, config, approval_handler=approval_handler,
                            user_input_handler=user_input_handler, info=result)

    def resume_thread(
        self, thread_id: str, overrides: Optional[ThreadConfig] = None, *,
        approval_handler: Any = None, user_input_handler: Any = None,
    ) -> ThreadHandle:
        """Load a thread into this connection (``thread/resume``), applying ``overrides``.

        Blocks for one request; raises :class:`CodexProtocolError` for an
        unknown thread.
        """
        check_config(overrides, ThreadConfig, "overrides")
        config = overrides or ThreadConfig()
        params = config.to_params(THREAD_RESUME_KEYS)
        params.update(threadId=check_id(thread_id, "thread_id"), excludeTurns=True)
        result = self._call(protocol.THREAD_RESUME, params)
        return ThreadHandle(self._as_client(), thread_id, config, info=result, approval_handler=approval_handler,
                            user_input_handler=user_input_handler)

    def fork_thread(
        self,
        thread_id: str,
        overrides: Optional[ThreadConfig] = None,
        *,
        last_turn_id: Optional[str] = None,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ThreadHandle:
        """Copy a thread's history into a new thread (``thread/fork``) and return it.

        ``last_turn_id`` forks from that turn instead of the end. Blocks for
        one request.
        """
        check_config(overrides, ThreadConfig, "overrides")
        config = overrides or ThreadConfig()
        params = config.to_params(THREAD_FORK_KEYS)
        params.update(threadId=check_id(thread_id, "thread_id"), excludeTurns=True)
        if last_turn_id is not None:
            params["lastTurnId"] = check_id(last_turn_id, "last_turn_id")
        result = self._call(protocol.THREAD_FORK, params)
        new_id = protocol.required_id(result, "thread", protocol.THREAD_FORK)
        kept = [name for name in FORK_KEEPS_PARENTS if getattr(config, name) is not UNSET]
        if kept:
            log.warning("thread/fork keeps the parent's %s (today's server ignores new ones)", ", ".join(kept))
            config = replace(config, **{name: UNSET for name in kept})
        return ThreadHandle(self._as_client(), new_id, config, info=result, approval_handler=approval_handler,
                            user_input_handler=user_input_handler)

    def read_thread(self, thread_id: str, include_turns: bool = True) -> Dict[str, Any]:
        """``thread/read``: the thread, with its turns and their items when ``include_turns``."""
        result: Dict[str, Any] = self._call(
            protocol.THREAD_READ, {"threadId": check_id(thread_id, "thread_id"), "includeTurns": bool(include_turns)}
        )
        return result

    def list_threads(
        self,
        *,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        archived: Optional[bool] = None,
        cwd: Optional[str] = None,
        search_term: Optional[str] = None,
        sort_key: Optional[str] = None,
        sort_direction: Optional[str] = None,
        model_providers: Optional[Sequence[str]] = None,
        **extra: Any,
    ) -> Dict[str, Any]:
        """``thread/list``: ``{"data": [...], "nextCursor": ...}``.

        ``sort_key`` is ``"created_at"`` or ``"updated_at"`` (and what else the
        server takes), ``sort_direction`` ``"asc"`` or ``"desc"``,
        ``model_providers`` a list of provider names to keep. ``extra`` keys
        pass through, snake_case ones turned camelCase (``source_kinds=`` is
        sent as ``sourceKinds``). Blocks for one request.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be a positive int, not {limit!r}")
        if isinstance(model_providers, str):
            raise TypeError("model_providers must be a list of provider names, not a string")
        params: Dict[str, Any] = {_camel(key): value for key, value in extra.items()}
        for key, value in (("limit", limit), ("cursor", cursor), ("archived", archived), ("cwd", cwd),
                           ("searchTerm", search_term), ("sortKey", sort_key), ("sortDirection", sort_direction),
                           ("modelProviders", list(model_providers) if model_providers is not None else None)):
            if value is not None:
                params[key] = value
        result: Dict[str, Any] = self._call(protocol.THREAD_LIST, params)
        return result

    def set_thread_name(self, thread_id: str, name: str) -> None:
        """``thread/name/set``."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, not {type(name).__name__}")
        self._call(protocol.THREAD_NAME_SET, {"threadId": check_id(thread_id, "thread_id"), "name": name})

    def archive_thread(self, thread_id: str) -> None:
        """``thread/archive``: hide the thread from the default list."""
        self._call(protocol.THREAD_ARCHIVE, {"threadId": check_id(thread_id, "thread_id")})

    def unarchive_thread(self, thread_id: str) -> Dict[str, Any]:
        """``thread/unarchive``; returns ``{"thread": ...}``."""
        result: Dict[str, Any] = self._call(protocol.THREAD_UNARCHIVE, {"threadId": check_id(thread_id, "thread_id")})
        return result

    def revert_thread(self, thread_id: str, before_turn_id: str) -> Dict[str, Any]:
        """``thread/revert``: drop ``before_turn_id`` and every later turn from the history.

        Files the turns changed are not restored.
        """
        result: Dict[str, Any] = self._call(
            protocol.THREAD_REVERT,
            {"threadId": check_id(thread_id, "thread_id"), "beforeTurnId": check_id(before_turn_id, "before_turn_id")},
        )
        return result

    def rollback_thread(self, thread_id: str, num_turns: int = 1) -> Dict[str, Any]:
        """Drop the last ``num_turns`` turns (today's server has no ``thread/rollback``:
        this reads the thread and calls ``thread/revert`` before the right turn).

        Raises :class:`ValueError` if the thread has fewer turns.
        """
        if isinstance(num_turns, bool) or not isinstance(num_turns, int) or num_turns < 1:
            raise ValueError(f"num_turns must be an int >= 1, not {num_turns!r}")
        turns = (self.read_thread(thread_id, include_turns=True).get("thread") or {}).get("turns") or []
        if num_turns > len(turns):
            raise ValueError(f"thread {thread_id} has {len(turns)} turn(s); cannot roll back {num_turns}")
        return self.revert_thread(thread_id, str(turns[-num_turns]["id"]))
