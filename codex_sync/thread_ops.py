"""The thread methods of :class:`CodexClient` (a mixin, to keep files small).

Every method blocks for one or two requests (bounded by ``request_timeout``),
may be called from any thread, and raises :class:`CodexProtocolError` when the
server refuses (an unknown thread id, for instance) and
:class:`CodexTransportError` when the connection is gone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Dict, Optional, Set, cast

from .config import (
    THREAD_FORK_KEYS,
    THREAD_RESUME_KEYS,
    THREAD_START_KEYS,
    UNSET,
    ThreadConfig,
    TurnOverrides,
    check_config,
    check_id,
    turn_overrides_from,
)
from .errors import CodexTimeoutError

if TYPE_CHECKING:  # pragma: no cover
    from .client import CodexClient
    from .thread import ThreadHandle
    from .turns import TurnState

log = logging.getLogger("codex_sync")

# Settings a fork takes from its parent's history, whatever thread/fork says (codex 0.163).
FORK_KEEPS_PARENTS = ("base_instructions", "developer_instructions")



class ThreadOpsMixin:
    """Thread lifecycle and history: start, resume, fork, read, list, name, archive, revert, compact."""

    if TYPE_CHECKING:  # what the mixin uses of CodexClient
        request_timeout: Optional[float]
        _loaded_threads: Set[str]
        _pending_overrides: Dict[str, TurnOverrides]

        def _ensure_initialized(self) -> None: ...
        def _timeout_or_default(self, timeout: Optional[float]) -> Optional[float]: ...
        def _call(self, method: str, params: Dict[str, Any], timeout: Optional[float] = None) -> Any: ...
        def _run_turn_request(self, thread_id: str, method: str, params: Dict[str, Any]) -> TurnState: ...
        def _forget_turn(self, state: TurnState) -> None: ...

    def start_thread(
        self,
        config: Optional[ThreadConfig] = None,
        *,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ThreadHandle:
        """Start a thread (``thread/start``) and return its :class:`ThreadHandle`.

        ``approval_handler``/``user_input_handler`` apply to every turn of
        this thread (over the client's; a turn's own win over both).
        """
        from .thread import ThreadHandle

        check_config(config, ThreadConfig, "config")
        config = config or ThreadConfig()
        result = self._call("thread/start", config.to_params(THREAD_START_KEYS))
        thread_id = str(result["thread"]["id"])
        self._loaded_threads.add(thread_id)
        return ThreadHandle(cast("CodexClient", self), thread_id, config, approval_handler=approval_handler,
                            user_input_handler=user_input_handler, info=result)

    def resume_thread(
        self, thread_id: str, overrides: Optional[ThreadConfig] = None, **handlers: Any
    ) -> ThreadHandle:
        """Load a thread into this connection (``thread/resume``), applying ``overrides``."""
        from .thread import ThreadHandle

        check_config(overrides, ThreadConfig, "overrides")
        config = overrides or ThreadConfig()
        params = config.to_params(THREAD_RESUME_KEYS)
        params.update(threadId=check_id(thread_id, "thread_id"), excludeTurns=True)
        result = self._call("thread/resume", params)
        self._loaded_threads.add(thread_id)
        return ThreadHandle(cast("CodexClient", self), thread_id, config, info=result, **handlers)

    def fork_thread(
        self,
        thread_id: str,
        overrides: Optional[ThreadConfig] = None,
        *,
        last_turn_id: Optional[str] = None,
        **handlers: Any,
    ) -> ThreadHandle:
        """Copy a thread's history into a new thread (``thread/fork``) and return it.

        ``last_turn_id`` forks from that turn instead of the end.
        """
        from .thread import ThreadHandle

        check_config(overrides, ThreadConfig, "overrides")
        config = overrides or ThreadConfig()
        params = config.to_params(THREAD_FORK_KEYS)
        params.update(threadId=check_id(thread_id, "thread_id"), excludeTurns=True)
        if last_turn_id is not None:
            params["lastTurnId"] = check_id(last_turn_id, "last_turn_id")
        result = self._call("thread/fork", params)
        new_id = str(result["thread"]["id"])
        self._loaded_threads.add(new_id)
        kept = [name for name in FORK_KEEPS_PARENTS if getattr(config, name) is not UNSET]
        if kept:
            log.warning("thread/fork keeps the parent's %s (today's server ignores new ones)", ", ".join(kept))
            config = replace(config, **{name: UNSET for name in kept})
        return ThreadHandle(cast("CodexClient", self), new_id, config, info=result, **handlers)

    def set_thread_defaults(self, thread_id: str, overrides: ThreadConfig) -> Dict[str, Any]:
        """Apply thread-level settings between turns.

        For a thread this client has not loaded, ``thread/resume`` loads it
        with the settings and its result is returned. For a loaded thread,
        today's server ignores new settings in ``thread/resume`` (and fails it
        before the first turn), so none is sent: the settings ``turn/start``
        can carry (``model``, ``cwd``, ``approval_policy``,
        ``approvals_reviewer``, ``sandbox``, ``service_tier``, ``personality``)
        go with this client's next turn on the thread, where they stick, and
        ``{}`` is returned. Instructions and the rest are fixed once a thread
        has history (a fork keeps them too): a warning names them; start a
        new thread to change them.
        """
        if not isinstance(overrides, ThreadConfig):
            raise TypeError(f"overrides must be a ThreadConfig, not {type(overrides).__name__}")
        check_id(thread_id, "thread_id")
        if thread_id not in self._loaded_threads:
            return self.resume_thread(thread_id, overrides).info
        turn_level, ignored = turn_overrides_from(overrides)
        if not turn_level.is_empty():
            pending = self._pending_overrides.get(thread_id, TurnOverrides())
            self._pending_overrides[thread_id] = pending.merged(turn_level)
        if ignored:
            log.warning(
                "thread %s is loaded: the server keeps its %s; start a new thread to change them",
                thread_id, ", ".join(ignored),
            )
        return {}

    def read_thread(self, thread_id: str, include_turns: bool = True) -> Dict[str, Any]:
        """``thread/read``: the thread, with its turns and their items when ``include_turns``."""
        result: Dict[str, Any] = self._call(
            "thread/read", {"threadId": check_id(thread_id, "thread_id"), "includeTurns": bool(include_turns)}
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
        **extra: Any,
    ) -> Dict[str, Any]:
        """``thread/list``: ``{"data": [...], "nextCursor": ...}``; ``extra`` keys pass through (camelCase)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be a positive int, not {limit!r}")
        params: Dict[str, Any] = dict(extra)
        for key, value in (("limit", limit), ("cursor", cursor), ("archived", archived), ("cwd", cwd),
                           ("searchTerm", search_term), ("sortKey", sort_key)):
            if value is not None:
                params[key] = value
        result: Dict[str, Any] = self._call("thread/list", params)
        return result

    def set_thread_name(self, thread_id: str, name: str) -> None:
        """``thread/name/set``."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, not {type(name).__name__}")
        self._call("thread/name/set", {"threadId": check_id(thread_id, "thread_id"), "name": name})

    def archive_thread(self, thread_id: str) -> None:
        """``thread/archive``: hide the thread from the default list."""
        self._call("thread/archive", {"threadId": check_id(thread_id, "thread_id")})

    def unarchive_thread(self, thread_id: str) -> Dict[str, Any]:
        """``thread/unarchive``; returns ``{"thread": ...}``."""
        result: Dict[str, Any] = self._call("thread/unarchive", {"threadId": check_id(thread_id, "thread_id")})
        return result

    def revert_thread(self, thread_id: str, before_turn_id: str) -> Dict[str, Any]:
        """``thread/revert``: drop ``before_turn_id`` and every later turn from the history.

        Files the turns changed are not restored.
        """
        result: Dict[str, Any] = self._call(
            "thread/revert",
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

    def compact_thread(self, thread_id: str, timeout: Optional[float] = None) -> None:
        """Compact the thread's context (``thread/compact/start``) and wait for that turn to end.

        The compaction is a turn of its own: it waits for a running turn of
        this client on the thread first, and others wait for it. Blocks up to
        ``timeout`` (default: ``request_timeout``) for it to finish.
        """
        check_id(thread_id, "thread_id")
        wait = self._timeout_or_default(timeout)
        self._ensure_initialized()
        state = self._run_turn_request(thread_id, "thread/compact/start", {"threadId": thread_id})
        try:
            if not state.wait_finished(None if wait is None else time.monotonic() + wait):
                raise CodexTimeoutError(f"compaction of thread {thread_id} did not finish within {wait:g}s")
            if state.failure is not None and state.status is None:
                raise state.failure
        finally:
            self._forget_turn(state)
