"""A client that lives for days: it keeps only a bounded number of threads subscribed on the server."""

from __future__ import annotations

import gc
import time
from typing import List, Tuple

import pytest

from codex_sync import CodexClient
from codex_sync.testing import AppServer


def _loaded_on_server(client: CodexClient) -> int:
    return len(client.request("thread/loaded/list", {"limit": 10_000})["data"])


def _wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(condition())


def test_threads_over_the_limit_are_unsubscribed_and_an_old_one_still_takes_turns(codex_client: CodexClient) -> None:
    codex_client._turns.max_loaded_threads = 3
    first = codex_client.chat_once("thread 0").thread_id
    for n in range(1, 8):
        assert codex_client.chat_once(f"thread {n}").final_text == f"echo: thread {n}"
    # the janitor unsubscribes in the background: this client follows at most 3 (+1 just started)
    assert _wait_for(lambda: codex_client._session.loaded_count() <= 4, 10), codex_client._session.loaded_count()
    assert not codex_client._session.is_loaded(first)
    # the oldest thread is resumed under its turn's claim: answers and history intact
    again = codex_client.chat_once("back again", thread_id=first)
    assert again.final_text == "echo: back again" and again.thread_id == first
    turns = codex_client.read_thread(first)["thread"]["turns"]
    assert [t["status"] for t in turns] == ["completed", "completed"]


def test_a_thread_without_turns_is_never_unsubscribed(codex_client: CodexClient) -> None:
    codex_client._turns.max_loaded_threads = 1
    empty = codex_client.start_thread().thread_id  # no rollout yet: could not be loaded again
    for n in range(3):
        codex_client.chat_once(f"busy {n}")
    time.sleep(0.5)
    assert codex_client._session.is_loaded(empty)
    assert codex_client.chat_once("first turn at last", thread_id=empty).final_text == "echo: first turn at last"


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_soak_2000_one_turn_threads_keep_the_server_and_the_client_flat(stdio_app_server: AppServer) -> None:
    samples: List[Tuple[int, int, int]] = []  # (threads made, loaded on the server, client RSS KiB)
    with stdio_app_server.client(request_timeout=60, max_loaded_threads=50) as client:
        for n in range(2000):
            assert client.chat_once(f"request {n}").final_text == f"echo: request {n}"
            if n % 250 == 0 or n == 1999:
                gc.collect()
                samples.append((n + 1, _loaded_on_server(client), _rss_kib()))
        print("\nthreads made, loaded on the server, client RSS (KiB):")
        for row in samples:
            print(f"  {row[0]:5d} {row[1]:5d} {row[2]:8d}")
    assert max(loaded for _, loaded, _ in samples) <= 60
    early = samples[2][2]  # after warm-up
    assert samples[-1][2] - early < 20 * 1024, "client memory grew with the threads made"
