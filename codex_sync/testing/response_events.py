"""The Responses API stream events that the codex binary accepts, as plain dicts.

Pure functions, no I/O: the replies (:mod:`codex_sync.testing.replies`) put
these events together and a :class:`~codex_sync.testing.ReplyStream` encodes
them as server-sent events. Shapes as accepted by ``codex-cli 0.163.0``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "Event",
    "usage",
    "created",
    "completed",
    "failed",
    "split_text",
    "message_events",
    "reasoning_events",
    "function_call_done",
]

Event = Dict[str, Any]


def usage(tokens: Optional[Tuple[int, int]]) -> Dict[str, Any]:
    """The ``usage`` object of ``response.completed`` for ``(input, output)`` tokens (``None``: zeros)."""
    tokens_in, tokens_out = tokens if tokens is not None else (0, 0)
    return {
        "input_tokens": tokens_in,
        "input_tokens_details": None,
        "output_tokens": tokens_out,
        "output_tokens_details": None,
        "total_tokens": tokens_in + tokens_out,
    }


def created(response_id: str) -> Event:
    """``response.created``: the first event of every stream."""
    return {"type": "response.created", "response": {"id": response_id}}


def completed(response_id: str, tokens: Optional[Tuple[int, int]] = None) -> Event:
    """``response.completed``: the last event of a successful stream."""
    return {
        "type": "response.completed",
        "response": {"id": response_id, "usage": usage(tokens)},
    }


def failed(response_id: str, code: str, message: str) -> Event:
    """``response.failed`` with an error ``code`` and ``message``."""
    return {
        "type": "response.failed",
        "response": {"id": response_id, "error": {"code": code, "message": message}},
    }


def split_text(value: str, parts: int = 3) -> List[str]:
    """Split ``value`` into at most ``parts`` non-empty chunks, in order (``""``: none)."""
    if not value:
        return []
    size = max(1, -(-len(value) // parts))
    return [value[i : i + size] for i in range(0, len(value), size)]


def message_events(item_id: str, text: str, chunks: Sequence[str], *, complete: bool = True) -> List[Event]:
    """An assistant message: its opening, one delta per chunk and (if ``complete``) its end.

    The deltas become ``item/agentMessage/delta`` notifications; the end
    (``response.output_item.done``) carries the whole ``text``.
    """
    evs: List[Event] = [
        {
            "type": "response.output_item.added",
            "item": {"type": "message", "role": "assistant", "id": item_id, "content": []},
        }
    ]
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
    if complete:
        evs.append(
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "id": item_id,
                    "content": [{"type": "output_text", "text": text}],
                },
            }
        )
    return evs


def reasoning_events(item_id: str, summary: Sequence[str], content: str = "") -> List[Event]:
    """A reasoning item: one summary part per string of ``summary``, then the raw ``content``."""
    evs: List[Event] = [
        {
            "type": "response.output_item.added",
            "item": {"type": "reasoning", "id": item_id, "summary": []},
        }
    ]
    for index, part in enumerate(summary):
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
    if content:
        evs.append(
            {
                "type": "response.reasoning_text.delta",
                "item_id": item_id,
                "content_index": 0,
                "delta": content,
            }
        )
    done: Dict[str, Any] = {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": s} for s in summary],
    }
    if content:
        done["content"] = [{"type": "reasoning_text", "text": content}]
    evs.append({"type": "response.output_item.done", "item": done})
    return evs


def function_call_done(call_id: str, name: str, arguments: str) -> Event:
    """A finished ``function_call`` output item: the model calls tool ``name``."""
    return {
        "type": "response.output_item.done",
        "item": {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments},
    }
