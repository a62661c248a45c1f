"""Turn a completed thread item into a :class:`ConversationStep` (pure)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from .values import ConversationStep

STEP_TYPES = {
    "reasoning": "thinking",
    "commandExecution": "exec",
    "agentMessage": "codex",
    "mcpToolCall": "tool",
    "fileChange": "file",
}


def _strings(value: Any) -> List[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out: List[str] = []
        for part in value:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
        return out
    return []


def _json(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def item_text(item: Dict[str, Any]) -> str:
    """The natural text of an item: what a person reading the turn wants to see."""
    kind = item.get("type")
    if kind == "reasoning":
        return "\n".join(s for s in _strings(item.get("summary")) + _strings(item.get("content")) if s)
    if kind == "commandExecution":
        return str(item.get("command") or "")
    if kind == "fileChange":
        lines = []
        for change in item.get("changes") or []:
            if isinstance(change, dict):
                change_kind = change.get("kind")
                verb = change_kind.get("type") if isinstance(change_kind, dict) else change_kind
                lines.append(f"{verb or 'update'} {change.get('path', '')}".strip())
        return "\n".join(lines)
    if kind in ("mcpToolCall", "dynamicToolCall"):
        owner = item.get("server") or item.get("namespace") or ""
        name = f"{owner}.{item.get('tool', '')}" if owner else str(item.get("tool", ""))
        return f"{name}({_json(item.get('arguments'))})"
    if kind == "webSearch":
        return str(item.get("query") or "")
    if kind in ("enteredReviewMode", "exitedReviewMode"):
        return _json(item.get("review"))
    if kind == "userMessage":
        return "\n".join(_strings(item.get("content")))
    if kind == "imageView":
        return str(item.get("path") or "")
    for key in ("text", "message", "summary"):
        if isinstance(item.get(key), str):
            return str(item[key])
    return ""


def step_from_item(
    item: Dict[str, Any],
    params: Dict[str, Any],
    thread_id: str,
    turn_id: Optional[str],
) -> ConversationStep:
    """The step for an ``item/completed`` notification's ``item`` and ``params``."""
    item_type = str(item.get("type") or "unknown")
    item_id = item.get("id")
    return ConversationStep(
        step_type=STEP_TYPES.get(item_type, item_type),
        item_type=item_type,
        text=item_text(item),
        item_id=item_id if isinstance(item_id, str) else None,
        thread_id=thread_id,
        turn_id=turn_id,
        data={"params": params, "item": item},
    )
