"""The interface every transport implements: one message in, one message out."""

from __future__ import annotations

import abc
from typing import Callable, Optional, Union

from ..errors import CodexTransportError


class MessageCutError(CodexTransportError):
    """A message went out only in part (the peer stopped reading): the stream is broken."""


class Transport(abc.ABC):
    """A bidirectional message pipe to one app-server.

    Threading contract (the connection layer keeps it): :meth:`receive` is
    called by exactly one thread (the reader); :meth:`send` by one thread at a
    time (under the connection's write lock); :meth:`close` from any thread at
    any time, and it must wake a :meth:`receive` that is blocked.
    """

    @abc.abstractmethod
    def open(self) -> None:
        """Connect or spawn. Blocks until ready; raises :class:`CodexTransportError`."""

    @abc.abstractmethod
    def send(self, text: str) -> None:
        """Send one message. Raises :class:`CodexTransportError` if the peer is gone."""

    def send_within(self, text: str, deadline: Optional[float]) -> None:
        """:meth:`send`, giving up at ``deadline`` (a :func:`time.monotonic` value, ``None``: never).

        Raises :class:`~codex_sync.CodexTimeoutError` if nothing was written
        by then, :class:`MessageCutError` if only part was. The default
        ignores the deadline (a transport whose writes cannot block for long).
        """
        self.send(text)

    @abc.abstractmethod
    def receive(self) -> Optional[Union[bytes, str]]:
        """Block until one message arrives; ``None`` once the stream has ended."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release everything; idempotent, callable from any thread, bounded in time."""

    def failure(self, reason: str) -> CodexTransportError:
        """The error to raise for every waiter once the stream ended with ``reason``.

        Transports that know more (an exit code, stderr) add it.
        """
        return CodexTransportError(reason)

    def on_death(self, callback: Callable[[CodexTransportError], None]) -> None:
        """Register ``callback(error)`` for when the peer dies but :meth:`receive` cannot tell.

        Call before :meth:`open`. A transport that learns of its peer's death
        only from the end of its stream (the default) never calls it; one that
        watches a process (stdio) calls it once, from its own thread, when the
        process is gone yet the stream stays open (a descendant holds it).
        """
        del callback  # the end of the stream tells this transport's reader everything

    def fresh(self) -> Optional[Transport]:
        """A new, unopened transport to the same server, or ``None`` if there is none.

        Used to start the server again when it lost a start-up race, and to
        recover from an interrupted :meth:`open`.
        """
        return None

    @abc.abstractmethod
    def describe(self) -> str:
        """A short human description for messages and reprs (never a secret)."""
