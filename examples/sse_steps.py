"""Server-sent events of a codex turn's steps: the part the Flask and Django examples share."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, Iterator, Optional

from codex_sync import CodexClient, CodexError, CodexTurnInactiveError, ConversationStep


def make_client() -> CodexClient:
    """A new client for the server named by the environment (see the module docstring)."""
    if os.environ.get("CODEX_APP_SERVER_WS_URL"):
        return CodexClient.connect_websocket()
    return CodexClient.connect_stdio()



def step_json(step: ConversationStep) -> Dict[str, Any]:
    """What the page needs of a step (``data`` holds the whole item; it stays on the server)."""
    item = step.data.get("item") if isinstance(step.data, dict) else None
    output = item.get("aggregatedOutput") if isinstance(item, dict) else None
    return {
        "step_type": step.step_type,
        "item_type": step.item_type,
        "text": step.text,
        "output": output if isinstance(output, str) else None,
        "item_id": step.item_id,
        "thread_id": step.thread_id,
        "turn_id": step.turn_id,
    }


def sse(data: Any, event: Optional[str] = None) -> str:
    """One server-sent event (JSON never contains a raw newline)."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


def turn_events(
    get_client: Callable[[], CodexClient], prompt: str, thread_id: Optional[str], heartbeat_seconds: float
) -> Iterator[str]:
    """The SSE stream of one turn's steps; closing the generator interrupts the turn.

    A turn quiet for ``heartbeat_seconds`` gets an SSE comment (keeping proxies from
    closing the connection) and is resumed through its continuation.
    """
    try:
        stream = get_client().chat(prompt, thread_id=thread_id, inactivity_timeout=heartbeat_seconds)
    except CodexError as exc:
        yield sse({"error": f"{type(exc).__name__}: {exc}"}, "codex-error")
        yield sse({"thread_id": thread_id, "turn_id": None, "steps": 0, "final_text": None}, "done")
        return
    yield sse({"thread_id": stream.thread_id, "turn_id": stream.turn_id}, "turn")
    steps = 0
    final = None
    try:
        while True:
            try:
                with stream:  # leaving early (browser gone) interrupts the turn
                    for step in stream:
                        steps += 1
                        if step.step_type == "codex":
                            final = step.text
                        yield sse(step_json(step))
                break
            except CodexTurnInactiveError as exc:  # quiet, still running: keep the connection alive
                yield ": still working\n\n"
                stream = get_client().chat(continuation=exc.continuation)
    except CodexError as exc:
        yield sse({"error": f"{type(exc).__name__}: {exc}"}, "codex-error")
    yield sse({"thread_id": stream.thread_id, "turn_id": stream.turn_id, "steps": steps, "final_text": final}, "done")
