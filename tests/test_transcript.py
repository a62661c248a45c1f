"""The transcript of a turn, folded from events with no server and no thread."""

from __future__ import annotations

from typing import Any, Dict, List

from codex_sync.errors import (
    CodexProtocolError,
    CodexTransportError,
    CodexTurnFailedError,
    CodexTurnInterruptedError,
)
from codex_sync.protocol import DeltaRun, Notification
from codex_sync.transcript import RawEvents, Transcript, ending_error, final_text_of_turn
from codex_sync.turns import RequestEvent
from codex_sync.values import TextDelta


def _n(method: str, **params: Any) -> Notification:
    params.setdefault("threadId", "T")
    return Notification(method, params, {"method": method, "params": params})


def _item(item_type: str, item_id: str, **fields: Any) -> Notification:
    return _n("item/completed", turnId="U", item={"type": item_type, "id": item_id, **fields})


def test_fold_makes_steps_keeps_raw_events_and_follows_the_last_answer() -> None:
    t = Transcript("T", "U")
    events = [
        _n("turn/started", turnId="U", turn={"id": "U"}),
        _item("reasoning", "r1", summary=["thinking it over"], content=[]),
        _item("agentMessage", "m1", text="first"),
        _item("commandExecution", "c1", command="ls", aggregatedOutput="a\n", status="completed"),
        _item("agentMessage", "m2", text="  final  "),
    ]
    steps = [t.fold(e) for e in events]
    assert steps[0] is None
    assert [s.step_type for s in steps[1:] if s is not None] == ["thinking", "codex", "exec", "codex"]
    assert [s.item_id for s in t.steps] == ["r1", "m1", "c1", "m2"]
    assert len(t.raw_events) == len(events) and t.raw_events[0]["method"] == "turn/started"
    assert t.assistant_item_id == "m2"
    assert t.final_text is not None and t.final_text.strip() == "final"


def test_events_of_another_turn_are_ignored_entirely() -> None:
    t = Transcript("T", "U")
    assert t.fold(_n("item/completed", turnId="OTHER", item={"type": "agentMessage", "id": "x", "text": "no"})) is None
    assert t.steps == [] and t.raw_events == [] and t.final_text is None


def test_deltas_reach_the_callback_in_order_and_are_not_steps() -> None:
    t = Transcript("T", "U")
    got: List[TextDelta] = []
    for piece in ("Hel", "lo"):
        assert t.fold(_n("item/agentMessage/delta", turnId="U", itemId="m1", delta=piece), got.append) is None
    t.fold(_n("item/agentMessage/delta", turnId="U", itemId="m1", delta="unseen"))  # no callback: dropped
    assert [(d.kind, d.item_id, d.delta) for d in got] == [("codex", "m1", "Hel"), ("codex", "m1", "lo")]
    assert t.steps == [] and len(t.raw_events) == 3


def test_a_run_of_kept_delta_lines_is_decoded_only_for_a_reader_with_on_delta() -> None:
    line = '{"method":"item/agentMessage/delta","params":{"threadId":"T","turnId":"U","itemId":"m1","delta":"%s"}}'
    run = DeltaRun((line % "Hel").encode())
    run.lines.append(line % "lo")
    run.lines.append(b"{broken")
    plain = Transcript("T", "U")
    assert plain.fold(run) is None and plain.raw_events == [run]  # kept as it is: nothing parsed
    got: List[TextDelta] = []
    live = Transcript("T", "U")
    assert live.fold(run, got.append) is None
    assert [d.delta for d in got] == ["Hel", "lo"]  # the broken line is skipped
    assert [e["params"]["delta"] for e in RawEvents(live.raw_events)] == ["Hel", "lo"]
    assert [e["params"].get("delta") for e in RawEvents(plain.raw_events)] == ["Hel", "lo", None]


def test_usage_sums_every_report_and_keeps_the_last_total() -> None:
    t = Transcript("T", "U")
    assert t.usage is None
    for n in (1, 2):
        t.fold(_n("thread/tokenUsage/updated", turnId="U", tokenUsage={
            "last": {"inputTokens": 10 * n, "outputTokens": n, "totalTokens": 11 * n},
            "total": {"totalTokens": 100 * n}, "modelContextWindow": 1000,
        }))
    usage = t.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (30, 3, 33)
    assert usage.thread_total_tokens == 200 and usage.model_context_window == 1000


def test_only_errors_the_server_will_not_retry_are_kept() -> None:
    t = Transcript("T", "U")
    t.fold(_n("error", turnId="U", willRetry=True, error={"message": "Reconnecting... 1/5"}))
    assert t.last_error is None
    t.fold(_n("error", turnId="U", willRetry=False, error={"message": "quota exceeded"}))
    assert t.last_error == {"message": "quota exceeded"}


def test_a_request_left_for_a_manual_answer_becomes_an_approval_step() -> None:
    class Request:
        method = "item/commandExecution/requestApproval"
        params: Dict[str, Any] = {"threadId": "T", "turnId": "U", "itemId": "c1"}

        def describe(self) -> str:
            return "run `ls`"

    t = Transcript("T", "U")
    step = t.fold(RequestEvent(Request()))
    assert step is not None and step.step_type == "approval" and step.text == "run `ls`"
    assert step.item_id == "c1" and step.request is not None


def test_ending_error_says_how_the_turn_ended() -> None:
    t = Transcript("T", "U")
    assert ending_error(t, "completed", None, None) is None
    failed = ending_error(t, "failed", {"message": "boom", "codexErrorInfo": "other"}, None)
    assert isinstance(failed, CodexTurnFailedError) and "boom" in str(failed)
    t.last_error = {"message": "from the error notification"}
    assert "from the error notification" in str(ending_error(t, "failed", None, None))
    assert isinstance(ending_error(t, "interrupted", None, None), CodexTurnInterruptedError)
    died = CodexTransportError("gone", exit_code=3, stderr_tail="tail")
    lost = ending_error(t, None, None, died)
    assert isinstance(lost, CodexTransportError) and lost.exit_code == 3 and lost.__cause__ is died
    # a connection that died after turn/completed does not change how the turn ended
    assert ending_error(t, "completed", None, died) is None


def test_final_text_of_turn_reads_the_last_agent_message_of_that_turn() -> None:
    result = {"thread": {"turns": [
        {"id": "A", "items": [{"type": "agentMessage", "text": "old"}]},
        {"id": "U", "items": [{"type": "agentMessage", "text": "one"}, {"type": "reasoning"},
                              {"type": "agentMessage", "text": "two"}, {"type": "agentMessage", "text": ""}]},
    ]}}
    assert final_text_of_turn(result, "U") == "two"
    assert final_text_of_turn(result, "missing") is None
    assert final_text_of_turn({"thread": None}, "U") is None


def test_a_turn_that_ended_without_turn_completed_never_passes_for_completed() -> None:
    t = Transcript("T", "U")
    refused = CodexProtocolError("turn/start refused", code=-32600)
    assert ending_error(t, None, None, None, refused) is refused
    error = ending_error(t, None, None, None)
    assert isinstance(error, CodexProtocolError) and "ended without turn/completed" in str(error)
    assert ending_error(t, "completed", None, None, refused) is None  # it did complete
