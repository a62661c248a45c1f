"""Issue 12, items 2-10: the async SDK's values, errors, timeouts and methods, against an in-memory server.

(Item 1, approvals and questions, is in ``test_parity_requests.py``; what
only the real server shows is in ``test_parity_real.py``.)
"""

from __future__ import annotations

import importlib
import inspect
import json
import queue
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

import codex_sync
from codex_sync import (
    NO_TIMEOUT,
    ChatContinuation,
    CodexClient,
    CodexEmptyAnswerError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
    CodexTurnFailedError,
    CodexTurnInactiveError,
    CodexTurnInterruptedError,
    CodexUnknownContinuationError,
    CollaborationMode,
    CollaborationSettings,
    TurnOverrides,
)

from .memory_transport import ScriptedTransport, agent_message, item_completed, turn_completed

T = "thread-1"


def _answers(*events_of_turn: List[dict]) -> ScriptedTransport:
    """A server whose N-th turn sends ``events_of_turn[N-1]`` (turn ids are filled in)."""
    turns = list(events_of_turn)

    def events(thread_id: str, turn_id: str) -> List[dict]:
        script = turns.pop(0) if turns else []
        return [json.loads(json.dumps(e).replace("TURN", turn_id)) for e in script]

    return ScriptedTransport(events)


def _ok(text: str = "Done.", item_id: str = "m-1") -> List[dict]:
    return [item_completed(T, "TURN", {"id": "r-1", "type": "reasoning", "summary": ["Thinking"]}),
            item_completed(T, "TURN", agent_message(item_id, text)), turn_completed(T, "TURN")]


# -- item 2: turn errors are CodexProtocolError ------------------------------------


@pytest.mark.parametrize("status, cls", [("failed", CodexTurnFailedError), ("interrupted", CodexTurnInterruptedError)])
@pytest.mark.parametrize("api", ["chat_once", "chat"])
def test_failed_and_interrupted_turns_raise_protocol_errors_carrying_the_turn(status: str, cls: type, api: str) -> None:
    error = {"message": "the model is down", "codexErrorInfo": "other"} if status == "failed" else None
    server = _answers([turn_completed(T, "TURN", status=status, error=error)])
    with CodexClient(server) as client:
        with pytest.raises(CodexProtocolError) as caught:
            client.chat_once("hi") if api == "chat_once" else list(client.chat("hi"))
    assert isinstance(caught.value, cls)
    assert caught.value.code is None
    assert caught.value.data["id"] == "turn-1" and caught.value.data["status"] == status
    assert caught.value.data["error"] == error
    if status == "failed":
        assert "the model is down" in str(caught.value) and caught.value.codex_error_info == "other"


def test_an_empty_answer_raises_a_protocol_error() -> None:
    server = _answers([turn_completed(T, "TURN")])
    server.results["thread/read"] = {"thread": {"id": T, "turns": [{"id": "turn-1", "items": []}]}}
    with CodexClient(server) as client:
        with pytest.raises(CodexProtocolError, match="no final assistant message") as caught:
            client.chat_once("say nothing")
    assert isinstance(caught.value, CodexEmptyAnswerError) and caught.value.code is None
    assert caught.value.data["status"] == "completed"


def test_errors_take_the_async_sdks_constructor_arguments() -> None:
    error = CodexProtocolError("boom", code=-32000, data={"x": 1})
    assert (str(error), error.code, error.data, error.message) == ("boom", -32000, {"x": 1}, "boom")
    assert CodexProtocolError("plain").code is None
    assert str(CodexProtocolError("bad", code=-32600, method="thread/read")) == "thread/read: bad (code -32600)"
    continuation = ChatContinuation(thread_id=T, turn_id="turn-1", cursor=2, mode="once")
    idle = CodexTurnInactiveError("idle", continuation=continuation, idle_seconds=1.5)
    assert (str(idle), idle.continuation, idle.idle_seconds) == ("idle", continuation, 1.5)
    ours = CodexTurnInactiveError(continuation, 2.0)
    assert ours.continuation is continuation and "turn-1" in str(ours) and isinstance(ours, CodexTimeoutError)
    with pytest.raises(TypeError):
        CodexTurnInactiveError("no continuation")
    assert str(CodexTransportError("gone")) == "gone"
    unknown = CodexUnknownContinuationError("nope")
    assert isinstance(unknown, CodexProtocolError) and isinstance(unknown, ValueError)


# -- item 3: timeouts ------------------------------------------------------------------


def _default(function: Any, name: str) -> Any:
    return inspect.signature(function).parameters[name].default


def test_timeout_defaults_are_the_async_sdks() -> None:
    for factory in (CodexClient, CodexClient.connect_stdio, CodexClient.connect_websocket):
        assert _default(factory, "request_timeout") == 30.0
        assert _default(factory, "inactivity_timeout") == 180.0
    client = CodexClient.connect_stdio(command=["codex", "app-server"])
    assert (client.request_timeout, client.inactivity_timeout, client.user_input_response_timeout) == (30, 180, 300)
    assert NO_TIMEOUT == float("inf")


class _SlowReplies(ScriptedTransport):
    """Answers ``slow`` after ``delay`` seconds (from another thread); never answers ``never``."""

    delay = 0.6

    def handle(self, request: dict) -> None:
        if request["method"] == "slow":
            threading.Timer(self.delay, self.reply, args=(request, "late")).start()
        elif request["method"] != "never":
            super().handle(request)


def test_none_means_the_clients_timeout_and_no_timeout_waits_without_limit() -> None:
    with CodexClient(_SlowReplies(), request_timeout=0.2) as client:
        for call in (lambda: client.request("never"), lambda: client.request("never", timeout=None)):
            started = time.monotonic()
            with pytest.raises(CodexTimeoutError):
                call()
            assert time.monotonic() - started < 2
        assert client.request("slow", timeout=NO_TIMEOUT) == "late"
        assert client.request("slow", timeout=5) == "late"
        with pytest.raises(ValueError):
            client.request("slow", timeout=0)


@pytest.mark.parametrize("api", ["chat_once", "chat"])
def test_inactivity_timeout_none_means_the_clients(api: str) -> None:
    with CodexClient(_answers([]), inactivity_timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(CodexTurnInactiveError):
            client.chat_once("hi", inactivity_timeout=None) if api == "chat_once" else list(
                client.chat("hi", inactivity_timeout=None))
        assert time.monotonic() - started < 3


def test_no_timeout_outlasts_the_clients_inactivity_timeout() -> None:
    server = _answers([])
    with CodexClient(server, inactivity_timeout=0.1) as client:
        threading.Timer(0.5, server.feed, args=tuple(
            json.loads(json.dumps(e).replace("TURN", "turn-1")) for e in _ok())).start()
        assert client.chat_once("hi", inactivity_timeout=NO_TIMEOUT).final_text == "Done."


# -- items 4 and 5: ChatResult and ChatContinuation --------------------------------------


def test_chat_result_literals_stripped_text_and_lists() -> None:
    server = _answers(_ok("  Paris.\n\n"))
    with CodexClient(server) as client:
        result = client.chat_once("capital?")
    assert (result.final_text, result.completion_source, result.assistant_item_id) == ("Paris.", "item_completed", "m-1")
    assert isinstance(result.raw_events, list) and isinstance(result.steps, list)
    assert all(step.status == "completed" for step in result.steps)


def test_the_read_back_fallback_names_its_item() -> None:
    server = _answers([turn_completed(T, "TURN")])
    server.results["thread/read"] = {"thread": {"id": T, "turns": [
        {"id": "turn-1", "items": [agent_message("msg-early", "draft"), agent_message("msg-fallback", " 1. alpha\n")]}]}}
    with CodexClient(server) as client:
        result = client.chat_once("fallback")
    assert (result.final_text, result.completion_source, result.assistant_item_id) == (
        "1. alpha", "thread_read_fallback", "msg-fallback")


def test_continuation_modes_are_once_and_stream() -> None:
    with CodexClient(_answers([], []), inactivity_timeout=0.1) as client:
        with pytest.raises(CodexTurnInactiveError) as once:
            client.chat_once("a")
        with pytest.raises(CodexTurnInactiveError) as stream:
            list(client.chat("b", thread_id="thread-2"))
    assert once.value.continuation.mode == "once"
    assert stream.value.continuation.mode == "stream"
    assert ChatContinuation(T, "u", 0, "chat").mode == "stream"  # older spellings still read
    assert ChatContinuation(T, "u", 0, "chat_once").mode == "once"
    with pytest.raises(ValueError):
        ChatContinuation(T, "u", 0, "sometimes")


def test_values_dump_like_pydantic_models() -> None:
    with CodexClient(_answers(_ok())) as client:
        result = client.chat_once("hi")
    dumped = result.model_dump()
    assert dumped["final_text"] == "Done." and dumped["thread_id"] == T
    assert dumped["steps"][0]["step_type"] == "thinking" and "request" not in dumped["steps"][0]
    assert json.loads(result.model_dump_json())["turn_id"] == "turn-1"
    assert result.model_dump(include={"turn_id"}) == {"turn_id": "turn-1"}
    assert "usage" not in result.model_dump(exclude_none=True)
    assert ChatContinuation(T, "u", 3, "once").model_dump() == {"thread_id": T, "turn_id": "u", "cursor": 3,
                                                                "mode": "once", "seen_items": []}


# -- item 6: cancel -----------------------------------------------------------------------


class _Interruptible(ScriptedTransport):
    """Its turns stay silent; ``turn/interrupt`` ends them unless ``ignore_interrupts``."""

    ignore_interrupts = False

    def handle(self, request: dict) -> None:
        if request["method"] == "turn/interrupt":
            self.reply(request, {})
            if not self.ignore_interrupts:
                params = request["params"]
                self.feed(item_completed(params["threadId"], params["turnId"], agent_message("m-x", "stopped")),
                          turn_completed(params["threadId"], params["turnId"], status="interrupted"))
        else:
            super().handle(request)


def test_cancel_of_an_unknown_continuation_raises_a_protocol_error() -> None:
    with CodexClient(_Interruptible()) as client:
        stranger = ChatContinuation(thread_id=T, turn_id="turn-gone", cursor=0, mode="once")
        with pytest.raises(CodexProtocolError, match="unknown continuation") as caught:
            client.cancel(stranger)
        assert isinstance(caught.value, ValueError)
        with pytest.raises(CodexProtocolError):
            client.chat_once(continuation=stranger)


def test_a_cancel_that_times_out_raises_inactive_with_a_usable_continuation() -> None:
    server = _Interruptible()
    server.ignore_interrupts = True
    with CodexClient(server, inactivity_timeout=0.1) as client:
        with pytest.raises(CodexTurnInactiveError) as idle:
            client.chat_once("wait")
        continuation = idle.value.continuation
        with pytest.raises(CodexTurnInactiveError) as caught:
            client.cancel(continuation, timeout=0.2)
        assert caught.value.continuation == continuation
        server.feed(item_completed(T, "turn-1", agent_message("m-1", "finished anyway")),
                    turn_completed(T, "turn-1"))
        assert client.chat_once(continuation=continuation).final_text == "finished anyway"


def test_cancel_with_timeout_none_uses_the_request_timeout() -> None:
    server = _Interruptible()
    server.ignore_interrupts = True
    with CodexClient(server, inactivity_timeout=0.1, request_timeout=0.3) as client:
        with pytest.raises(CodexTurnInactiveError) as idle:
            client.chat_once("wait")
        started = time.monotonic()
        with pytest.raises(CodexTurnInactiveError):
            client.cancel(idle.value.continuation)
        assert 0.2 < time.monotonic() - started < 3


def test_interrupt_turn_checks_the_thread_of_a_turn_it_knows() -> None:
    with CodexClient(_Interruptible(), inactivity_timeout=0.1) as client:
        with pytest.raises(ValueError, match="thread_id is required"):
            client.interrupt_turn("turn-9")
        with pytest.raises(CodexTurnInactiveError):
            client.chat_once("wait")
        with pytest.raises(ValueError, match="does not match"):
            client.interrupt_turn("turn-1", thread_id="thread-other")
        client.interrupt_turn("turn-1")


# -- item 7: raw results ----------------------------------------------------------------------


def test_steer_review_and_compact_return_the_raw_results() -> None:
    server = _Interruptible()
    review = {"turn": {"id": "turn-r", "status": "inProgress", "items": []}, "reviewThreadId": T}
    server.results.update({"turn/steer": {"turnId": "turn-1"}, "review/start": review})
    with CodexClient(server) as client:
        assert client.steer_turn(thread_id=T, expected_turn_id="turn-1", input_items="also this") == {
            "turnId": "turn-1"}
        assert server.requests("turn/steer")[0]["params"]["input"] == [{"type": "text", "text": "also this"}]
        started = time.monotonic()
        assert client.compact_thread(T) == {}
        assert time.monotonic() - started < 1  # the compaction turn is not waited for
        assert server.requests("thread/compact/start")[0]["params"] == {"threadId": T}
        server.notify("turn/started", {"threadId": T, "turn": {"id": "turn-c", "status": "inProgress"}})
        server.feed(turn_completed(T, "turn-c"))  # the compaction ends (review/start waits for it)
        assert client.start_review(thread_id=T, target={"type": "uncommittedChanges"}) == review
        handle = client.resume_thread("thread-2")
        server.feed(turn_completed(T, "turn-r"))
        assert handle.compact() == {}


# -- item 8: list_threads and write_config_value ----------------------------------------------


def test_list_threads_options_go_out_camel_case() -> None:
    server = ScriptedTransport()
    with CodexClient(server) as client:
        client.list_threads(archived=False, cursor="c-1", cwd="/work", limit=5, model_providers=["openai"],
                            sort_key="updated_at", sort_direction="desc", source_kinds=["cli"])
        with pytest.raises(TypeError):
            client.list_threads(model_providers="openai")  # type: ignore[arg-type]
    assert server.requests("thread/list")[0]["params"] == {
        "archived": False, "cursor": "c-1", "cwd": "/work", "limit": 5, "modelProviders": ["openai"],
        "sortKey": "updated_at", "sortDirection": "desc", "sourceKinds": ["cli"]}


def test_write_config_value_upserts_by_default() -> None:
    server = ScriptedTransport()
    with CodexClient(server) as client:
        client.write_config_value(key_path="model", value="gpt-5")
        client.write_config_value("model", "gpt-5", merge_strategy="replace")
    sent = [r["params"] for r in server.requests("config/value/write")]
    assert sent == [{"keyPath": "model", "value": "gpt-5", "mergeStrategy": "upsert"},
                    {"keyPath": "model", "value": "gpt-5", "mergeStrategy": "replace"}]


# -- item 9: constructor options ----------------------------------------------------------------


def test_constructors_take_the_async_sdks_options() -> None:
    options: Dict[str, Any] = dict(request_timeout=5.0, inactivity_timeout=None, user_input_response_timeout=0.0,
                                   approval_mode="manual", strict=True)
    stdio = CodexClient.connect_stdio(command=["codex", "app-server"], cwd=".", env={}, connect_timeout=5.0, **options)
    ws = CodexClient.connect_websocket(url="ws://127.0.0.1:9", token="t", headers={}, connect_timeout=5.0, **options)
    plain = CodexClient(ScriptedTransport(), **options)
    for client in (stdio, ws, plain):
        assert (client.request_timeout, client.inactivity_timeout, client.user_input_response_timeout) == (5, None, 0)
        assert (client.approval_mode, client.strict) == ("manual", True)
    assert stdio.connect_timeout == ws.connect_timeout == 5.0
    for bad in (dict(connect_timeout=-1), dict(user_input_response_timeout=-1), dict(strict="yes")):
        with pytest.raises((TypeError, ValueError)):
            CodexClient.connect_stdio(command=["codex"], **bad)


class _NoRolloutYet(ScriptedTransport):
    """``thread/resume`` of ``thread-new`` is refused until its first turn has started."""

    def __init__(self) -> None:
        super().__init__(lambda thread_id, turn_id: [])
        self.started = False

    def handle(self, request: dict) -> None:
        method, params = request["method"], request.get("params") or {}
        if method == "thread/resume" and not self.started:
            self.fail(request, -32600, f"no rollout found for thread id {params['threadId']}")
        elif method == "thread/resume":
            turn = {"id": "turn-1", "status": "completed", "items": [
                {"id": "u-1", "type": "userMessage", "content": [{"type": "text", "text": "hello"}]},
                agent_message("m-1", "hello back")]}
            self.reply(request, {"thread": {"id": params["threadId"], "turns": [turn]}})
        else:
            if method == "turn/start":
                self.started = True
            super().handle(request)


def test_a_thread_with_no_turn_yet_is_followed_after_its_turn_starts() -> None:
    server = _NoRolloutYet()
    with CodexClient(server) as client:
        result = client.chat_once("hello", thread_id="thread-new")
    assert (result.final_text, result.thread_id) == ("hello back", "thread-new")
    assert [s.step_type for s in result.steps] == ["userMessage", "codex"]  # backfilled from thread/resume
    assert [m["method"] for m in server.log if "id" in m and "method" in m][-3:] == [
        "thread/resume", "turn/start", "thread/resume"]


def test_strict_raises_when_the_thread_cannot_be_resumed() -> None:
    server = _NoRolloutYet()
    with CodexClient(server, strict=True) as client:
        with pytest.raises(CodexProtocolError, match="no rollout found"):
            client.chat_once("hello", thread_id="thread-new")
    assert not server.requests("turn/start")


# -- item 10: modules, helpers, transports, settings -------------------------------------------


def test_the_async_sdks_modules_and_names_exist() -> None:
    models = importlib.import_module("codex_sync.models")
    for name in ("ChatResult", "ChatContinuation", "ConversationStep", "CancelResult", "ThreadConfig",
                 "TurnOverrides", "UNSET", "UnsetType", "InitializeResult", "CommandApprovalRequest",
                 "FileChangeApprovalRequest", "UserInputRequest", "UserInputQuestion", "UserInputOption",
                 "UserInputResponse", "UserInputAnswer", "CommandApprovalWithExecpolicyAmendment",
                 "CommandApprovalDecision", "FileChangeApprovalDecision", "CollaborationMode",
                 "CollaborationSettings", "ModeKind", "SandboxPolicy", "ReasoningEffort", "ReasoningSummary"):
        assert hasattr(models, name), name
        if not name.startswith("Unset"):
            assert hasattr(codex_sync, name) and name in codex_sync.__all__, name
    transport = importlib.import_module("codex_sync.transport")
    for name in ("Transport", "StdioTransport", "WebSocketTransport", "SeedTransportAdapter"):
        assert hasattr(transport, name), name


def test_protocol_helpers_build_and_read_envelopes() -> None:
    from codex_sync import protocol

    assert protocol.make_request(7, "initialize", {"foo": "bar"}) == {
        "jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {"foo": "bar"}}
    assert "params" not in protocol.make_request(8, "thread/list")
    error = protocol.make_error_response(9, -32000, "boom", {"x": 1})
    assert protocol.extract_error(error) == {"code": -32000, "message": "boom", "data": {"x": 1}}
    assert protocol.extract_error(protocol.make_result_response(9, {})) is None
    assert protocol.is_response_message(error) and not protocol.is_response_message({"id": 1, "method": "m"})
    assert protocol.is_turn_completed("turn/completed") and not protocol.is_turn_completed("turn/started")
    assert protocol.is_turn_failed("turn/failed") and not protocol.is_turn_failed("turn/completed")
    assert protocol.THREAD_START_METHOD == "thread/start"


class _SeedShapedPeer:
    """An object with the async SDK's transport shape, synchronous: it plays the server."""

    def __init__(self) -> None:
        self.incoming: queue.Queue[Optional[dict]] = queue.Queue()
        self.connects = self.closes = 0

    def connect(self) -> None:
        self.connects += 1

    def send(self, payload: Dict[str, Any]) -> None:
        method = payload.get("method")
        if method is None or "id" not in payload:
            return
        result: Any = {}
        if method == "thread/start":
            result = {"thread": {"id": T}}
        elif method == "turn/start":
            result = {"turn": {"id": "turn-1"}}
        self.incoming.put({"id": payload["id"], "result": result})
        if method == "turn/start":
            self.incoming.put(item_completed(T, "turn-1", agent_message("m-1", "over a seed transport")))
            self.incoming.put(turn_completed(T, "turn-1"))

    def recv(self) -> Dict[str, Any]:
        message = self.incoming.get()
        if message is None:
            self.incoming.put(None)
            raise CodexTransportError("peer closed")
        return message

    def close(self) -> None:
        self.closes += 1
        self.incoming.put(None)


def test_a_seed_style_transport_object_runs_a_client() -> None:
    peer = _SeedShapedPeer()
    with CodexClient(peer) as client:
        assert client.chat_once("hello").final_text == "over a seed transport"
    assert (peer.connects, peer.closes) == (1, 1)
    with pytest.raises(TypeError, match="recv"):
        CodexClient(object())

    class Async:
        async def connect(self) -> None: ...
        async def send(self, payload: Any) -> None: ...
        async def recv(self) -> Any: ...
        async def close(self) -> None: ...

    with pytest.raises(TypeError, match="asynchronous"):
        CodexClient(Async())


def test_a_seed_style_transport_that_breaks_fails_every_waiter_with_its_error() -> None:
    peer = _SeedShapedPeer()
    with CodexClient(peer, inactivity_timeout=None) as client:
        client.initialize()
        peer.incoming.put(None)  # recv() raises from now on
        with pytest.raises(CodexTransportError, match="peer closed"):
            client.chat_once("hello")


def test_the_seed_shaped_transports_wrap_codex_syncs_own() -> None:
    from codex_sync import transport
    from codex_sync.transports.stdio import StdioTransport

    with pytest.raises(ValueError):
        transport.StdioTransport([])
    seed_stdio = transport.StdioTransport(["codex", "app-server"], env={"A": "1"}, connect_timeout=5)
    with pytest.raises(CodexTransportError):
        seed_stdio.send({"id": 1, "method": "x"})  # not connected yet
    ws = transport.WebSocketTransport("ws://127.0.0.1:9", headers={"Authorization": "Bearer t"})
    with pytest.raises(CodexTransportError):
        ws.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    client = CodexClient(seed_stdio)
    assert isinstance(client._session.transport, StdioTransport)  # used directly: nothing is decoded twice


def test_collaboration_mode_objects_go_out_on_turn_start() -> None:
    server = _answers(_ok())
    mode = CollaborationMode(mode="plan", settings=CollaborationSettings(model="gpt-5", reasoning_effort="high"))
    with CodexClient(server) as client:
        client.chat_once("Plan this.", turn_overrides=TurnOverrides(collaboration_mode=mode))
    assert server.requests("turn/start")[0]["params"]["collaborationMode"] == {
        "mode": "plan", "settings": {"model": "gpt-5", "reasoning_effort": "high", "developer_instructions": None}}
    with pytest.raises(ValueError):
        CollaborationMode("plan", CollaborationSettings(model="")).to_wire()


def test_a_continuation_refuses_turn_arguments_one_by_one() -> None:
    cont = ChatContinuation(T, "turn-1", 0, "once")
    with CodexClient(ScriptedTransport()) as client:
        for kwargs, expected in (({"thread_id": "x"}, "thread_id cannot be used with continuation"),
                                 ({"user": "alice"}, "user cannot be used with continuation"),
                                 ({"metadata": {}}, "metadata cannot be used with continuation")):
            with pytest.raises(ValueError) as caught:
                client.chat_once(continuation=cont, **kwargs)
            assert str(caught.value) == expected
