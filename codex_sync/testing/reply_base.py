"""The contract between the fake model and its replies: :class:`Reply` and :class:`ReplyStream`.

:class:`~codex_sync.testing.ScriptedModel` hands each reply a
:class:`ReplyStream` (one HTTP exchange); the reply writes itself to it with
:meth:`Reply.write`. :func:`send_events` is the loop most replies share.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping, Optional, Protocol, Sequence

from .request import ModelRequest

__all__ = ["Reply", "ReplyStream", "send_events"]


class ReplyStream(Protocol):
    """What a :class:`Reply` writes to: one HTTP exchange of the fake model.

    Provided by :class:`~codex_sync.testing.ScriptedModel` to
    :meth:`Reply.write`, on the HTTP handler thread serving the request; it
    must only be used from that thread, during that call.
    """

    @property
    def request(self) -> ModelRequest:
        """The request being answered."""
        ...

    def new_id(self, prefix: str) -> str:
        """Return a fresh id ``"<prefix>_<N>"`` from the model's counter (thread-safe)."""
        ...

    def send_error(self, status: int, body: str, headers: Optional[Mapping[str, str]] = None) -> None:
        """Answer with HTTP ``status`` and ``body``; nothing may be written after it."""
        ...

    def event(self, event: Mapping[str, Any]) -> bool:
        """Send one SSE event (``event: <type>`` + ``data: <json>``) and flush it.

        The first call sends the ``200 text/event-stream`` headers. Returns
        ``False`` once the peer has gone or the model is closing: the reply
        should then stop writing.
        """
        ...

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` (at most), waking early when the model closes.

        Returns ``False`` if the model is closing, ``True`` otherwise.
        """
        ...


class Reply(abc.ABC):
    """One scripted answer of the fake model to one ``POST /v1/responses``.

    Subclass it and implement :meth:`write` for a custom reply. Instances
    should be immutable: the same reply may be served several times,
    concurrently, from different handler threads.
    """

    @abc.abstractmethod
    def write(self, stream: ReplyStream) -> None:
        """Write the answer to ``stream``.

        Called on the model's HTTP handler thread. May block (for instance in
        :meth:`ReplyStream.sleep`). Exceptions are caught by the model, which
        records them (``ScriptedModel.errors``) and drops the connection.
        """


def send_events(stream: ReplyStream, events: Sequence[Mapping[str, Any]], delay: float = 0.0) -> bool:
    """Send ``events`` in order, sleeping ``delay`` seconds before each one but the first.

    Returns ``False`` as soon as the stream refuses an event or the model
    closes during a sleep (the reply should stop), ``True`` when all went out.
    Runs on the handler thread that called :meth:`Reply.write`.
    """
    for index, event in enumerate(events):
        if index and delay > 0 and not stream.sleep(delay):
            return False
        if not stream.event(event):
            return False
    return True
