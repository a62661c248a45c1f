"""Replies that make the turn fail or stall: HTTP errors, failed or cut streams, silence.

Re-exported by :mod:`codex_sync.testing.replies` and :mod:`codex_sync.testing`;
import them from there. All are frozen dataclasses: build them on any
thread, share them between threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from . import response_events as ev
from .reply_base import Reply, ReplyStream, send_events

__all__ = [
    "HttpErrorReply",
    "FailedReply",
    "TruncatedReply",
    "HangReply",
    "http_error",
    "failed",
    "truncated",
    "hang",
]


@dataclass(frozen=True)
class HttpErrorReply(Reply):
    """A non-200 HTTP answer (see :func:`http_error`)."""

    status: int
    body: str = "error"
    headers: Optional[Tuple[Tuple[str, str], ...]] = None

    def write(self, stream: ReplyStream) -> None:
        """Send the error (see :meth:`Reply.write`)."""
        stream.send_error(self.status, self.body, dict(self.headers or ()))


def http_error(
    status: int, body: str = "error", *, headers: Optional[Mapping[str, str]] = None
) -> HttpErrorReply:
    """A reply that answers HTTP ``status`` with ``body`` (and extra ``headers``).

    With the launcher's ``request_max_retries = 0`` the turn fails at once:
    500 gives codexErrorInfo ``internalServerError`` (the body is ignored),
    400 shows the body as the error message, 401 ``httpConnectionFailed``,
    429 ``responseTooManyFailedAttempts``. Pure; any thread.
    """
    return HttpErrorReply(
        status=status,
        body=body,
        headers=None if headers is None else tuple(headers.items()),
    )


@dataclass(frozen=True)
class FailedReply(Reply):
    """A stream ending in ``response.failed`` (see :func:`failed`)."""

    message: str
    code: str = "server_error"

    def write(self, stream: ReplyStream) -> None:
        """Stream the failure (see :meth:`Reply.write`)."""
        response_id = stream.new_id("resp")
        send_events(stream, [ev.created(response_id), ev.failed(response_id, self.code, self.message)])


def failed(message: str, code: str = "server_error") -> FailedReply:
    """A reply whose stream ends with a ``response.failed`` event.

    The turn fails with the message ``"stream disconnected before completion:
    <message>"``; ``code="context_length_exceeded"`` gives codexErrorInfo
    ``contextWindowExceeded``. Pure; any thread.
    """
    return FailedReply(message=message, code=code)


@dataclass(frozen=True)
class TruncatedReply(Reply):
    """A stream that ends without ``response.completed`` (see :func:`truncated`)."""

    partial: str = ""

    def write(self, stream: ReplyStream) -> None:
        """Stream the cut-off answer (see :meth:`Reply.write`)."""
        evs = [ev.created(stream.new_id("resp"))]
        if self.partial:  # a message's opening and its one delta, never its end
            evs += ev.message_events(stream.new_id("msg"), self.partial, [self.partial], complete=False)
        send_events(stream, evs)


def truncated(partial: str = "") -> TruncatedReply:
    """A reply whose stream stops before ``response.completed``.

    ``partial``: text streamed as a delta before the cut. The turn fails with
    "stream disconnected before completion: stream closed before
    response.completed". Pure; any thread.
    """
    return TruncatedReply(partial=partial)


@dataclass(frozen=True)
class HangReply(Reply):
    """A stream that goes silent (see :func:`hang`)."""

    seconds: float
    then: str = "late"

    def write(self, stream: ReplyStream) -> None:
        """Send ``response.created``, wait, then finish (see :meth:`Reply.write`)."""
        response_id = stream.new_id("resp")
        if not stream.event(ev.created(response_id)):
            return
        if not stream.sleep(self.seconds):
            return
        evs = ev.message_events(stream.new_id("msg"), self.then, ev.split_text(self.then))
        evs.append(ev.completed(response_id))
        send_events(stream, evs)


def hang(seconds: float, then: str = "late") -> HangReply:
    """A reply that sends ``response.created`` then stays silent.

    After ``seconds`` it ends normally with the message ``then`` (default
    ``"late"``). Closing the model ends the wait at once and drops the
    connection. Use it to test interrupts, steering and idle timeouts
    (codex sends no heartbeat while the model is silent). Pure; any thread.
    """
    return HangReply(seconds=seconds, then=then)
