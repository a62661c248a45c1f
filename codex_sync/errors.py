"""The exceptions codex_sync raises.

Everything the library raises on purpose derives from :class:`CodexError`,
except :class:`TypeError`/:class:`ValueError` for wrong arguments. Every error
raised while handling another chains it as ``__cause__``.

```
CodexError
├── CodexTransportError          the server process or socket is gone or unusable
├── CodexTimeoutError            a request got no reply in time
│   └── CodexTurnInactiveError   a turn was silent for too long (has a continuation)
├── CodexProtocolError           the server answered with an error, or a turn ended badly
│   ├── CodexOverloadedError     -32001, still overloaded after retries
│   ├── CodexTurnFailedError     the turn ended with status "failed"
│   ├── CodexTurnInterruptedError  the turn ended with status "interrupted"
│   ├── CodexEmptyAnswerError    the turn completed without any answer text
│   └── CodexUnknownContinuationError  no turn of this client matches (also a ValueError)
└── CodexForkError               the client was created in another process
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

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
    ``client.cancel(continuation)`` to stop the turn. ``cancel`` raises it too
    when the turn does not end in time (the continuation stays usable).

    Built as the async SDK builds it, ``CodexTurnInactiveError(message, *,
    continuation=..., idle_seconds=...)``, or as
    ``CodexTurnInactiveError(continuation, idle_seconds)`` with a message
    made up from the continuation.
    """

    def __init__(
        self,
        message: Union[str, ChatContinuation],
        idle_seconds: Optional[float] = None,
        *,
        continuation: Optional[ChatContinuation] = None,
    ) -> None:
        if not isinstance(message, str):
            continuation, message = message, ""
        if continuation is None:
            raise TypeError("CodexTurnInactiveError needs a continuation")
        self.continuation = continuation
        self.idle_seconds = idle_seconds
        if not message:
            idle = f"{idle_seconds:.1f}s" if idle_seconds is not None else "too long"
            message = (
                f"turn {continuation.turn_id} of thread {continuation.thread_id} was inactive for "
                f"{idle}; it is still running: resume it with chat(continuation=exc.continuation) "
                "or stop it with client.cancel(exc.continuation)"
            )
        super().__init__(message)


class CodexProtocolError(CodexError):
    """The server answered a request with a JSON-RPC error, or a turn ended badly.

    ``CodexProtocolError(message, *, code=None, data=None)``, as in the async
    SDK: ``code`` is the JSON-RPC error code (``None`` for errors that are not
    an error reply, such as a failed turn), ``data`` the error's payload (for
    a turn that ended badly: the ``turn`` object of ``turn/completed``).
    ``message`` is the server's message; ``method`` the request it answered
    (``str(error)`` then names both, with the code).
    """

    def __init__(self, message: str = "", *, code: Optional[int] = None, data: Any = None, method: str = "") -> None:
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        if method:
            message = f"{method}: {message}" + (f" (code {code})" if code is not None else "")
        super().__init__(message)


class CodexOverloadedError(CodexProtocolError):
    """The server kept answering -32001 (overloaded) after every retry."""


class _TurnEndedError(CodexProtocolError):
    def __init__(
        self,
        message: str,
        *,
        thread_id: str,
        turn_id: Optional[str],
        error: Optional[Mapping[str, Any]] = None,
        data: Any = None,
        code: Optional[int] = None,
    ) -> None:
        super().__init__(message, code=code, data=data)
        self.thread_id = thread_id
        self.turn_id = turn_id
        self.error: Mapping[str, Any] = dict(error or {})
        self.codex_error_info: Any = self.error.get("codexErrorInfo")


class CodexTurnFailedError(_TurnEndedError):
    """The turn ended with status ``failed`` (a :class:`CodexProtocolError`, as in the async SDK).

    ``error`` holds the server's error object (``message``, ``codexErrorInfo``,
    ``additionalDetails``); ``codex_error_info`` is a shortcut to the second;
    ``data`` is the ``turn`` of ``turn/completed`` and ``code`` is ``None``.
    """


class CodexTurnInterruptedError(_TurnEndedError):
    """The turn ended with status ``interrupted`` (someone interrupted it); ``data`` is the turn."""


class CodexEmptyAnswerError(_TurnEndedError):
    """The turn completed but produced no answer text, not even in ``thread/read``; ``data`` is the turn."""


class CodexUnknownContinuationError(CodexProtocolError, ValueError):
    """No turn of this client matches a continuation (another client's, already read, or expired).

    A :class:`CodexProtocolError` as in the async SDK, and a :class:`ValueError`
    as in earlier codex_sync releases.
    """


class CodexForkError(CodexError):
    """The client was created in another process (before ``os.fork()``).

    A client's pipes, socket and threads do not survive ``fork()``: create one
    client per process (see ``codex_sync.per_process_client``).
    """
