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
between threads. This module holds the answers (messages, reasoning, tool
calls, echo, raw events) and re-exports :class:`Reply`, :class:`ReplyStream`
(:mod:`~codex_sync.testing.reply_base`) and the failures (:func:`http_error`,
:func:`failed`, :func:`truncated`, :func:`hang`, from
:mod:`~codex_sync.testing.failure_replies`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import response_events as ev
from .failure_replies import (
    FailedReply,
    HangReply,
    HttpErrorReply,
    TruncatedReply,
    failed,
    hang,
    http_error,
    truncated,
)
from .reply_base import Reply, ReplyStream, send_events

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

Event = ev.Event


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
        return ev.reasoning_events(self.item_id or stream.new_id("rs"), self.summary, self.content)


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
        chunks = ev.split_text(self.text) if self.deltas is None else list(self.deltas)
        evs.extend(ev.message_events(item_id, self.text, chunks))
        return evs

    def write(self, stream: ReplyStream) -> None:
        """Stream the message (see :meth:`Reply.write`)."""
        response_id = self.response_id or stream.new_id("resp")
        evs = [ev.created(response_id)]
        evs.extend(self.message_events(stream))
        evs.append(ev.completed(response_id, self.usage))
        send_events(stream, evs, self.delay)


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
        evs = [
            ev.created(response_id),
            ev.function_call_done(call_id, self.name, self.arguments),
            ev.completed(response_id, self.usage),
        ]
        send_events(stream, evs, self.delay)


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

    Raises ``ValueError`` for a ``justification`` without ``escalated=True``:
    codex refuses such a call without running it (the model only gets the
    error "justification requires an explicit sandbox_permissions"),
    while the scripted follow-up would still make the turn look fine.
    """
    if justification is not None and not escalated:
        raise ValueError(
            f"exec_command({cmd!r}, justification={justification!r}) without escalated=True: "
            "codex refuses a justification without sandbox_permissions and never runs the "
            "command (the model just gets an error, and the scripted follow-up still answers). "
            "Pass escalated=True to ask to run it outside the sandbox (the justification "
            "becomes the approval's reason), or drop justification= to run it in the sandbox."
        )
    args: Dict[str, Any] = {"cmd": cmd, "yield_time_ms": yield_time_ms}
    if escalated:
        args["sandbox_permissions"] = "require_escalated"
        args["justification"] = justification or "The command needs to run outside the sandbox."
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
        send_events(stream, self.events, self.delay)


def events(*evs: Mapping[str, Any], delay: float = 0.0) -> EventsReply:
    """A reply streaming the raw Responses API events ``evs`` as given.

    Each event is a mapping with a ``"type"`` (sent as the SSE ``event:``
    name). No ids are filled in. ``delay``: seconds between events. Pure; any
    thread.
    """
    return EventsReply(events=tuple(evs), delay=delay)
