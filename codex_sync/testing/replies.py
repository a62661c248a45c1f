"""Scripted replies of the fake Responses API (:class:`~codex_sync.testing.ScriptedModel`).

A :class:`Reply` is an immutable description of one HTTP answer to one
``POST /v1/responses``. It writes itself through a :class:`ReplyStream` that
the model's handler thread hands it: either an HTTP error, or ``200`` with a
stream of server-sent events in the shape the codex binary accepts.

The builder functions (:func:`text`, :func:`exec_command`, :func:`failed`, ...)
are the public way to make replies. Ids (``resp_N``, ``msg_N``, ``call_N``,
``rs_N``) that are not given are drawn fresh from the serving model's counter
each time a reply is served, so one reply object may be served many times
(for instance as a ``fallback``) without repeating item ids.

All replies are frozen dataclasses: they may be built on any thread and shared
between threads.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

if TYPE_CHECKING:
    from .model import ModelRequest

__all__ = [
    "Reply",
    "ReplyStream",
    "Reasoning",
    "TextReply",
    "FunctionCallReply",
    "HttpErrorReply",
    "FailedReply",
    "TruncatedReply",
    "HangReply",
    "EchoReply",
    "EventsReply",
    "text",
    "reasoning",
    "function_call",
    "exec_command",
    "apply_patch",
    "request_user_input",
    "http_error",
    "failed",
    "truncated",
    "hang",
    "echo",
    "events",
]

Event = Dict[str, Any]


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


# ----------------------------------------------------------------- helpers


def _sse(stream: ReplyStream, evs: Sequence[Mapping[str, Any]], delay: float) -> bool:
    """Send ``evs``, sleeping ``delay`` seconds before each one but the first."""
    for index, ev in enumerate(evs):
        if index and delay > 0 and not stream.sleep(delay):
            return False
        if not stream.event(ev):
            return False
    return True


def _usage(usage: Optional[Tuple[int, int]]) -> Dict[str, Any]:
    tokens_in, tokens_out = usage if usage is not None else (0, 0)
    return {
        "input_tokens": tokens_in,
        "input_tokens_details": None,
        "output_tokens": tokens_out,
        "output_tokens_details": None,
        "total_tokens": tokens_in + tokens_out,
    }


def _created(response_id: str) -> Event:
    return {"type": "response.created", "response": {"id": response_id}}


def _completed(response_id: str, usage: Optional[Tuple[int, int]]) -> Event:
    return {
        "type": "response.completed",
        "response": {"id": response_id, "usage": _usage(usage)},
    }


def _split(value: str, parts: int = 3) -> List[str]:
    """Split ``value`` into at most ``parts`` non-empty chunks, in order."""
    if not value:
        return []
    size = max(1, -(-len(value) // parts))
    return [value[i : i + size] for i in range(0, len(value), size)]


# --------------------------------------------------------------- reasoning


@dataclass(frozen=True)
class Reasoning:
    """A reasoning item sent before a message (see :func:`reasoning`).

    ``summary`` holds the summary parts (each becomes one string of the
    ``reasoning`` item's ``summary`` list); ``content`` the raw reasoning text
    (empty: none).
    """

    summary: Tuple[str, ...]
    content: str = ""
    item_id: Optional[str] = None

    def events(self, stream: ReplyStream) -> List[Event]:
        """Return the SSE events of this reasoning item (fresh id if none given)."""
        item_id = self.item_id or stream.new_id("rs")
        evs: List[Event] = [
            {
                "type": "response.output_item.added",
                "item": {"type": "reasoning", "id": item_id, "summary": []},
            }
        ]
        for index, part in enumerate(self.summary):
            evs.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    "item_id": item_id,
                    "summary_index": index,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            evs.append(
                {
                    "type": "response.reasoning_summary_text.delta",
                    "item_id": item_id,
                    "summary_index": index,
                    "delta": part,
                }
            )
        if self.content:
            evs.append(
                {
                    "type": "response.reasoning_text.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": self.content,
                }
            )
        done: Dict[str, Any] = {
            "type": "reasoning",
            "id": item_id,
            "summary": [{"type": "summary_text", "text": s} for s in self.summary],
        }
        if self.content:
            done["content"] = [{"type": "reasoning_text", "text": self.content}]
        evs.append({"type": "response.output_item.done", "item": done})
        return evs


def reasoning(
    summary: Union[str, Sequence[str]], content: str = "", *, item_id: Optional[str] = None
) -> Reasoning:
    """Build a reasoning part for ``text(..., reasoning=...)``.

    ``summary`` is one summary string or a sequence of summary parts;
    ``content`` the raw reasoning text. Codex turns it into a ``reasoning``
    thread item with ``item/reasoning/*`` delta notifications. Pure; any thread.
    """
    parts = (summary,) if isinstance(summary, str) else tuple(summary)
    return Reasoning(summary=parts, content=content, item_id=item_id)


ReasoningArg = Union[Reasoning, Tuple[str, str], str, None]


def _as_reasoning(value: ReasoningArg) -> Optional[Reasoning]:
    if value is None or isinstance(value, Reasoning):
        return value
    if isinstance(value, str):
        return reasoning(value)
    summary, content = value
    return reasoning(summary, content)


# -------------------------------------------------------------------- text


@dataclass(frozen=True)
class TextReply(Reply):
    """An assistant message, optionally preceded by reasoning (see :func:`text`)."""

    text: str
    deltas: Optional[Tuple[str, ...]] = None
    reasoning: Optional[Reasoning] = None
    delay: float = 0.0
    usage: Optional[Tuple[int, int]] = None
    item_id: Optional[str] = None
    response_id: Optional[str] = None

    def message_events(self, stream: ReplyStream) -> List[Event]:
        """Return the reasoning and message events, without created/completed."""
        item_id = self.item_id or stream.new_id("msg")
        evs: List[Event] = []
        if self.reasoning is not None:
            evs.extend(self.reasoning.events(stream))
        evs.append(
            {
                "type": "response.output_item.added",
                "item": {"type": "message", "role": "assistant", "id": item_id, "content": []},
            }
        )
        chunks = _split(self.text) if self.deltas is None else list(self.deltas)
        for chunk in chunks:
            evs.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": chunk,
                }
            )
        evs.append(
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "id": item_id,
                    "content": [{"type": "output_text", "text": self.text}],
                },
            }
        )
        return evs

    def write(self, stream: ReplyStream) -> None:
        """Stream the message (see :meth:`Reply.write`)."""
        response_id = self.response_id or stream.new_id("resp")
        evs = [_created(response_id)]
        evs.extend(self.message_events(stream))
        evs.append(_completed(response_id, self.usage))
        _sse(stream, evs, self.delay)


def text(
    text: str,
    *,
    deltas: Optional[Sequence[str]] = None,
    reasoning: ReasoningArg = None,
    delay: float = 0.0,
    usage: Optional[Tuple[int, int]] = None,
    item_id: Optional[str] = None,
) -> TextReply:
    """A reply whose answer is the assistant message ``text``.

    ``deltas``: the chunks streamed as ``response.output_text.delta`` (they
    become ``item/agentMessage/delta`` notifications); default: ``text`` split
    in up to three chunks; ``[]`` streams none. ``reasoning``: a
    :func:`reasoning` part, a ``(summary, content)`` pair or a summary string,
    sent before the message. ``delay``: seconds slept between SSE events (a
    slow model; the sleep ends early when the model closes). ``usage``:
    ``(input_tokens, output_tokens)`` reported in ``response.completed``.
    ``item_id``: the message id, which codex uses as the ``agentMessage`` item
    id (default: a fresh ``msg_N``). Pure; any thread.
    """
    return TextReply(
        text=text,
        deltas=None if deltas is None else tuple(deltas),
        reasoning=_as_reasoning(reasoning),
        delay=delay,
        usage=usage,
        item_id=item_id,
    )


# ----------------------------------------------------------- function calls


@dataclass(frozen=True)
class FunctionCallReply(Reply):
    """A ``function_call`` output item (see :func:`function_call`)."""

    name: str
    arguments: str
    call_id: Optional[str] = None
    delay: float = 0.0
    usage: Optional[Tuple[int, int]] = None

    def write(self, stream: ReplyStream) -> None:
        """Stream the call (see :meth:`Reply.write`)."""
        response_id = stream.new_id("resp")
        call_id = self.call_id or stream.new_id("call")
        item = {
            "type": "function_call",
            "call_id": call_id,
            "name": self.name,
            "arguments": self.arguments,
        }
        evs = [
            _created(response_id),
            {"type": "response.output_item.done", "item": item},
            _completed(response_id, self.usage),
        ]
        _sse(stream, evs, self.delay)


def function_call(
    name: str,
    arguments: Union[str, Mapping[str, Any]],
    *,
    call_id: Optional[str] = None,
    delay: float = 0.0,
) -> FunctionCallReply:
    """A reply in which the model calls the tool ``name`` with ``arguments``.

    ``arguments`` is a JSON string or a mapping (serialized to JSON). Codex
    runs the tool and makes a follow-up request, in the same turn, whose input
    ends with the ``function_call_output`` for ``call_id`` (default: a fresh
    ``call_N``): script that follow-up too. Pure; any thread.
    """
    args = arguments if isinstance(arguments, str) else json.dumps(dict(arguments))
    return FunctionCallReply(name=name, arguments=args, call_id=call_id, delay=delay)


def exec_command(
    cmd: str,
    *,
    call_id: Optional[str] = None,
    escalated: bool = False,
    justification: Optional[str] = None,
    yield_time_ms: int = 10000,
    delay: float = 0.0,
) -> FunctionCallReply:
    """A reply in which the model runs the shell command ``cmd``.

    Codex shows it as a ``commandExecution`` item whose id is ``call_id``.
    ``escalated=True`` asks to run outside the sandbox
    (``"sandbox_permissions": "require_escalated"``, with ``justification``,
    which reaches the client as the approval's ``reason``): under
    ``approval_policy="on-request"`` with ``sandbox_mode="workspace-write"``
    this makes the server send ``item/commandExecution/requestApproval``.
    ``yield_time_ms``: how long codex waits for the command before returning
    its output so far. Script the follow-up request (for example with
    :func:`text`). Pure; any thread.
    """
    args: Dict[str, Any] = {"cmd": cmd, "yield_time_ms": yield_time_ms}
    if escalated:
        args["sandbox_permissions"] = "require_escalated"
        args["justification"] = justification or "The command needs to run outside the sandbox."
    elif justification is not None:
        args["justification"] = justification
    return function_call("exec_command", args, call_id=call_id, delay=delay)


def apply_patch(path: str, content: str, *, call_id: Optional[str] = None) -> FunctionCallReply:
    """A reply in which the model adds the file ``path`` holding ``content``.

    Sent as ``exec_command`` with an ``apply_patch <<'EOF'`` heredoc, which
    codex intercepts: it produces a ``fileChange`` item (and a file-change
    approval under ``approval_policy="on-request"`` with a ``read-only``
    sandbox). ``path`` should be absolute; relative paths resolve against the
    thread's cwd. ``content`` lines must not be exactly ``EOF``. Pure; any
    thread.
    """
    lines = content.splitlines() or [""]
    body = "".join("+" + line + "\n" for line in lines)
    cmd = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: " + path + "\n" + body + "*** End Patch\nEOF\n"
    return function_call("exec_command", {"cmd": cmd}, call_id=call_id)


def request_user_input(
    questions: Sequence[Mapping[str, Any]], *, call_id: Optional[str] = None
) -> FunctionCallReply:
    """A reply in which the model asks the user ``questions``.

    Each question is a mapping like ``{"id": "confirm", "header": "Confirm",
    "question": "Proceed?", "options": [{"label": "Yes", "description": "..."}]}``.
    Codex forwards it as the server request ``item/tool/requestUserInput``
    only in plan mode (``experimentalApi`` plus a plan ``collaborationMode`` on
    ``turn/start``); in default mode the model just gets an "unavailable"
    output. Pure; any thread.
    """
    return function_call(
        "request_user_input",
        {"questions": [dict(q) for q in questions]},
        call_id=call_id,
    )


# ------------------------------------------------------------------ failures


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
        failure = {
            "type": "response.failed",
            "response": {
                "id": response_id,
                "error": {"code": self.code, "message": self.message},
            },
        }
        _sse(stream, [_created(response_id), failure], 0.0)


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
        evs = [_created(stream.new_id("resp"))]
        if self.partial:  # a message's opening and its one delta, never its end
            evs += TextReply(self.partial, deltas=(self.partial,)).message_events(stream)[:-1]
        _sse(stream, evs, 0.0)


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
        if not stream.event(_created(response_id)):
            return
        if not stream.sleep(self.seconds):
            return
        late = TextReply(text=self.then)
        evs = late.message_events(stream)
        evs.append(_completed(response_id, None))
        _sse(stream, evs, 0.0)


def hang(seconds: float, then: str = "late") -> HangReply:
    """A reply that sends ``response.created`` then stays silent.

    After ``seconds`` it ends normally with the message ``then`` (default
    ``"late"``). Closing the model ends the wait at once and drops the
    connection. Use it to test interrupts, steering and idle timeouts
    (codex sends no heartbeat while the model is silent). Pure; any thread.
    """
    return HangReply(seconds=seconds, then=then)


# ---------------------------------------------------------------- dynamic


@dataclass(frozen=True)
class EchoReply(Reply):
    """A message repeating the request's last user text (see :func:`echo`)."""

    prefix: str = "echo: "

    def write(self, stream: ReplyStream) -> None:
        """Stream ``prefix + last_user_text`` (see :meth:`Reply.write`)."""
        TextReply(text=self.prefix + stream.request.last_user_text).write(stream)


def echo(prefix: str = "echo: ") -> EchoReply:
    """A reply whose message is ``prefix`` + the last user text of the request.

    The default fallback of :class:`~codex_sync.testing.ScriptedModel`: each
    turn's answer names its prompt, which makes concurrent tests checkable.
    Pure; any thread.
    """
    return EchoReply(prefix=prefix)


@dataclass(frozen=True)
class EventsReply(Reply):
    """Raw SSE events, sent as given (see :func:`events`)."""

    events: Tuple[Mapping[str, Any], ...]
    delay: float = 0.0

    def write(self, stream: ReplyStream) -> None:
        """Stream the events (see :meth:`Reply.write`)."""
        _sse(stream, self.events, self.delay)


def events(*evs: Mapping[str, Any], delay: float = 0.0) -> EventsReply:
    """A reply streaming the raw Responses API events ``evs`` as given.

    Each event is a mapping with a ``"type"`` (sent as the SSE ``event:``
    name). No ids are filled in. ``delay``: seconds between events. Pure; any
    thread.
    """
    return EventsReply(events=tuple(evs), delay=delay)
