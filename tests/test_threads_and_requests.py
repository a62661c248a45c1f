"""Thread scope and requests from the server, against the real app-server."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, List

import pytest

import codex_sync
from codex_sync import (
    CodexClient,
    CodexProtocolError,
    CommandApprovalRequest,
    ThreadConfig,
    TurnOverrides,
    UserInputRequest,
)
from codex_sync.testing import AppServer, ScriptedModel, exec_command, request_user_input, text

pytestmark = pytest.mark.real_server

ON_REQUEST = pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")


def test_thread_config_reaches_the_model(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    thread = codex_client.start_thread(ThreadConfig(
        base_instructions="You are a terse robot.", developer_instructions="Answer in haiku.", model="mock-model-2",
    ))
    thread.chat_once("hello robot")
    request = scripted_model.requests[-1]
    assert request.model == "mock-model-2"
    assert any("You are a terse robot." in t for t in request.developer_texts)
    assert any("Answer in haiku." in t for t in request.developer_texts)
    thread.update_defaults(ThreadConfig(model="mock-model-4"))
    assert thread.defaults.model == "mock-model-4"
    thread.chat_once("after update")
    assert scripted_model.requests[-1].model == "mock-model-4"
    thread.chat_once("again", turn_overrides=TurnOverrides(model="mock-model-3", effort="low"))
    assert scripted_model.requests[-1].model == "mock-model-3"
    thread.chat_once("and again")  # turn overrides stick on the server
    assert scripted_model.requests[-1].model == "mock-model-3"


def test_update_defaults_before_the_first_turn_and_fork_warnings(
    codex_client: CodexClient, scripted_model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    thread = codex_client.start_thread(ThreadConfig(developer_instructions="Original."))
    thread.update_defaults(ThreadConfig(model="model-before-first-turn", developer_instructions="Ignored."))
    assert "developer_instructions" in caplog.text  # the warning names what the server keeps
    assert thread.defaults.model == "model-before-first-turn"
    assert thread.defaults.developer_instructions == "Original."
    thread.chat_once("first")
    assert scripted_model.requests[-1].model == "model-before-first-turn"
    caplog.clear()
    forked = thread.fork(ThreadConfig(developer_instructions="Also ignored."))
    assert "keeps the parent's developer_instructions" in caplog.text
    assert forked.defaults.developer_instructions == "Original."


def test_unset_omits_and_none_sends_null() -> None:
    config = ThreadConfig(model="m", developer_instructions=None)
    assert config.to_params() == {"model": "m", "developerInstructions": None}
    merged = config.merged(ThreadConfig(cwd="/x"))
    assert merged.to_params() == {"model": "m", "developerInstructions": None, "cwd": "/x"}
    assert TurnOverrides(effort="high", sandbox_policy={"type": "readOnly"}).to_params() == {
        "effort": "high", "sandboxPolicy": {"type": "readOnly"}}


def test_fork_copies_history_into_a_new_thread(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    thread = codex_client.start_thread()
    thread.chat_once("remember the word banana")
    forked = thread.fork(ThreadConfig(model="mock-fork-model"))
    assert forked.thread_id != thread.thread_id
    assert forked.info["thread"]["forkedFromId"] == thread.thread_id
    assert forked.chat_once("what was the word").final_text == "echo: what was the word"
    texts = scripted_model.requests[-1].user_texts
    assert "remember the word banana" in texts  # the fork carried the history to the model
    assert scripted_model.requests[-1].model == "mock-fork-model"


def test_rollback_and_revert(codex_client: CodexClient) -> None:
    thread = codex_client.start_thread()
    for prompt in ("one", "two", "three"):
        thread.chat_once(prompt)
    thread.rollback(1)
    turns = thread.read()["thread"]["turns"]
    assert len(turns) == 2
    codex_client.revert_thread(thread.thread_id, turns[1]["id"])
    assert len(thread.read()["thread"]["turns"]) == 1
    with pytest.raises(ValueError, match="cannot roll back"):
        thread.rollback(5)
    assert thread.chat_once("four").final_text == "echo: four"


def test_name_archive_unarchive_list_read(codex_client: CodexClient) -> None:
    thread = codex_client.start_thread()
    thread.chat_once("something to list")
    thread.set_name("my thread")
    assert thread.read(include_turns=False)["thread"]["name"] == "my thread"
    listed = [t["id"] for t in codex_client.list_threads(limit=50)["data"]]
    assert thread.thread_id in listed
    thread.archive()
    assert thread.thread_id not in [t["id"] for t in codex_client.list_threads(limit=50)["data"]]
    assert thread.thread_id in [t["id"] for t in codex_client.list_threads(limit=50, archived=True)["data"]]
    assert thread.unarchive()["thread"]["id"] == thread.thread_id
    with pytest.raises(CodexProtocolError):
        codex_client.read_thread("not-a-thread-id")


def test_compact_runs_a_compaction_turn(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    thread = codex_client.start_thread()
    thread.chat_once("some history")
    before = len(scripted_model.requests)
    scripted_model.add(text("A summary of the conversation."))
    assert thread.compact(wait=True) == {}  # wait=True: returns once the compaction turn ended (was compact())
    assert len(scripted_model.requests) == before + 1
    assert thread.chat_once("after compaction").final_text == "echo: after compaction"


def test_compact_returns_at_once_and_the_next_turn_waits_for_it(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    thread = codex_client.start_thread()
    thread.chat_once("some history")
    scripted_model.add(text("A slow summary.", delay=0.5))
    started = time.monotonic()
    assert codex_client.compact_thread(thread.thread_id) == {}  # the raw result, as the async SDK returns it
    assert time.monotonic() - started < 0.5  # it did not wait for the summary
    assert thread.chat_once("after compaction").final_text == "echo: after compaction"
    kinds = [item["type"] for t in thread.read()["thread"]["turns"] for item in t["items"]]
    assert kinds.index("contextCompaction") < len(kinds) - 1  # the turn ran after the compaction, not in it


def test_models_config_and_exec_command(codex_client: CodexClient, tmp_path: Path) -> None:
    assert isinstance(codex_client.list_models()["data"], list)
    config = codex_client.read_config()
    assert config["config"]["model"] == "mock-model"
    codex_client.write_config_value("model_reasoning_effort", "low")
    assert codex_client.read_config()["config"]["model_reasoning_effort"] == "low"
    codex_client.batch_write_config([{"keyPath": "model_verbosity", "value": "low", "mergeStrategy": "replace"}])
    assert codex_client.read_config()["config"]["model_verbosity"] == "low"
    assert isinstance(codex_client.read_config_requirements(), dict)
    result = codex_client.exec_command(["echo", "hi from exec"], cwd=str(tmp_path))
    assert result["exitCode"] == 0 and result["stdout"].strip() == "hi from exec"


def test_on_notification_gets_events_outside_turns(codex_client: CodexClient) -> None:
    seen: List[str] = []
    got = threading.Event()

    def callback(note: Any) -> None:
        seen.append(note.method)
        got.set()

    unsubscribe = codex_client.on_notification("thread/name/updated", callback)
    thread = codex_client.start_thread()
    thread.set_name("watched")
    assert got.wait(10)
    assert seen == ["thread/name/updated"]
    unsubscribe()
    got.clear()
    thread.set_name("unwatched")
    assert not got.wait(1)


def _escalated(path: Path) -> Any:
    return exec_command(f"touch {path}", escalated=True, justification="Need to write outside workspace?")


@ON_REQUEST
def test_approvals_are_declined_by_default(
    codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "declined.txt"
    scripted_model.on("make file", _escalated(target), text("ok"))
    result = codex_client.chat_once("make file please")
    assert not target.exists()
    exec_item = [s for s in result.steps if s.step_type == "exec"][0].data["item"]
    assert exec_item["status"] == "declined"
    assert "Rejected" in str(scripted_model.requests[-1].function_call_outputs)


@ON_REQUEST
def test_approval_handler_accepts(app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    target = tmp_path / "approved.txt"
    scripted_model.on("make file", _escalated(target), text("created"))
    asked: List[CommandApprovalRequest] = []

    def handler(request: CommandApprovalRequest) -> bool:
        asked.append(request)
        return True

    with app_server.client(approval_handler=handler) as client:
        assert client.chat_once("make file please").final_text == "created"
    assert target.exists()
    assert asked[0].command and "touch" in asked[0].command
    assert asked[0].reason == "Need to write outside workspace?"


@ON_REQUEST
def test_turn_handler_wins_and_a_raising_handler_declines(
    codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target = tmp_path / "raised.txt"
    scripted_model.on("make file", _escalated(target), text("ok"))

    def boom(request: Any) -> bool:
        raise RuntimeError("handler bug")

    codex_client.chat_once("make file please", approval_handler=boom)
    assert not target.exists()
    thread = codex_client.start_thread(approval_handler=codex_sync.decline_all)
    scripted_model.on("second file", _escalated(target), text("ok"))
    thread.chat_once("second file please", approval_handler=codex_sync.approve_all)
    assert target.exists()


@ON_REQUEST
def test_manual_approval_from_the_chat_loop(
    codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target = tmp_path / "manual.txt"
    scripted_model.on("make file", _escalated(target), text("made it"))
    types = []
    for step in codex_client.chat("make file please", approval_handler=codex_sync.MANUAL):
        types.append(step.step_type)
        if step.step_type == "approval":
            assert isinstance(step.request, CommandApprovalRequest)
            assert "touch" in step.text
            step.request.approve()
    assert "approval" in types and types[-1] == "codex"
    assert target.exists()


@ON_REQUEST
def test_manual_mode_in_chat_once_falls_back_to_the_default(
    codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "once.txt"
    scripted_model.on("make file", _escalated(target), text("declined then"))
    result = codex_client.chat_once("make file please", approval_handler=codex_sync.MANUAL, inactivity_timeout=20)
    assert result.final_text == "declined then" and not target.exists()
    assert "use chat() for codex_sync.MANUAL" in caplog.text


@ON_REQUEST
def test_unanswered_manual_approval_still_times_out_with_a_continuation(
    codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target = tmp_path / "later.txt"
    scripted_model.on("make file", _escalated(target), text("made it later"))
    stream = codex_client.chat("make file please", approval_handler=codex_sync.MANUAL, inactivity_timeout=1.0)
    request = None
    with pytest.raises(codex_sync.CodexTurnInactiveError) as info:
        for step in stream:
            if step.step_type == "approval":
                request = step.request  # a person has not answered yet
    assert request is not None
    codex_client.respond_approval(request, "accept")
    rest = list(codex_client.chat(continuation=info.value.continuation))
    assert rest[-1].text == "made it later" and target.exists()


def test_untrusted_policy_on_thread_start_asks_even_for_ls(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    scripted_model.on("list", exec_command("ls"), text("listed"))
    asked: List[str] = []
    thread = codex_client.start_thread(ThreadConfig(approval_policy="untrusted"),
                                       approval_handler=lambda r: asked.append(r.method) or True)
    assert thread.chat_once("list please").final_text == "listed"
    assert asked == ["item/commandExecution/requestApproval"]


def test_user_input_in_plan_mode(app_server: AppServer, scripted_model: ScriptedModel) -> None:
    questions = [{"id": "confirm_path", "header": "Confirm", "question": "Proceed?",
                  "options": [{"label": "Yes (Recommended)", "description": "go"}, {"label": "No", "description": "stop"}]}]
    scripted_model.on("ask me", request_user_input(questions), text("thanks for answering"))
    seen: List[UserInputRequest] = []

    def answer(request: UserInputRequest) -> Any:
        seen.append(request)
        return {"confirm_path": "Yes (Recommended)"}

    plan = TurnOverrides(collaboration_mode={"mode": "plan", "settings": {
        "model": "mock-model", "reasoning_effort": None, "developer_instructions": None}})
    with app_server.client(experimental_api=True, user_input_handler=answer) as client:
        result = client.chat_once("ask me something", turn_overrides=plan)
    assert result.final_text == "thanks for answering"
    assert seen[0].questions[0]["question"] == "Proceed?"
    outputs = str(scripted_model.requests[-1].function_call_outputs)
    assert "Yes (Recommended)" in outputs


def test_input_items_beyond_text(codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    from codex_sync import inputs

    image = tmp_path / "pixel.png"
    image.write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"))
    result = codex_client.chat_once([inputs.text("describe this"), inputs.local_image(image)])
    assert result.final_text.startswith("echo: describe this")
    assert f'path="{image}"' in str(scripted_model.requests[-1].input)  # the image item reached the model
    with pytest.raises(ValueError, match="expected one of"):
        codex_client.chat_once([{"type": "video", "url": "x"}])
