"""Reply builders of codex_sync.testing that need no server: argument checks and the arguments they send."""

from __future__ import annotations

import json

import pytest

from codex_sync.testing import exec_command
from codex_sync.testing.replies import FunctionCallReply


def test_justification_without_escalated_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        exec_command("touch /tmp/x", justification="needs to write outside")
    message = str(caught.value)
    for part in ("justification=", "'needs to write outside'", "escalated=True", "never runs", "drop justification"):
        assert part in message, part


def test_escalated_sends_sandbox_permissions_and_justification() -> None:
    reply = exec_command("touch /tmp/x", escalated=True, justification="needs it", call_id="c1")
    assert isinstance(reply, FunctionCallReply)
    assert (reply.name, reply.call_id) == ("exec_command", "c1")
    args = json.loads(reply.arguments)
    assert args == {
        "cmd": "touch /tmp/x",
        "yield_time_ms": 10000,
        "sandbox_permissions": "require_escalated",
        "justification": "needs it",
    }
    default = json.loads(exec_command("ls", escalated=True).arguments)
    assert default["justification"] and default["sandbox_permissions"] == "require_escalated"


def test_plain_exec_command_has_no_escalation() -> None:
    args = json.loads(exec_command("ls", yield_time_ms=500).arguments)
    assert args == {"cmd": "ls", "yield_time_ms": 500}
