"""The rest of what a user moving from the seed meets (issue 12's list), against a scripted peer.

Constructor options and timeout defaults, ``None`` meaning the client's
value, value objects (``model_dump``, lists, ``ConversationStep.status``),
error constructors, the seed's module layout, seed-style transports and
reply shapes, and methods that return the server's raw result.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
from typing import Any, Dict

import pytest

from tests.conformance.fakes import (
    Background,
    OneTurnPeer,
    Peer,
    client_for,
    item_completed,
    message,
    turn_completed,
    within,
)

T, U = "thread-1", "turn-1"


def _default(function: Any, name: str) -> Any:
    parameter = inspect.signature(function).parameters.get(name)
    assert parameter is not None, f"{function.__qualname__} has no {name!r} parameter"
    return parameter.default


def test_timeout_defaults_are_30_and_180_seconds() -> None:
    from codex_sync import CodexClient

    for factory in (CodexClient, CodexClient.connect_stdio, CodexClient.connect_websocket):
        for name, expected in (("request_timeout", 30.0), ("inactivity_timeout", 180.0)):
            got = _default(factory, name)
            assert got == expected, f"{factory.__qualname__}({name}=...) defaults to {got!r}, not {expected}"


def test_constructors_take_the_seed_options() -> None:
    from codex_sync import CodexClient

    options: Dict[str, Any] = dict(request_timeout=5.0, inactivity_timeout=None, user_input_response_timeout=0.0,
                                   approval_mode="manual", strict=True)
    CodexClient.connect_stdio(command=["codex", "app-server"], cwd=".", env={}, connect_timeout=5.0, **options)
    CodexClient.connect_websocket(url="ws://127.0.0.1:9", token="t", headers={}, connect_timeout=5.0, **options)
    client_for(Peer(), **options)


class NeverEnds(OneTurnPeer):
    """A turn that starts and then stays silent."""


@pytest.mark.parametrize("api", ["chat_once", "chat"])
def test_inactivity_timeout_none_means_the_clients_value(api: str) -> None:
    from codex_sync import CodexTurnInactiveError

    with client_for(NeverEnds([]), inactivity_timeout=0.2) as client:
        if api == "chat_once":
            call = Background(lambda: client.chat_once("hello", inactivity_timeout=None))
        else:
            call = Background(lambda: list(client.chat("hello", inactivity_timeout=None)))
        with pytest.raises(CodexTurnInactiveError):
            call.result(3.0)


def _turn_with_steps() -> OneTurnPeer:
    return OneTurnPeer([
        item_completed(T, U, {"id": "r-1", "type": "reasoning", "summary": ["Thinking"]}),
        item_completed(T, U, message("m-1", "Done.")),
        turn_completed(T, U),
    ])


def test_values_are_models_with_model_dump() -> None:
    with client_for(_turn_with_steps()) as client:
        result = within(5, lambda: client.chat_once("hello"))
    with client_for(_turn_with_steps()) as client:
        steps = within(5, lambda: list(client.chat("again")))
    dumped = result.model_dump()
    assert dumped["final_text"] == "Done." and dumped["thread_id"] == T
    assert json.loads(result.model_dump_json())["turn_id"] == U
    assert steps[0].model_dump()["step_type"] == "thinking"


def test_list_fields_are_lists_and_steps_have_a_status() -> None:
    from codex_sync import CodexTurnInactiveError

    with client_for(_turn_with_steps()) as client:
        result = within(5, lambda: client.chat_once("hello"))
    with client_for(_turn_with_steps()) as client:
        steps = within(5, lambda: list(client.chat("again")))
    assert isinstance(result.raw_events, list), f"ChatResult.raw_events is a {type(result.raw_events).__name__}"
    assert all(step.status == "completed" for step in steps)

    peer = NeverEnds([item_completed(T, U, message("m-1", "partial"))])
    with client_for(peer) as client:
        with pytest.raises(CodexTurnInactiveError) as caught:
            within(5, lambda: client.chat_once("hello", inactivity_timeout=0.1))
        peer.push(turn_completed(T, U, status="interrupted"))
        cancelled = within(5, lambda: client.cancel(caught.value.continuation))
    assert isinstance(cancelled.steps, list), f"CancelResult.steps is a {type(cancelled.steps).__name__}"
    assert isinstance(cancelled.raw_events, list), f"CancelResult.raw_events is a {type(cancelled.raw_events).__name__}"


def test_errors_take_the_seed_constructor_arguments() -> None:
    from codex_sync import (
        ChatContinuation,
        CodexProtocolError,
        CodexTimeoutError,
        CodexTransportError,
        CodexTurnInactiveError,
    )

    error = CodexProtocolError("boom", code=-32000, data={"x": 1})
    assert (str(error), error.code, error.data) == ("boom", -32000, {"x": 1})
    assert CodexProtocolError("plain").code is None
    continuation = ChatContinuation(thread_id=T, turn_id=U, cursor=2, mode="once")
    idle = CodexTurnInactiveError("idle", continuation=continuation, idle_seconds=1.5)
    assert (str(idle), idle.continuation, idle.idle_seconds) == ("idle", continuation, 1.5)
    assert isinstance(idle, CodexTimeoutError)
    assert str(CodexTransportError("gone")) == "gone"


def test_the_seed_modules_exist_with_their_helpers() -> None:
    import importlib

    models = importlib.import_module("codex_sync.models")
    for name in ("ChatResult", "ChatContinuation", "ConversationStep", "CancelResult", "ThreadConfig",
                 "TurnOverrides", "UNSET", "InitializeResult"):
        assert hasattr(models, name), f"codex_sync.models.{name}"
    transport = importlib.import_module("codex_sync.transport")
    for name in ("Transport", "StdioTransport", "WebSocketTransport"):
        assert hasattr(transport, name), f"codex_sync.transport.{name}"
    protocol = importlib.import_module("codex_sync.protocol")
    for name in ("make_request", "make_error_response", "make_result_response", "extract_error",
                 "is_response_message", "is_turn_completed", "is_turn_failed"):
        assert hasattr(protocol, name), f"codex_sync.protocol.{name}"


def test_every_name_the_seed_exports_is_importable() -> None:
    import codex_sync
    from tests.conformance.porter import SEED_PACKAGE, seed_root

    try:
        root = seed_root()
    except RuntimeError as exc:
        pytest.skip(f"the seed is not available: {exc}")
    tree = ast.parse((root / "src" / SEED_PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    exported = next(
        ast.literal_eval(node.value) for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)
    )
    missing = sorted(name for name in exported if not hasattr(codex_sync, name))
    assert not missing, f"missing from codex_sync: {', '.join(missing)}"


def test_a_seed_style_transport_object_is_accepted() -> None:
    from codex_sync import CodexClient

    peer = OneTurnPeer([item_completed(T, U, message("m-1", "over a seed transport")), turn_completed(T, U)])
    with CodexClient(peer) as client:  # connect(), send(dict), recv() -> dict, close()
        result = within(5, lambda: client.chat_once("hello"))
    assert result.final_text == "over a seed transport"
    assert peer.connect_calls == 1


class SeedShapes(Peer):
    """Replies in the seed fakes' shapes: ``threadId``/``turnId`` results, ``turnId``-only completion."""

    def on_request(self, request: Dict[str, Any]) -> None:
        method = request["method"]
        if method == "thread/start":
            self.reply(request, {"threadId": T})
        elif method == "turn/start":
            self.reply(request, {"turnId": U})
            self.push(item_completed(T, U, message("m-1", "Hello world")))
            self.notify("turn/completed", {"turnId": U})
        else:
            super().on_request(request)


def test_seed_shaped_replies_are_understood() -> None:
    with client_for(SeedShapes(), request_timeout=1.0, inactivity_timeout=1.0) as client:
        result = within(5, lambda: client.chat_once("Hi"))
    assert (result.thread_id, result.turn_id, result.final_text) == (T, U, "Hello world")


def test_list_threads_options_go_out_camel_case() -> None:
    peer = Peer()
    with client_for(peer) as client:
        client.list_threads(archived=False, cursor="c-1", cwd="/work", limit=5, model_providers=["openai"],
                            sort_key="updated_at", sort_direction="desc")
    sent = peer.params_of("thread/list")
    assert sent == {"archived": False, "cursor": "c-1", "cwd": "/work", "limit": 5, "modelProviders": ["openai"],
                    "sortKey": "updated_at", "sortDirection": "desc"}, f"thread/list params {sent}"


def test_write_config_value_upserts_by_default() -> None:
    peer = Peer()
    with client_for(peer) as client:
        client.write_config_value(key_path="model", value="gpt-5")
    sent = peer.params_of("config/value/write")
    assert sent == {"keyPath": "model", "mergeStrategy": "upsert", "value": "gpt-5"}, f"config/value/write params {sent}"


class RawResults(Peer):
    REVIEW = {"turn": {"id": "turn-r", "status": "inProgress", "items": []}, "reviewThreadId": T}

    def on_request(self, request: Dict[str, Any]) -> None:
        method = request["method"]
        if method == "review/start":
            self.reply(request, self.REVIEW)
        elif method == "turn/steer":
            self.reply(request, {"turnId": U})
        elif method in ("thread/resume", "thread/start"):
            self.reply(request, {"thread": {"id": T}})
        else:
            super().on_request(request)


def test_start_review_returns_the_raw_result() -> None:
    peer = RawResults()
    with client_for(peer) as client:
        result = within(5, lambda: client.start_review(thread_id=T, target={"type": "uncommittedChanges"}))
    assert result == RawResults.REVIEW, f"start_review returned a {type(result).__name__}, not the raw result"


def test_compact_thread_returns_the_raw_result_at_once() -> None:
    peer = RawResults()
    with client_for(peer) as client:
        result = within(2, lambda: client.compact_thread(T))
    assert result == {}
    assert peer.params_of("thread/compact/start") == {"threadId": T}


def test_steer_turn_returns_the_raw_result() -> None:
    peer = RawResults()
    with client_for(peer) as client:
        result = within(5, lambda: client.steer_turn(thread_id=T, expected_turn_id=U,
                                                     input_items=[{"type": "text", "text": "also this"}]))
    assert result == {"turnId": U}, f"steer_turn returned {result!r}, not the raw result"
    assert peer.params_of("turn/steer") == {"threadId": T, "expectedTurnId": U,
                                            "input": [{"type": "text", "text": "also this"}]}


ENV_PROBE = r"""
import json, os, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" in msg and "method" in msg:
        result = {"userAgent": "env-probe/0", "envKeys": sorted(os.environ)} if msg["method"] == "initialize" else {}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
        sys.stdout.flush()
"""


def test_env_is_the_servers_whole_environment() -> None:
    from codex_sync import CodexClient

    with CodexClient.connect_stdio(command=[sys.executable, "-c", ENV_PROBE], env={"ONLY_THIS": "1"}) as client:
        keys = within(10, client.initialize).raw["envKeys"]
    assert "ONLY_THIS" in keys
    assert "PATH" not in keys and "HOME" not in keys, (
        f"env= was added to the inherited environment ({len(keys)} variables, PATH and HOME among them)")
