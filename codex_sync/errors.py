"""The exceptions codex_sync raises.

Everything the library raises on purpose derives from :class:`CodexError`,
except :class:`TypeError`/:class:`ValueError` for wrong arguments. Every error
raised while handling another chains it as ``__cause__``.

```
CodexError
├── CodexTransportError          the server process or socket is gone or unusable
├── CodexTimeoutError            a request got no reply in time
│   └── CodexTurnInactiveError   a turn was silent for too long (has a continuation)
├── CodexProtocolError           the server answered with a JSON-RPC error
│   └── CodexOverloadedError     -32001, still overloaded after retries
├── CodexTurnFailedError         the turn ended with status "failed"
├── CodexTurnInterruptedError    the turn ended with status "interrupted"
├── CodexEmptyAnswerError        the turn completed without any answer text
└── CodexForkError               the client was created in another process
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .values import ChatContinuation


class CodexError(Exception):
    """Base class of every error codex_sync raises on purpose."""


class CodexTransportError(CodexError):
    """The connection to the app-server is broken, closed or could not be made.

    ``exit_code`` is the server process's exit status when it is known (stdio
    only) and ``stderr_tail`` the last part of what it wrote to stderr.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: Optional[int] = None,
        stderr_tail: str = "",
    ) -> None:
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        full = message
        if exit_code is not None:
            full += f" (exit code {exit_code})"
        if stderr_tail.strip():
            tail = stderr_tail.strip()[-2000:]
            full += f"\n--- server stderr (tail) ---\n{tail}"
        super().__init__(full)
        self.message = message


class CodexTimeoutError(CodexError):
    """A wait reached its deadline: a request got no reply in time."""


class CodexTurnInactiveError(CodexTimeoutError):
    """A turn sent nothing for ``idle_seconds``; it keeps running on the server.

    Pass ``continuation`` back as ``chat(continuation=...)`` or
    ``chat_once(continuation=...)`` to resume exactly where you stopped, or to
    ``client.cancel(continuation)`` to stop the turn.
    """

    def __init__(self, continuation: ChatContinuation, idle_seconds: Optional[float]) -> None:
        self.continuation = continuation
        self.idle_seconds = idle_seconds
        idle = f"{idle_seconds:.1f}s" if idle_seconds is not None else "too long"
        super().__init__(
            f"turn {continuation.turn_id} of thread {continuation.thread_id} was inactive for "
            f"{idle}; it is still running: resume it with chat(continuation=exc.continuation) "
            "or stop it with client.cancel(exc.continuation)"
        )


class CodexProtocolError(CodexError):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None, *, method: str = "") -> None:
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{message} (code {code})")


class CodexOverloadedError(CodexProtocolError):
    """The server kept answering -32001 (overloaded) after every retry."""


class _TurnEndedError(CodexError):
    def __init__(
        self,
        message: str,
        *,
        thread_id: str,
        turn_id: Optional[str],
        error: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.thread_id = thread_id
        self.turn_id = turn_id
        self.error: Mapping[str, Any] = dict(error or {})
        self.codex_error_info: Any = self.error.get("codexErrorInfo")
        super().__init__(message)


class CodexTurnFailedError(_TurnEndedError):
    """The turn ended with status ``failed``.

    ``error`` holds the server's error object (``message``, ``codexErrorInfo``,
    ``additionalDetails``); ``codex_error_info`` is a shortcut to the second.
    """


class CodexTurnInterruptedError(_TurnEndedError):
    """The turn ended with status ``interrupted`` (someone interrupted it)."""


class CodexEmptyAnswerError(_TurnEndedError):
    """The turn completed but produced no answer text, not even in ``thread/read``."""


class CodexForkError(CodexError):
    """The client was created in another process (before ``os.fork()``).

    A client's pipes, socket and threads do not survive ``fork()``: create one
    client per process (see ``codex_sync.per_process_client``).
    """
