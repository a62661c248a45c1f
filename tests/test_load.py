"""Load and soak against the real server: every answer right, resources flat."""

from __future__ import annotations

import os
import threading
import time
from typing import Dict, List, Tuple

import pytest

from codex_sync import CodexClient
from codex_sync.testing import AppServer, ScriptedModel

pytestmark = pytest.mark.real_server


def _run_workers(client: CodexClient, workers: int, turns: int) -> Tuple[Dict[str, str], List[BaseException]]:
    answers: Dict[str, str] = {}
    errors: List[BaseException] = []

    def worker(n: int) -> None:
        thread_id = None
        try:
            for k in range(turns):
                prompt = f"w{n} t{k}"
                result = client.chat_once(prompt, thread_id=thread_id)
                thread_id = result.thread_id
                answers[prompt] = result.final_text
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return answers, errors


def test_64_threads_x_20_turns_over_one_client(stdio_app_server: AppServer) -> None:
    with stdio_app_server.client(request_timeout=120) as client:
        started = time.monotonic()
        answers, errors = _run_workers(client, 64, 20)
        elapsed = time.monotonic() - started
    assert not errors, errors[:3]
    assert answers == {f"w{n} t{k}": f"echo: w{n} t{k}" for n in range(64) for k in range(20)}
    print(f"\n64 threads x 20 turns: {len(answers)} turns in {elapsed:.1f}s ({len(answers) / elapsed:.0f} turns/s)")


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _sample() -> Tuple[int, int, int]:
    return threading.active_count(), len(os.listdir("/proc/self/fd")), _rss_kib()


def _soak(server: AppServer, model: ScriptedModel, seconds: float) -> None:
    with server.client() as client:
        _run_workers(client, 4, 3)  # warm up: caches, thread pools, first allocations
        model.clear_requests()  # the fake model records every prompt: not the client's memory
        before = _sample()
        deadline = time.monotonic() + seconds
        rounds = 0
        while time.monotonic() < deadline:
            answers, errors = _run_workers(client, 4, 5)
            assert not errors and len(answers) == 20
            model.clear_requests()
            rounds += 1
        after = _sample()
    print(f"\nsoak {seconds:.0f}s, {rounds * 20} turns: threads {before[0]}->{after[0]}, "
          f"fds {before[1]}->{after[1]}, RSS {before[2] / 1024:.1f}->{after[2] / 1024:.1f} MiB")
    assert after[0] == before[0]
    assert after[1] <= before[1] + 2
    assert after[2] - before[2] < 30 * 1024  # KiB


def test_short_soak_keeps_threads_fds_and_memory_flat(stdio_app_server: AppServer, scripted_model: ScriptedModel) -> None:
    _soak(stdio_app_server, scripted_model, float(os.environ.get("CODEX_SYNC_SOAK_SECONDS", "15")))


@pytest.mark.slow
def test_two_minute_soak(stdio_app_server: AppServer, scripted_model: ScriptedModel) -> None:
    _soak(stdio_app_server, scripted_model, 120.0)
