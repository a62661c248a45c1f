"""TurnState's hand-off: the reader appends without the lock, waiters are never left asleep.

The wait slice is raised to 60 s here, so a lost wake-up would stall a wait
for a minute instead of a quarter of a second, and the test's 20 s budget
catches it. The interpreter is asked to switch threads every microsecond
meanwhile, so the reader and the waiters interleave as finely as it allows.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import Iterator, List

import pytest

from codex_sync import turns
from codex_sync.protocol import DeltaRun, Notification
from codex_sync.turns import TurnState

EVENTS = 3000


def _event(n: int, method: str = "item/agentMessage/delta") -> Notification:
    params = {"threadId": "T", "turnId": "U", "delta": str(n)}
    return Notification(method, params, {"method": method, "params": params})


@pytest.fixture
def long_slices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(turns, "wait_slice", lambda: 60.0)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads between almost any two bytecodes: races show
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.usefixtures("long_slices")
@pytest.mark.parametrize("waiters", [1, 3])
def test_every_event_reaches_every_waiter_without_a_lost_wake_up(waiters: int) -> None:
    state = TurnState("T", lambda s: None)
    state.turn_id = "U"
    seen: List[List[str]] = [[] for _ in range(waiters)]

    def wait_and_read(out: List[str]) -> None:
        cursor = 0
        while True:
            assert state.wait_beyond(cursor, deadline=None)
            while cursor < len(state.events):
                message = state.events[cursor]
                cursor += 1
                if message.method == "turn/completed":
                    return
                out.append(message.params["delta"])

    threads = [threading.Thread(target=wait_and_read, args=(out,), daemon=True) for out in seen]
    for thread in threads:
        thread.start()
    rng = random.Random(7)
    started = time.monotonic()
    for n in range(EVENTS):  # bursts and pauses, so waiters are caught both awake and asleep
        assert state.deliver(_event(n))
        if rng.random() < 0.2:
            time.sleep(rng.choice([0, 0.0001, 0.001]))
    assert state.deliver(_event(EVENTS, "turn/completed"))
    for thread in threads:
        thread.join(timeout=20 - (time.monotonic() - started))
        assert not thread.is_alive(), "a waiter slept through an event"
    expected = [str(n) for n in range(EVENTS)]
    assert all(out == expected for out in seen)
    assert state.finished and state.status == "completed"


@pytest.mark.usefixtures("long_slices")
def test_an_event_right_as_the_waiter_goes_to_sleep_still_wakes_it() -> None:
    # Each event is sent just as the waiter has read the previous one and is
    # on its way back into wait_beyond, after a random few microseconds: the
    # window between its check and its sleep.
    state = TurnState("T", lambda s: None)
    state.turn_id = "U"
    read = [0]

    def wait_and_read() -> None:
        cursor = 0
        while True:
            assert state.wait_beyond(cursor, deadline=None)
            while cursor < len(state.events):
                if state.events[cursor].method == "turn/completed":
                    return
                cursor += 1
                read[0] = cursor

    waiter = threading.Thread(target=wait_and_read, daemon=True)
    waiter.start()
    rng = random.Random(11)
    started = time.monotonic()
    for n in range(EVENTS):
        while read[0] < n:
            assert time.monotonic() - started < 20, f"the waiter slept through event {n - 1}"
            time.sleep(0)
        spin_until = time.perf_counter() + rng.random() * 20e-6
        while time.perf_counter() < spin_until:
            pass
        state.deliver(_event(n))
    state.deliver(_event(EVENTS, "turn/completed"))
    waiter.join(timeout=20)
    assert not waiter.is_alive() and read[0] == EVENTS


@pytest.mark.usefixtures("long_slices")
def test_a_reader_parked_on_a_run_of_delta_lines_never_sleeps_through_one() -> None:
    # As above, for the lines a reader with on_delta waits for: each kept
    # unparsed (take_raw_delta) while the reader is on its way back to sleep.
    state = TurnState("T", lambda s: None)
    state.turn_id = "U"
    state.wants_deltas = True
    read = [0]

    def wait_and_read() -> None:
        while not state.events:
            assert state.wait_beyond(0, deadline=None)
        while True:
            run = state.events[0]
            assert isinstance(run, DeltaRun)
            read[0] = len(run.lines)
            if len(state.events) > 1:
                return
            assert state.wait_beyond_run(0, read[0], deadline=None)

    waiter = threading.Thread(target=wait_and_read, daemon=True)
    waiter.start()
    rng = random.Random(13)
    started = time.monotonic()
    for n in range(EVENTS):
        while read[0] < n:
            assert time.monotonic() - started < 20, f"the reader slept through line {n - 1}"
            time.sleep(0)
        spin_until = time.perf_counter() + rng.random() * 20e-6
        while time.perf_counter() < spin_until:
            pass
        assert state.take_raw_delta(b'{"method":"item/agentMessage/delta","params":{"threadId":"T"}}')
    state.deliver(_event(EVENTS, "turn/completed"))
    waiter.join(timeout=20)
    assert not waiter.is_alive() and read[0] == EVENTS


@pytest.mark.usefixtures("long_slices")
def test_a_waiter_for_the_end_wakes_when_the_turn_completes() -> None:
    state = TurnState("T", lambda s: None)
    state.turn_id = "U"
    done = threading.Event()

    def wait_for_end() -> None:
        assert state.wait_finished(deadline=None)
        done.set()

    thread = threading.Thread(target=wait_for_end, daemon=True)
    thread.start()
    for n in range(50):
        state.deliver(_event(n))
    assert not done.wait(0.05)  # ordinary events do not end the wait
    state.deliver(_event(50, "turn/completed"))
    assert done.wait(20)


def test_turn_completed_of_another_turn_before_ours_is_known_does_not_end_it() -> None:
    state = TurnState("T", lambda s: None)
    late = _event(0, "turn/completed")
    late.params["turnId"] = "an-older-turn"
    assert state.deliver(late)  # kept among the events, as before this turn's id is known
    assert not state.finished
    state.set_turn_id("U")
    assert state.deliver(_event(1, "turn/completed"))
    assert state.finished
    assert not state.deliver(_event(2))  # nothing after the end
