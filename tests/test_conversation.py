"""The conversation API against the real server: steps, continuation, cancel, Ctrl-C, threads."""

from __future__ import annotations

import _thread
import gc
import threading
import time
from typing import Dict, List

import pytest

from codex_sync import (
    ChatContinuation,
    CodexClient,
    CodexTimeoutError,
    CodexTurnFailedError,
    CodexTurnInactiveError,
    CodexTurnInterruptedError,
    ConversationStep,
    TextDelta,
)
from codex_sync.testing import (
    AppServer,
    ScriptedModel,
    exec_command,
    failed,
    hang,
    http_error,
    reasoning,
    text,
)

pytestmark = pytest.mark.real_server


def test_steps_arrive_in_order_with_natural_text(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on(
        "run it",
        exec_command("echo hi-from-exec"),
        text("All done.", deltas=["All ", "done."], reasoning=reasoning("Thinking hard.", "raw thoughts")),
    )
    deltas: List[TextDelta] = []
    steps = list(codex_client.chat("please run it", on_delta=deltas.append))
    assert [s.step_type for s in steps] == ["userMessage", "exec", "thinking", "codex"]
    user, exec_step, thinking, answer = steps
    assert user.text == "please run it"
    assert exec_step.text == "/bin/bash -lc 'echo hi-from-exec'"
    assert "hi-from-exec" in exec_step.data["item"]["aggregatedOutput"]
    assert thinking.text.startswith("Thinking hard.")
    assert answer.text == "All done." and answer.item_type == "agentMessage"
    assert "".join(d.delta for d in deltas if d.kind == "codex") == "All done."
    assert any(d.kind == "thinking" for d in deltas)
    assert len({s.item_id for s in steps}) == 4 and all(s.turn_id == steps[0].turn_id for s in steps)


def test_chat_once_result_has_steps_events_and_usage(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.add(text("Counted.", usage=(11, 5)))
    result = codex_client.chat_once("count tokens")
    assert result.final_text == "Counted."
    assert result.usage is not None and result.usage.input_tokens == 11 and result.usage.output_tokens == 5
    methods = [e["method"] for e in result.raw_events]
    assert methods[-1] == "turn/completed" and "item/completed" in methods
    assert result.steps[-1].item_id == result.assistant_item_id


def _slow_script(model: ScriptedModel) -> None:
    model.on(
        "slow task",
        exec_command("echo step-one"),
        text("Finished slowly.", deltas=["Fin", "ished ", "slowly."], reasoning=reasoning("Pondering."), delay=0.6),
    )


def test_chat_inactivity_continuation_loses_and_repeats_nothing(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    _slow_script(scripted_model)
    seen: List[ConversationStep] = []
    timeouts = 0
    stream = codex_client.chat("slow task", inactivity_timeout=0.3)
    while True:
        try:
            for step in stream:
                seen.append(step)
            break
        except CodexTurnInactiveError as exc:
            timeouts += 1
            assert exc.continuation.mode == "stream"  # the async SDK's literal (was "chat")
            stream = codex_client.chat(continuation=exc.continuation, inactivity_timeout=0.3)
    assert timeouts >= 2
    ids = [s.item_id for s in seen]
    assert len(ids) == len(set(ids))  # nothing twice
    assert [s.step_type for s in seen] == ["userMessage", "exec", "thinking", "codex"]  # nothing lost
    assert seen[-1].text == "Finished slowly."


def test_chat_once_inactivity_continuation_returns_the_whole_turn(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    _slow_script(scripted_model)
    continuation = None
    timeouts = 0
    while True:
        try:
            if continuation is None:
                result = codex_client.chat_once("slow task", inactivity_timeout=0.3)
            else:
                result = codex_client.chat_once(continuation=continuation, inactivity_timeout=0.3)
            break
        except CodexTurnInactiveError as exc:
            timeouts += 1
            continuation = exc.continuation
    assert timeouts >= 2
    assert result.final_text == "Finished slowly."
    assert [s.step_type for s in result.steps] == ["userMessage", "exec", "thinking", "codex"]


def test_continuation_excludes_other_arguments(codex_client: CodexClient) -> None:
    cont = ChatContinuation("t", "u", 0, "chat")
    for kwargs in ({"text": "x"}, {"thread_id": "t"}, {"user": "u"}, {"metadata": {}},
                   {"turn_overrides": __import__("codex_sync").TurnOverrides()}):
        with pytest.raises(ValueError, match="continuation"):
            codex_client.chat(continuation=cont, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown continuation"):
        codex_client.chat_once(continuation=cont)


def test_cancel_then_reuse_the_thread_at_once(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on("hang please", hang(30))
    with pytest.raises(CodexTurnInactiveError) as info:
        codex_client.chat_once("hang please", inactivity_timeout=0.5)
    cont = info.value.continuation
    started = time.monotonic()
    cancelled = codex_client.cancel(cont, timeout=10)
    assert time.monotonic() - started < 5
    assert cancelled.was_interrupted and not cancelled.was_completed
    assert cancelled.turn_id == cont.turn_id
    assert [e["method"] for e in cancelled.raw_events][-1] == "turn/completed"
    again = codex_client.chat_once("again", thread_id=cont.thread_id)
    assert again.final_text == "echo: again" and again.turn_id != cont.turn_id
    with pytest.raises(ValueError):
        codex_client.cancel(cont)  # forgotten


def test_ctrl_c_interrupts_drains_and_leaves_the_client_usable(
    stdio_app_server: AppServer, scripted_model: ScriptedModel
) -> None:
    scripted_model.on("hang please", hang(30))
    with stdio_app_server.client() as client:
        thread_id = client.chat_once("first").thread_id
        timer = threading.Timer(1.0, _thread.interrupt_main)
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.chat_once("hang please", thread_id=thread_id)
        assert time.monotonic() - started < 6
        result = client.chat_once("after ctrl-c", thread_id=thread_id)
        assert result.final_text == "echo: after ctrl-c"
        turns = client.request("thread/read", {"threadId": thread_id, "includeTurns": True})["thread"]["turns"]
        assert [t["status"] for t in turns] == ["completed", "interrupted", "completed"]


def test_break_out_of_chat_cancels_the_turn(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on("hang please", hang(30))
    stream = codex_client.chat("hang please")
    thread_id, broken_turn = stream.thread_id, stream.turn_id
    for step in stream:
        assert step.step_type == "userMessage"
        break
    del stream, step
    gc.collect()
    started = time.monotonic()
    result = codex_client.chat_once("after break", thread_id=thread_id)
    assert time.monotonic() - started < 8
    assert result.final_text == "echo: after break" and result.turn_id != broken_turn
    turns = codex_client.request("thread/read", {"threadId": thread_id, "includeTurns": True})["thread"]["turns"]
    assert [t["status"] for t in turns] == ["interrupted", "completed"]


def test_with_block_closes_the_stream(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on("hang please", hang(30))
    with codex_client.chat("hang please") as stream:
        next(stream)
    result = codex_client.chat_once("next", thread_id=stream.thread_id)
    assert result.final_text == "echo: next"


def test_eight_python_threads_many_turns(codex_client: CodexClient) -> None:
    answers: Dict[str, str] = {}
    errors: List[BaseException] = []

    def worker(n: int) -> None:
        try:
            thread_id = None
            for k in range(3):
                prompt = f"worker {n} turn {k}"
                result = codex_client.chat_once(prompt, thread_id=thread_id)
                thread_id = result.thread_id
                answers[prompt] = result.final_text
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert answers == {f"worker {n} turn {k}": f"echo: worker {n} turn {k}" for n in range(8) for k in range(3)}


def test_two_callers_on_one_codex_thread_get_separate_turns(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    thread_id = codex_client.chat_once("hello").thread_id
    scripted_model.on("slow one", text("slow answer", delay=0.3))
    results: Dict[str, str] = {}
    turn_ids: List[str] = []

    def call(prompt: str) -> None:
        result = codex_client.chat_once(prompt, thread_id=thread_id)
        results[prompt] = result.final_text
        turn_ids.append(result.turn_id)

    first = threading.Thread(target=call, args=("slow one",))
    first.start()
    time.sleep(0.3)
    second = threading.Thread(target=call, args=("fast one",))
    second.start()
    first.join(60)
    second.join(60)
    assert results == {"slow one": "slow answer", "fast one": "echo: fast one"}
    assert len(set(turn_ids)) == 2


def test_failed_model_turn(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.add(http_error(500))
    with pytest.raises(CodexTurnFailedError) as info:
        codex_client.chat_once("fail please")
    assert info.value.codex_error_info == "internalServerError"
    scripted_model.add(failed("model exploded"))
    with pytest.raises(CodexTurnFailedError, match="model exploded"):
        codex_client.chat_once("fail again", thread_id=info.value.thread_id)
    assert codex_client.chat_once("recover", thread_id=info.value.thread_id).final_text == "echo: recover"


def test_steer_a_running_turn(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on("hang please", hang(30))
    stream = codex_client.chat("hang please")
    assert next(stream).step_type == "userMessage"
    scripted_model.wait_for_requests(1, timeout=10)
    assert stream.steer("better idea") == stream.turn_id
    rest = list(stream)
    assert rest[-1].step_type == "codex" and rest[-1].text == "echo: better idea"


def test_interrupt_turn(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on("hang please", hang(30))
    stream = codex_client.chat("hang please")
    next(stream)
    codex_client.interrupt_turn(stream.turn_id)
    with pytest.raises(CodexTurnInterruptedError):
        list(stream)


def test_review(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    thread_id = codex_client.chat_once("hello").thread_id
    scripted_model.add(text("Looks fine to me."))
    # review() is the stream start_review() returned before (start_review now returns the raw result)
    steps = list(codex_client.review(thread_id=thread_id, target={"type": "custom", "instructions": "check"}))
    types = [s.step_type for s in steps]
    assert "enteredReviewMode" in types and "exitedReviewMode" in types


def test_start_review_returns_the_raw_result_and_keeps_the_turn(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    thread_id = codex_client.chat_once("hello").thread_id
    scripted_model.add(text("Looks fine to me.", delay=0.3))
    result = codex_client.start_review(thread_id=thread_id, target={"type": "custom", "instructions": "check"})
    assert isinstance(result, dict) and result["turn"]["status"] == "inProgress"
    review_turn = result["turn"]["id"]
    # the review still runs: this client's next turn on the thread waits for it to end
    assert codex_client.chat_once("after the review", thread_id=thread_id).final_text == "echo: after the review"
    turns = codex_client.read_thread(thread_id)["thread"]["turns"]
    assert [t["id"] for t in turns].index(review_turn) == len(turns) - 2
    # and its steps are still there to read, from the start
    steps = list(codex_client.chat(continuation=ChatContinuation(thread_id, review_turn)))
    assert "exitedReviewMode" in [s.step_type for s in steps]


def test_a_thread_busy_with_an_abandoned_turn_times_out_instead_of_hanging(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    scripted_model.on("hang please", hang(30))
    with pytest.raises(CodexTurnInactiveError) as info:
        codex_client.chat_once("hang please", inactivity_timeout=0.5)  # then abandoned
    started = time.monotonic()
    with pytest.raises(CodexTimeoutError, match="busy with turn"):
        codex_client.chat_once("next", thread_id=info.value.continuation.thread_id, inactivity_timeout=0.5)
    assert time.monotonic() - started < 3
    codex_client.cancel(info.value.continuation)
    assert codex_client.chat_once("next", thread_id=info.value.continuation.thread_id).final_text == "echo: next"


def test_each_delta_reaches_on_delta_once_across_chat_once_continuations(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    scripted_model.on("stream slowly", text("one two three four", deltas=["one ", "two ", "three ", "four"],
                                            delay=0.4))
    live: List[str] = []
    continuation = None
    timeouts = 0
    while True:
        try:
            if continuation is None:
                result = codex_client.chat_once("stream slowly", inactivity_timeout=0.25,
                                                on_delta=lambda d: live.append(d.delta))
            else:
                result = codex_client.chat_once(continuation=continuation, inactivity_timeout=0.25,
                                                on_delta=lambda d: live.append(d.delta))
            break
        except CodexTurnInactiveError as exc:
            timeouts += 1
            continuation = exc.continuation
    assert timeouts >= 2
    assert "".join(live) == result.final_text == "one two three four"
