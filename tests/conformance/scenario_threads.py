"""Thread handles and per-turn overrides on the wire.

Scenarios of the seed's ``test_thread_handle.py`` and
``test_collaboration_mode.py``.
"""

from __future__ import annotations

from typing import Any, Dict

from tests.conformance.fakes import Peer, client_for, item_completed, message, turn_completed, within


class ThreadApi(Peer):
    """``thread/start`` and ``thread/resume`` give ``thread-1``, ``thread/fork`` gives ``thread-2``."""

    def on_request(self, request: Dict[str, Any]) -> None:
        method = request["method"]
        if method in ("thread/start", "thread/resume"):
            self.reply(request, {"thread": {"id": "thread-1"}})
        elif method == "thread/fork":
            self.reply(request, {"thread": {"id": "thread-2"}})
        elif method == "turn/start":
            thread_id = request["params"]["threadId"]
            self.reply(request, {"turn": {"id": "turn-1", "status": "inProgress", "items": []}})
            self.push(item_completed(thread_id, "turn-1", message("msg-1", "hello")),
                      turn_completed(thread_id, "turn-1"))
        else:
            super().on_request(request)


def test_thread_config_and_turn_overrides_reach_the_wire() -> None:
    from codex_sync import ThreadConfig, TurnOverrides

    peer = ThreadApi()
    with client_for(peer, request_timeout=1.0, inactivity_timeout=1.0) as client:
        handle = client.start_thread(ThreadConfig(cwd="/tmp/project", base_instructions="base",
                                                  developer_instructions="dev", model="gpt-5"))
        result = within(5, lambda: handle.chat_once(
            "hello", turn_overrides=TurnOverrides(effort="low", model="gpt-5-mini", cwd="/tmp/project/subdir")))
    assert (result.thread_id, result.final_text) == ("thread-1", "hello")
    start = peer.params_of("thread/start")
    assert (start.get("cwd"), start.get("baseInstructions"), start.get("developerInstructions"),
            start.get("model")) == ("/tmp/project", "base", "dev", "gpt-5")
    turn = peer.params_of("turn/start")
    assert (turn.get("cwd"), turn.get("model"), turn.get("effort")) == ("/tmp/project/subdir", "gpt-5-mini", "low")


def test_fork_and_update_defaults_use_the_thread_methods() -> None:
    """The seed sends update_defaults as a thread/resume; codex_sync keeps a difference here.

    Today's server ignores settings in a thread/resume of a loaded thread, so
    codex_sync sends those a turn can carry with the next turn (kept
    difference, docs/migration.md "What is different"). The scenario checks
    that behaviour: the port needs no edit, the settings still arrive.
    """
    from codex_sync import ThreadConfig

    peer = ThreadApi()
    with client_for(peer, request_timeout=1.0, inactivity_timeout=1.0) as client:
        forked = client.fork_thread("thread-1", overrides=ThreadConfig(cwd="/tmp/fork", model="gpt-5-mini"))
        assert forked.thread_id == "thread-2"
        handle = client.resume_thread("thread-1")
        handle.update_defaults(ThreadConfig(model="gpt-5", cwd="/tmp/next"))
        assert (handle.defaults.model, handle.defaults.cwd) == ("gpt-5", "/tmp/next")
        within(5, lambda: handle.chat_once("hello"))
    fork = peer.params_of("thread/fork")
    assert (fork.get("threadId"), fork.get("cwd"), fork.get("model")) == ("thread-1", "/tmp/fork", "gpt-5-mini")
    start = peer.params_of("turn/start", -1)
    assert (start.get("threadId"), start.get("model"), start.get("cwd")) == ("thread-1", "gpt-5", "/tmp/next"), (
        f"the new defaults did not go out with the next turn: {start}")


def test_collaboration_mode_objects_go_out_on_turn_start() -> None:
    from codex_sync import CollaborationMode, CollaborationSettings, TurnOverrides

    peer = ThreadApi()
    mode = CollaborationMode(mode="plan", settings=CollaborationSettings(
        model="gpt-5.3-codex", reasoning_effort="high", developer_instructions=None))
    with client_for(peer, request_timeout=1.0) as client:
        result = within(5, lambda: client.chat_once("Plan this task.",
                                                    turn_overrides=TurnOverrides(collaboration_mode=mode)))
    assert result.final_text == "hello"
    collab = peer.params_of("turn/start", -1)["collaborationMode"]
    assert collab["mode"] == "plan"
    assert collab["settings"]["model"] == "gpt-5.3-codex"
    assert collab["settings"]["reasoning_effort"] == "high"
