"""The record of one request received by the fake model (:class:`ModelRequest`).

Pure data: :meth:`ModelRequest.from_body` picks out of a ``POST /v1/responses``
body what tests check (the user's texts, developer texts, tool calls and
their outputs), leaving out the context messages codex adds itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = ["ModelRequest"]

# User-role messages that codex adds itself (context, not a prompt). Checked
# against the start of each text part, after leading whitespace.
_CONTEXT_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
    "<turn_aborted>",
    "<user_shell_command>",
    "<skill>",
)


def _texts(content: Any) -> List[str]:
    """The text parts of a message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return [content]
    out: List[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
    return out


def _is_context(parts: List[str]) -> bool:
    return bool(parts) and all(p.lstrip().startswith(_CONTEXT_PREFIXES) for p in parts)


@dataclass(frozen=True)
class ModelRequest:
    """One ``POST /v1/responses`` received by the fake model (immutable record).

    ``body`` is the decoded JSON body; ``input`` its ``input`` list (the whole
    conversation so far, as codex resends it on every request).
    ``user_texts`` holds the text of each user message the user typed, in
    order, with the context messages codex adds itself (``<environment_context>``,
    AGENTS.md instructions, ...) left out; ``last_user_text`` is the last of
    them (``""`` if none). In codex 0.163 the base instructions and the
    developer instructions both arrive as ``role: "developer"`` messages,
    whose text parts are in ``developer_texts``; ``instructions`` is the
    top-level ``instructions`` field, ``None`` when absent (as it is with an
    unknown model such as ``mock-model``). ``function_calls`` and
    ``function_call_outputs`` list the tool calls and their outputs found in
    ``input`` (dicts with ``call_id``, ``name``, ``arguments`` /
    ``call_id``, ``output``). ``headers`` are the HTTP headers, names
    lower-cased.
    """

    body: Dict[str, Any]
    headers: Dict[str, str] = field(default_factory=dict)
    model: Optional[str] = None
    input: List[Any] = field(default_factory=list)
    instructions: Optional[str] = None
    developer_texts: Tuple[str, ...] = ()
    user_texts: Tuple[str, ...] = ()
    last_user_text: str = ""
    function_calls: List[Dict[str, Any]] = field(default_factory=list)
    function_call_outputs: List[Dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: Dict[str, Any], headers: Optional[Mapping[str, str]] = None) -> ModelRequest:
        """Build a record from a decoded request body. Pure; any thread."""
        items = body.get("input")
        input_list: List[Any] = items if isinstance(items, list) else []
        developer: List[str] = []
        users: List[str] = []
        calls: List[Dict[str, Any]] = []
        outputs: List[Dict[str, Any]] = []
        for item in input_list:
            if not isinstance(item, dict):
                continue
            kind = item.get("type", "message")
            if kind == "message":
                parts = _texts(item.get("content"))
                if item.get("role") == "developer":
                    developer.extend(parts)
                elif item.get("role") == "user" and parts and not _is_context(parts):
                    users.append("\n".join(parts))
            elif kind == "function_call":
                calls.append(
                    {
                        "call_id": item.get("call_id"),
                        "name": item.get("name"),
                        "arguments": item.get("arguments"),
                    }
                )
            elif kind == "function_call_output":
                outputs.append({"call_id": item.get("call_id"), "output": item.get("output")})
        instructions = body.get("instructions")
        model = body.get("model")
        return cls(
            body=body,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            model=model if isinstance(model, str) else None,
            input=input_list,
            instructions=instructions if isinstance(instructions, str) else None,
            developer_texts=tuple(developer),
            user_texts=tuple(users),
            last_user_text=users[-1] if users else "",
            function_calls=calls,
            function_call_outputs=outputs,
        )
