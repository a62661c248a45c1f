"""The foundation against the real codex app-server, over stdio and websocket."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Dict, List

import pytest

from codex_sync import (
    CodexClient,
    CodexProtocolError,
    CodexTransportError,
)
from codex_sync.testing import AppServer, ScriptedModel, codex_binary, hang, text
from codex_sync.transports.stdio import resolve_command

pytestmark = pytest.mark.real_server


def _version_under_test() -> str:
    """The version of the codex binary the tests run (``codex-cli 0.163.0`` -> ``0.163.0``)."""
    out = subprocess.run([codex_binary(), "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.strip().split()[-1]


def test_initialize_reports_what_the_server_says(app_server: AppServer) -> None:
    version = _version_under_test()
    with app_server.client() as client:
        init = client.initialize()
        assert init.server_version == version
        assert init.user_agent and init.user_agent.startswith(f"codex-sync/{version}")
        assert init.codex_home == str(app_server.codex_home)
        assert init.platform_family == "unix" and init.platform_os == "linux"
        assert client.initialize() is init  # once


def test_first_request_of_any_kind_initializes(app_server: AppServer) -> None:
    with app_server.client() as client:
        result = client.request("thread/list")  # params=None goes out as {}
        assert isinstance(result["data"], list)


def test_custom_initialize_params_are_merged(stdio_app_server: AppServer) -> None:
    with stdio_app_server.client() as client:
        init = client.initialize({"clientInfo": {"name": "my_app", "version": "9.9"}})
        assert init.user_agent is not None and init.user_agent.startswith("my_app/")
        assert "(my_app; 9.9)" in init.user_agent


def test_chat_once_hello(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    result = codex_client.chat_once("Hello")
    assert result.final_text == "echo: Hello"
    assert result.completion_source == "item_completed"  # the async SDK's literal (was "item/completed")
    assert result.assistant_item_id
    assert [s.step_type for s in result.steps][-1] == "codex"
    assert scripted_model.requests[-1].last_user_text == "Hello"


def test_raw_events_keep_the_deltas_with_or_without_on_delta(codex_client: CodexClient) -> None:
    plain = codex_client.chat_once("Hello")
    seen: List[str] = []
    live = codex_client.chat_once("Hello", on_delta=lambda d: seen.append(d.delta))
    for result in (plain, live):
        assert isinstance(result.raw_events, list)
        methods = [event["method"] for event in result.raw_events]
        deltas = [e["params"]["delta"] for e in result.raw_events if e["method"] == "item/agentMessage/delta"]
        assert deltas and "".join(deltas) == "echo: Hello", methods
        assert methods[-1] == "turn/completed"
        last_completed = len(methods) - 1 - methods[::-1].index("item/completed")  # the agent message's
        assert methods.index("item/agentMessage/delta") < last_completed
    assert "".join(seen) == "echo: Hello"
    def delta_count(result: object) -> int:
        return sum(e["method"].endswith("/delta") for e in result.raw_events)  # type: ignore[attr-defined]

    assert delta_count(plain) == delta_count(live)
    dumped = plain.model_dump()["raw_events"]
    assert isinstance(dumped, list) and dumped == list(plain.raw_events)


def test_live_text_arrives_while_the_answer_is_still_streaming(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    scripted_model.on("slowly", text("one two three", deltas=["one", " two", " three"], delay=0.4))
    got: List[tuple] = []
    steps = []
    for step in codex_client.chat("say it slowly", on_delta=lambda d: got.append((time.monotonic(), d.delta))):
        steps.append((time.monotonic(), step))
    answer_at = next(at for at, step in steps if step.item_type == "agentMessage")
    assert [piece for _, piece in got] == ["one", " two", " three"]  # each once, in order
    assert got[-1][0] - got[0][0] > 0.5, "the deltas were not passed on as they came"
    assert got[0][0] < answer_at - 0.5, "the first delta waited for the whole answer"


def test_the_read_back_finds_the_answer_without_a_deprecation_notice(
    codex_client: CodexClient, caplog: pytest.LogCaptureFixture
) -> None:
    result = codex_client.chat_once("Hello")
    with caplog.at_level("WARNING", logger="codex_sync"):
        found = codex_client._conversation.read_back(result.thread_id, result.turn_id)  # the fallback's read
    assert found == (result.assistant_item_id, "echo: Hello")
    assert not [r for r in caplog.records if "deprecationNotice" in r.getMessage()]


def test_unknown_method_is_a_protocol_error(codex_client: CodexClient) -> None:
    with pytest.raises(CodexProtocolError) as info:
        codex_client.request("no/such/method", {})
    assert info.value.code == -32600 and "unknown variant" in info.value.message
    assert codex_client.request("thread/list", {"limit": 1}) is not None  # still usable


def test_many_threads_share_one_client(codex_client: CodexClient) -> None:
    results: Dict[int, str] = {}
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            thread = codex_client.request("thread/start", {"developerInstructions": f"worker {n}"})["thread"]
            read = codex_client.request("thread/read", {"threadId": thread["id"]})
            assert read["thread"]["id"] == thread["id"]
            results[n] = thread["id"]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(set(results.values())) == 16


def test_close_from_another_thread_wakes_a_blocked_turn(app_server: AppServer, scripted_model: ScriptedModel) -> None:
    scripted_model.add(hang(30))
    client = app_server.client().start()
    threading.Timer(1.0, client.close).start()
    started = time.monotonic()
    with pytest.raises(CodexTransportError):
        client.chat_once("wait for ever")
    assert time.monotonic() - started < 8
    client.close()  # idempotent
    with pytest.raises(CodexTransportError, match="closed"):
        client.request("thread/list")


def test_dead_server_fails_the_turn_at_once_with_exit_code(
    stdio_app_server: AppServer, scripted_model: ScriptedModel
) -> None:
    scripted_model.add(hang(30))
    client = stdio_app_server.client().start()
    stream = client.chat("hang here")
    pid = client._session.transport.pid  # type: ignore[attr-defined]
    threading.Timer(0.5, os.kill, args=(pid, signal.SIGKILL)).start()
    started = time.monotonic()
    with pytest.raises(CodexTransportError) as info:
        list(stream)
    assert time.monotonic() - started < 3
    assert info.value.exit_code == -signal.SIGKILL
    started = time.monotonic()
    with pytest.raises(CodexTransportError):
        client.request("thread/list")
    assert time.monotonic() - started < 0.5
    client.close()


def test_websocket_server_death_fails_pending_requests(
    websocket_app_server: AppServer, scripted_model: ScriptedModel
) -> None:
    scripted_model.add(hang(30))
    client = websocket_app_server.client().start()
    stream = client.chat("hang here")
    threading.Timer(0.5, websocket_app_server.close).start()
    started = time.monotonic()
    with pytest.raises(CodexTransportError):
        list(stream)
    assert time.monotonic() - started < 8
    client.close()


def test_refused_token_says_so_promptly(websocket_app_server: AppServer) -> None:
    client = CodexClient.connect_websocket(websocket_app_server.url, token="wrong-token")
    started = time.monotonic()
    with pytest.raises(CodexTransportError) as info:
        client.start()
    assert time.monotonic() - started < 5
    assert "401" in str(info.value) and "token" in str(info.value)
    assert "wrong-token" not in str(info.value) and "wrong-token" not in repr(client)


def test_nothing_listening_is_a_clear_error() -> None:
    client = CodexClient.connect_websocket("ws://127.0.0.1:9", connect_timeout=2)
    with pytest.raises(CodexTransportError, match="cannot connect"):
        client.start()


def test_missing_binary_names_the_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    client = CodexClient.connect_stdio(["/nonexistent/codex", "app-server"])
    with pytest.raises(CodexTransportError, match="CODEX_APP_SERVER_CMD"):
        client.start()
    monkeypatch.delenv("CODEX_APP_SERVER_CMD", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("codex_sync.transports.stdio._runtime_binary", lambda: (None, None))
    with pytest.raises(CodexTransportError) as info:
        resolve_command(None)
    for hint in ("command=", "CODEX_APP_SERVER_CMD", "PATH", "codex-sync[runtime]"):
        assert hint in str(info.value)


def test_command_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_APP_SERVER_CMD", "from-env app-server --x")
    assert resolve_command("my-codex app-server")[0] == ["my-codex", "app-server"]
    assert resolve_command(None)[0] == ["from-env", "app-server", "--x"]
    monkeypatch.delenv("CODEX_APP_SERVER_CMD")
    monkeypatch.setenv("PATH", "/nonexistent")
    argv, path_dir = resolve_command(None)  # the runtime package's binary
    assert argv[0].endswith("codex") and argv[1:] == ["app-server"] and path_dir
