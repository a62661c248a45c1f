"""Ready-made handlers for server requests: approve all, decline all, ask in the terminal.

Pass one as ``approval_handler=`` / ``user_input_handler=`` (to the client, a
thread or a turn) or to ``client.set_approval_handler``. Each runs on a
server-request worker thread, never on the reader.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List

from .approvals import ApprovalRequest, ServerRequestView, UserInputRequest
from .errors import CodexError

__all__ = ["approve_all", "decline_all", "ask_in_terminal"]


def approve_all(request: ServerRequestView) -> bool:
    """Approve every approval request (only where you trust the agent fully)."""
    return True


def decline_all(request: ServerRequestView) -> bool:
    """Decline every approval request, without the default's warning."""
    return False


def ask_in_terminal(request: ServerRequestView) -> Any:
    """Ask on the terminal (stdin/stderr). Blocks this handler's thread only.

    Approvals: ``y`` approve, ``s`` for the session, ``n`` decline, ``c``
    cancel the turn. Questions: type the answer, or the number of an option.
    """
    out = sys.stderr
    if isinstance(request, ApprovalRequest):
        out.write(f"\n[codex] approve {request.describe()}? [y]es/[s]ession/[n]o/[c]ancel: ")
        out.flush()
        reply = sys.stdin.readline().strip().lower()[:1]
        return {"y": "accept", "s": "acceptForSession", "c": "cancel"}.get(reply, "decline")
    if isinstance(request, UserInputRequest):
        answers: Dict[str, List[str]] = {}
        for q in request.questions:
            options = q.options or []
            out.write(f"\n[codex] {q.question}\n")
            for n, option in enumerate(options, 1):
                out.write(f"  {n}. {option.label}\n")
            out.write("> ")
            out.flush()
            reply = sys.stdin.readline().strip()
            if reply.isdigit() and 1 <= int(reply) <= len(options):
                reply = options[int(reply) - 1].label or reply
            answers[q.id] = [reply]
        return answers
    raise CodexError(f"ask_in_terminal cannot answer {request.method}")
