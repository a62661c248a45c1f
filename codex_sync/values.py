"""The immutable values the client hands back: results, steps, continuations.

They are frozen dataclasses with the async SDK's (pydantic) ``model_dump()``
and ``model_dump_json()``; their sequences are lists, as there.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

JsonDict = Dict[str, Any]
_NOT_DUMPED = {"dump": False}  # field metadata: left out of model_dump (live objects)


def _dump_value(value: Any) -> Any:
    if isinstance(value, _Model):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [_dump_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump_value(v) for k, v in value.items()}
    return value


class _Model:
    """``model_dump``/``model_dump_json`` for the value dataclasses (as pydantic's, for the fields we have)."""

    def model_dump(
        self,
        *,
        include: Optional[AbstractSet[str]] = None,
        exclude: Optional[AbstractSet[str]] = None,
        exclude_none: bool = False,
    ) -> Dict[str, Any]:
        """The fields as a dict of plain values (nested values dumped too).

        ``include``/``exclude`` pick fields by name; ``exclude_none`` drops
        fields that are ``None``. Live objects (a step's ``request``) are left
        out. Pure; any thread.
        """
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.metadata.get("dump", True) is False:
                continue
            if (include is not None and f.name not in include) or (exclude is not None and f.name in exclude):
                continue
            value = getattr(self, f.name)
            if value is None and exclude_none:
                continue
            out[f.name] = _dump_value(value)
        return out

    def model_dump_json(
        self,
        *,
        indent: Optional[int] = None,
        include: Optional[AbstractSet[str]] = None,
        exclude: Optional[AbstractSet[str]] = None,
        exclude_none: bool = False,
    ) -> str:
        """:meth:`model_dump` as a JSON string (``indent`` as in :func:`json.dumps`)."""
        dumped = self.model_dump(include=include, exclude=exclude, exclude_none=exclude_none)
        return json.dumps(dumped, indent=indent, ensure_ascii=False, default=str)


def _as_list(obj: Any, *names: str) -> None:
    """Make the named fields of a frozen dataclass lists (callers may pass tuples)."""
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, list):
            object.__setattr__(obj, name, list(value))


class _ListOnFirstRead:
    """A dataclass field kept as given (an iterable, as ``transcript.RawEvents``) and made a list when first read.

    Set on the class after ``@dataclass`` ran, so the generated ``__init__``
    stores through it. Reading it from two threads at once may build the list
    twice; both are equal. Any thread.
    """

    def __init__(self, name: str) -> None:
        self._key = "_lazy_" + name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self._key]
        if not isinstance(value, list):
            value = obj.__dict__[self._key] = list(value)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self._key] = value


def _short(text: str, limit: int = 80) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class InitializeResult(_Model):
    """What the server said in answer to ``initialize``.

    ``user_agent``, ``codex_home``, ``platform_family`` and ``platform_os`` come
    straight from today's server; ``server_version`` is read from the user
    agent (the part after the first ``/``). ``protocol_version``,
    ``server_info`` and ``capabilities`` are kept for the async SDK's users;
    today's server sends none of them. ``raw`` is the whole result.
    """

    user_agent: Optional[str]
    server_version: Optional[str]
    codex_home: Optional[str]
    platform_family: Optional[str]
    platform_os: Optional[str]
    protocol_version: Optional[str]
    server_info: Optional[JsonDict]
    capabilities: Optional[JsonDict]
    raw: JsonDict = field(repr=False)

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> InitializeResult:
        """Parse the raw ``initialize`` result (unknown keys stay in ``raw``)."""
        raw = dict(result) if isinstance(result, Mapping) else {}
        agent = raw.get("userAgent")
        version = None
        if isinstance(agent, str) and "/" in agent:
            version = agent.split("/", 1)[1].split(" ", 1)[0] or None
        info = raw.get("serverInfo", raw.get("server_info"))
        caps = raw.get("capabilities")
        proto = raw.get("protocolVersion", raw.get("protocol_version"))
        return cls(
            user_agent=agent if isinstance(agent, str) else None,
            server_version=version,
            codex_home=raw.get("codexHome"),
            platform_family=raw.get("platformFamily"),
            platform_os=raw.get("platformOs"),
            protocol_version=str(proto) if proto is not None else None,
            server_info=info if isinstance(info, dict) else None,
            capabilities=caps if isinstance(caps, dict) else None,
            raw=raw,
        )


@dataclass(frozen=True)
class ConversationStep(_Model):
    """One completed item of a turn, as ``chat()`` yields it.

    ``step_type`` is ``thinking`` (reasoning), ``exec`` (commandExecution),
    ``codex`` (agentMessage), ``tool`` (mcpToolCall), ``file`` (fileChange),
    ``approval`` (a server request waiting for your answer, see ``request``),
    or the item's own type for everything else. ``text`` is the item's natural
    text; ``data`` holds ``{"params": <notification params>, "item": <item>}``;
    ``status`` is always ``"completed"`` (as in the async SDK).
    """

    step_type: str
    item_type: str
    text: str
    item_id: Optional[str]
    thread_id: str
    turn_id: Optional[str]
    data: JsonDict = field(repr=False)
    request: Any = field(default=None, repr=False, metadata=_NOT_DUMPED)
    status: str = field(default="completed", repr=False)

    def outcome(self) -> Optional[str]:
        """``"declined"``/``"failed"`` when the item did not do its job (its status, ``success`` or exit code), else ``None``. Pure."""
        item = self.data.get("item") if isinstance(self.data, dict) else None
        if not isinstance(item, dict):
            return None
        status = item.get("status")
        if status in ("declined", "failed"):
            return str(status)
        if item.get("success") is False:
            return "failed"
        code = item.get("exitCode")
        return "failed" if isinstance(code, int) and code != 0 else None

    def _output(self) -> str:
        item = self.data.get("item") if isinstance(self.data, dict) else None
        output = item.get("aggregatedOutput") if isinstance(item, dict) and self.step_type == "exec" else None
        return output.strip("\n") if isinstance(output, str) else ""

    def _label(self) -> str:
        outcome = self.outcome()
        item = self.data.get("item") if isinstance(self.data, dict) else None
        code = item.get("exitCode") if isinstance(item, dict) else None
        if outcome == "failed" and isinstance(code, int):
            return f"{self.step_type} failed (exit {code})"
        return f"{self.step_type} {outcome}" if outcome else self.step_type

    def _folded_output(self, style: str = "") -> str:
        output = self._output()
        if not output:
            return ""
        lines = output.splitlines()
        return (f"<details><summary>output ({len(lines)} line{'s' if len(lines) != 1 else ''})</summary>"
                f"<pre{style}>{html.escape(output)}</pre></details>")

    def _repr_markdown_(self) -> str:
        body = self.text if self.step_type != "exec" else f"```\n{self.text}\n```"
        folded = self._folded_output()  # HTML inside Markdown: folded, and safe whatever the output holds
        if folded:
            body += "\n\n" + folded
        return f"**{self._label()}** `{self.item_type}`\n\n{body}"

    def _repr_html_(self) -> str:
        label = html.escape(self._label())
        if self.outcome() is not None:
            label = f"<span style='color:#c92a2a'>{label}</span>"
        folded = self._folded_output(" style='white-space:pre-wrap'")
        return (
            f"<div><b>{label}</b> <code>{html.escape(self.item_type)}</code>"
            f"<pre style='white-space:pre-wrap'>{html.escape(self.text)}</pre>"
            f"{folded}</div>"
        )


@dataclass(frozen=True)
class TokenUsage(_Model):
    """Tokens a turn used: the sum over its model calls, plus the thread's running total."""

    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    thread_total_tokens: int
    model_context_window: Optional[int]
    raw: JsonDict = field(repr=False, default_factory=dict)


_MODES = {"stream": "stream", "once": "once", "chat": "stream", "chat_once": "once"}


@dataclass(frozen=True)
class ChatContinuation(_Model):
    """Where a caller stopped reading a still-running turn.

    ``cursor`` counts the turn's events already delivered on the client that
    issued it; ``seen_items`` names the items already delivered (their ids),
    which is what another client resumes from. ``mode`` is ``"stream"``
    (``chat()`` stopped) or ``"once"`` (``chat_once()``), as in the async SDK
    (the older ``"chat"``/``"chat_once"`` are read as those). Pass it back as
    ``continuation=`` to either API, or to ``client.cancel``: on the client
    that issued it, or, through :meth:`to_json`/:meth:`from_json`, on any
    client connected to the same app-server, in any process (see
    ``docs/durable.md``).
    """

    thread_id: str
    turn_id: str
    cursor: int = 0
    mode: str = "stream"
    seen_items: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"mode must be 'once' or 'stream', not {self.mode!r}")
        object.__setattr__(self, "mode", _MODES[self.mode])
        object.__setattr__(self, "seen_items", tuple(self.seen_items))

    def to_json(self) -> str:
        """This continuation as a JSON string, to hand to another process (a token: keep it opaque)."""
        return json.dumps({
            "v": 1, "thread_id": self.thread_id, "turn_id": self.turn_id, "cursor": self.cursor,
            "mode": self.mode, "seen_items": list(self.seen_items),
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ChatContinuation:
        """The continuation :meth:`to_json` wrote. Raises :class:`ValueError` naming what is wrong."""
        if not isinstance(text, (str, bytes)):
            raise TypeError(f"from_json takes the string to_json made, not {type(text).__name__}")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a continuation token (not JSON): {exc}") from exc
        if not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a continuation token of this version (made by ChatContinuation.to_json)")
        ids = (data.get("thread_id"), data.get("turn_id"))
        seen = data.get("seen_items", [])
        if not all(isinstance(i, str) and i for i in ids):
            raise ValueError("continuation token without thread_id and turn_id")
        if not isinstance(seen, list) or not all(isinstance(i, str) for i in seen):
            raise ValueError("continuation token with a malformed seen_items list")
        cursor = data.get("cursor", 0)
        if isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0:
            raise ValueError(f"continuation token with a bad cursor {cursor!r}")
        return cls(str(ids[0]), str(ids[1]), cursor, str(data.get("mode", "stream")), tuple(seen))


@dataclass(frozen=True)
class ChatResult(_Model):
    """The outcome of ``chat_once``.

    ``final_text`` is the last completed agentMessage, stripped
    (``completion_source`` is ``"item_completed"``) or, failing that, the
    turn's last agent message read back with ``thread/read``
    (``"thread_read_fallback"``); ``assistant_item_id`` is the id of the
    message used either way. ``raw_events`` is the list of the turn's
    notifications (dicts), deltas included: delta lines are kept as they
    came and parsed the first time ``raw_events`` is read, so a result
    nobody inspects never parses them. ``steps`` its completed items,
    ``usage`` its token usage.
    """

    thread_id: str
    turn_id: str
    final_text: str
    raw_events: List[JsonDict] = field(repr=False)
    assistant_item_id: Optional[str]
    completion_source: str
    steps: List[ConversationStep] = field(repr=False)
    usage: Optional[TokenUsage] = None

    def __post_init__(self) -> None:
        _as_list(self, "steps")  # (raw_events: a list when first read, see below)

    def __repr__(self) -> str:
        return (
            f"ChatResult(thread_id={self.thread_id!r}, turn_id={self.turn_id!r}, "
            f"final_text={_short(self.final_text)!r}, steps={len(self.steps)})"
        )

    def _repr_markdown_(self) -> str:
        lines = [self.final_text, "", f"<sub>thread `{self.thread_id}` · turn `{self.turn_id}`"]
        if self.usage is not None and self.usage.total_tokens:  # zeros: the model reported no usage
            lines[-1] += f" · {self.usage.total_tokens} tokens"
        lines[-1] += f" · {len(self.steps)} steps</sub>"
        return "\n".join(lines)


@dataclass(frozen=True)
class CancelResult(_Model):
    """What ``cancel`` found: the unread steps and events (lists; events parsed when first read), and how it ended."""

    thread_id: str
    turn_id: str
    # (lists once built: any sequence is taken, and made a list)
    steps: Sequence[ConversationStep]
    raw_events: List[JsonDict] = field(repr=False)
    was_completed: bool
    was_interrupted: bool

    def __post_init__(self) -> None:
        _as_list(self, "steps")  # (raw_events: a list when first read, see below)


# raw_events: kept as given (delta lines unparsed) until first read, then a list
ChatResult.raw_events = _ListOnFirstRead("raw_events")  # type: ignore[assignment]
CancelResult.raw_events = _ListOnFirstRead("raw_events")  # type: ignore[assignment]


class TextDelta(NamedTuple):
    """A piece of live text, passed to ``on_delta`` callbacks in the caller's thread.

    ``kind`` is the step type the text belongs to (``codex``, ``thinking``,
    ``exec``, ``file`` or ``plan``); ``item_id`` the item it is part of (the
    ``item_id`` of the step that completes it); ``delta`` the text itself;
    ``method`` the notification it came from. Each delta of a turn is passed
    once, even across continuations.
    """

    kind: str
    """The step type the text belongs to: ``codex``, ``thinking``, ``exec``, ``file`` or ``plan``."""
    item_id: Optional[str]
    """The item the text is part of: the ``item_id`` of the step that will complete it."""
    delta: str
    """The piece of text."""
    method: str
    """The notification it came from, e.g. ``item/agentMessage/delta``."""
