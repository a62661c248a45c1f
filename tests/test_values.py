"""The values handed back: the raw events of a turn read as the async SDK's list."""

from __future__ import annotations

import json

import pytest

from codex_sync import ChatResult
from codex_sync.protocol import DeltaRun
from codex_sync.transcript import RawEvents


def test_raw_events_read_like_the_async_sdks_list() -> None:
    first = {"method": "turn/started", "params": {"threadId": "T"}}
    line = b'{"method":"item/agentMessage/delta","params":{"threadId":"T","delta":"x"}}\n'
    run = DeltaRun(line)
    run.lines.append(line.decode().replace('"x"', '"y"'))  # a websocket frame is text
    events = RawEvents([first, run, {"method": "turn/completed", "params": {}}])
    assert len(events) == 4
    assert events[1] == {"method": "item/agentMessage/delta", "params": {"threadId": "T", "delta": "x"}}
    assert events[2]["params"]["delta"] == "y"
    assert events[1] is events[1]  # parsed once
    assert events[-1]["method"] == "turn/completed"
    assert events[1:] == [events[1], events[2], events[3]] and isinstance(events[1:], list)
    assert [e["method"] for e in events] == ["turn/started", "item/agentMessage/delta",
                                             "item/agentMessage/delta", "turn/completed"]
    assert events == list(events) and events != list(events)[:2]
    assert first in events
    assert json.loads(json.dumps(list(events))) == list(events)
    with pytest.raises(IndexError):
        events[4]
    with pytest.raises(TypeError):
        hash(events)


def test_raw_events_are_a_snapshot_of_a_run_that_goes_on() -> None:
    run = DeltaRun('{"method":"item/agentMessage/delta","params":{"delta":"a"}}')
    events = RawEvents([run])
    run.lines.append('{"method":"item/agentMessage/delta","params":{"delta":"b"}}')
    assert [e["params"]["delta"] for e in events] == ["a"]
    assert [e["params"]["delta"] for e in RawEvents([run])] == ["a", "b"]


def test_a_broken_line_reads_as_itself() -> None:
    events = RawEvents([DeltaRun(b'{"method":"item/agentMessage/delta","params":{"delta":"\xff')])
    assert events[0]["params"] == {} and events[0]["method"] is None
    assert events[0]["line"].startswith('{"method":"item/agentMessage/delta"')


def test_a_results_raw_events_become_a_list_when_first_read() -> None:
    run = DeltaRun('{"method":"item/agentMessage/delta","params":{"delta":"a"}}')
    result = ChatResult(thread_id="T", turn_id="U", final_text="a", raw_events=RawEvents([run]),
                        assistant_item_id="m", completion_source="item_completed", steps=[])
    assert not isinstance(result.__dict__["_lazy_raw_events"], list)  # nothing parsed yet
    events = result.raw_events
    assert isinstance(events, list) and events == [{"method": "item/agentMessage/delta", "params": {"delta": "a"}}]
    assert result.raw_events is events  # parsed once
    assert json.loads(result.model_dump_json())["raw_events"] == events
    plain = ChatResult(thread_id="T", turn_id="U", final_text="a", raw_events=({"method": "x"},),
                       assistant_item_id=None, completion_source="item_completed", steps=())
    assert plain.raw_events == [{"method": "x"}] and plain.steps == []
