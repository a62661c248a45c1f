"""The workloads, each run through ``codex_sync`` and through the floor (``RawPipe``).

Every function returns a plain dict (JSON-ready) of raw samples and medians;
``run.py`` turns those into the table and checks the targets.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from benchmarks.common import HERE, Clock, RawPipe, Stopwatch, ThreadedPipe, median, server_argv
from codex_sync import CodexClient, CodexTurnInactiveError

JsonDict = Dict[str, Any]


def _connect(argv: List[str]) -> CodexClient:
    client = CodexClient.connect_stdio(argv, request_timeout=120.0)
    client.start()
    client.initialize()
    return client


def _summary(clocks: List[Clock]) -> JsonDict:
    return {
        "wall_s": median([c.wall for c in clocks]),
        "cpu_s": median([c.cpu for c in clocks]),
        "switches": median([float(c.switches) for c in clocks]),
        "wall_samples_s": [round(c.wall, 6) for c in clocks],
        "cpu_samples_s": [round(c.cpu, 6) for c in clocks],
    }


# -- 1. flood ------------------------------------------------------------------
def flood(repeats: int, deltas: int, items: int) -> JsonDict:
    """One turn of ``deltas`` delta notifications and ``items`` agentMessages, client vs floor.

    ``client`` is plain ``chat_once`` (nobody asks for the deltas);
    ``client_on_delta`` is ``chat_once(on_delta=...)``, which must see every
    delta. Client and floor runs alternate (after one warm-up turn each) so
    that drift on the machine hits all three alike.
    """
    argv = server_argv(deltas=deltas, items=items)
    client = _connect(argv)
    floor = RawPipe(argv)
    threaded = ThreadedPipe(argv)
    clocks: Dict[str, List[Clock]] = {"client": [], "client_on_delta": [], "floor": [], "floor_threaded": []}
    seen: List[int] = []

    def on_delta(delta: Any) -> None:
        seen.append(1)

    def client_turn(with_deltas: bool) -> Clock:
        seen.clear()
        gc.collect()
        with Stopwatch() as sw:
            result = client.chat_once("flood", thread_id=thread_id,
                                      on_delta=on_delta if with_deltas else None)
        if len(result.steps) != items + 1 or not result.final_text:
            raise AssertionError(f"flood: {len(result.steps)} steps, not {items + 1} (user + agent)")
        if with_deltas and len(seen) != deltas:
            raise AssertionError(f"flood: on_delta saw {len(seen)} deltas, not {deltas}")
        return sw.clock

    try:
        thread_id = client.start_thread().thread_id
        floor_thread = floor.handshake()
        threaded_thread = threaded.handshake()
        client_turn(False)  # warm-up
        client_turn(True)
        lines = floor.run_turn(floor_thread, "flood")
        threaded.run_turn(threaded_thread, "flood")
        for _ in range(repeats):
            clocks["client"].append(client_turn(False))
            clocks["client_on_delta"].append(client_turn(True))
            for name, pipe, tid in (("floor", floor, floor_thread), ("floor_threaded", threaded, threaded_thread)):
                gc.collect()
                with Stopwatch() as sw:
                    count = pipe.run_turn(tid, "flood")
                clocks[name].append(sw.clock)
                if count != lines:
                    raise AssertionError(f"flood: {name} read {count} lines, not {lines}")
    finally:
        client.close()
        floor.close()
        threaded.close()
    out: JsonDict = {"deltas": deltas, "items": items, "repeats": repeats, "lines_per_turn": lines}
    for name, samples in clocks.items():
        out[name] = _summary(samples)
    out["ratio_wall"] = out["client"]["wall_s"] / out["floor"]["wall_s"]
    out["ratio_cpu"] = out["client"]["cpu_s"] / out["floor"]["cpu_s"]
    out["on_delta_ratio_wall"] = out["client_on_delta"]["wall_s"] / out["floor"]["wall_s"]
    out["on_delta_ratio_cpu"] = out["client_on_delta"]["cpu_s"] / out["floor"]["cpu_s"]
    out["floor_threaded_ratio_wall"] = out["floor_threaded"]["wall_s"] / out["floor"]["wall_s"]
    return out


# -- 2. round trip ---------------------------------------------------------------
def round_trip(count: int, repeats: int) -> JsonDict:
    """``count`` sequential ``thread/list`` requests, client vs floor (write a line, read one)."""
    argv = server_argv(deltas=1, items=1)
    client = _connect(argv)
    floor = RawPipe(argv)
    threaded = ThreadedPipe(argv)
    clocks: Dict[str, List[Clock]] = {"client": [], "floor": [], "floor_threaded": []}
    calls: Dict[str, Callable[[], Any]] = {
        "client": lambda: client.request("thread/list", {}),
        "floor": lambda: floor.call("thread/list", {}),
        "floor_threaded": lambda: threaded.call("thread/list", {}),
    }
    try:
        floor.handshake()
        threaded.handshake()
        for call in calls.values():  # warm-up
            for _ in range(200):
                call()
        for _ in range(repeats):
            for name, call in calls.items():
                gc.collect()
                with Stopwatch() as sw:
                    for _ in range(count):
                        call()
                clocks[name].append(sw.clock)
    finally:
        client.close()
        floor.close()
        threaded.close()
    out: JsonDict = {"requests": count, "repeats": repeats}
    for name, samples in clocks.items():
        out[name] = _summary(samples)
        out[name]["us_per_request"] = out[name]["wall_s"] / count * 1e6
    out["ratio_wall"] = out["client"]["wall_s"] / out["floor"]["wall_s"]
    out["ratio_cpu"] = out["client"]["cpu_s"] / out["floor"]["cpu_s"]
    out["floor_threaded_ratio_wall"] = out["floor_threaded"]["wall_s"] / out["floor"]["wall_s"]
    out["client_over_threaded_wall"] = out["client"]["wall_s"] / out["floor_threaded"]["wall_s"]
    return out


# -- 3. many threads ---------------------------------------------------------------
def _worker(
    client: CodexClient, thread_id: str, turns: int, start: threading.Barrier, errors: List[str]
) -> None:
    start.wait()
    for n in range(turns):
        marker = f"{uuid.uuid4().hex[:12]}-{n}"
        try:
            result = client.chat_once(f"small:{marker}", thread_id=thread_id)
        except Exception as exc:  # counted, never fatal: the benchmark reports them
            errors.append(f"{thread_id} turn {n}: {exc!r}")
            continue
        if result.final_text != f"answer to {marker}" or result.thread_id != thread_id:
            errors.append(f"{thread_id} turn {n}: got {result.final_text!r} on {result.thread_id}")


def many_threads(thread_counts: List[int], total_turns: int, repeats: int) -> JsonDict:
    """``n`` Python threads over one client, each on its own codex thread, ``total_turns / n`` small turns each.

    The total is the same for every ``n`` so that each measurement lasts long
    enough; the median of ``repeats`` runs is reported.
    """
    runs: List[JsonDict] = []
    argv = server_argv(deltas=1, items=1, small_deltas=5)
    for n in thread_counts:
        turns_each = max(1, total_turns // n)
        samples: List[JsonDict] = []
        for _ in range(repeats):
            samples.append(_many_threads_once(argv, n, turns_each))
        best = sorted(samples, key=lambda r: r["turns_per_s"])[len(samples) // 2]
        best["errors"] = sum(r["errors"] for r in samples)
        best["turns_per_s_samples"] = [round(r["turns_per_s"], 1) for r in samples]
        runs.append(best)
    return {"total_turns": total_turns, "repeats": repeats, "runs": runs,
            "floor": _small_turns_floor(argv, total_turns, repeats)}


def _small_turns_floor(argv: List[str], turns: int, repeats: int) -> JsonDict:
    """The same small turns, one after another, by hand on one thread (``RawPipe``)."""
    pipe = RawPipe(argv)
    clocks: List[Clock] = []
    try:
        thread_id = pipe.handshake()
        pipe.run_turn(thread_id, "small:warm-up")
        for _ in range(repeats):
            gc.collect()
            with Stopwatch() as sw:
                for n in range(turns):
                    pipe.run_turn(thread_id, f"small:{n}")
            clocks.append(sw.clock)
    finally:
        pipe.close()
    out = _summary(clocks)
    out["turns"] = turns
    out["turns_per_s"] = turns / out["wall_s"]
    out["cpu_us_per_turn"] = out["cpu_s"] / turns * 1e6
    return out


def _many_threads_once(argv: List[str], n: int, turns_each: int) -> JsonDict:
    client = _connect(argv)
    try:
        thread_ids = [client.start_thread().thread_id for _ in range(n)]
        client.chat_once("small:warm-up", thread_id=thread_ids[0])
        errors: List[str] = []
        start = threading.Barrier(n + 1)
        workers = [
            threading.Thread(target=_worker, args=(client, tid, turns_each, start, errors), daemon=True)
            for tid in thread_ids
        ]
        for w in workers:
            w.start()
        gc.collect()
        with Stopwatch() as sw:
            start.wait()
            for w in workers:
                w.join()
    finally:
        client.close()
    total = n * turns_each
    return {
        "threads": n,
        "turns_each": turns_each,
        "turns": total,
        "wall_s": sw.clock.wall,
        "cpu_s": sw.clock.cpu,
        "turns_per_s": total / sw.clock.wall,
        "errors": len(errors),
        "first_errors": errors[:5],
    }


# -- 4. idle -------------------------------------------------------------------------
def idle(seconds: float) -> JsonDict:
    """CPU burnt while ``chat_once`` waits ``seconds`` on a turn that says nothing."""
    client = _connect(server_argv(deltas=1, items=1))
    try:
        thread_id = client.start_thread().thread_id
        before = resource.getrusage(resource.RUSAGE_SELF)
        raised = False
        continuation = None
        with Stopwatch() as sw:
            try:
                client.chat_once("silent", thread_id=thread_id, inactivity_timeout=seconds)
            except CodexTurnInactiveError as exc:
                raised = True
                continuation = exc.continuation
        after = resource.getrusage(resource.RUSAGE_SELF)
        if continuation is not None:
            client.cancel(continuation)
    finally:
        client.close()
    return {
        "seconds": seconds,
        "wall_s": sw.clock.wall,
        "cpu_s": sw.clock.cpu,
        "core_percent": 100.0 * sw.clock.cpu / sw.clock.wall,
        "voluntary_switches": after.ru_nvcsw - before.ru_nvcsw,
        "involuntary_switches": after.ru_nivcsw - before.ru_nivcsw,
        "raised_inactive": raised,
    }


# -- 5. big message -----------------------------------------------------------------------
def _big_in_subprocess(mode: str, size: int) -> JsonDict:
    proc = subprocess.run(
        [sys.executable, str(HERE / "big_worker.py"), "--mode", mode, "--size", str(size)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"big_worker {mode} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: JsonDict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def big_message(size: int, repeats: int) -> JsonDict:
    """One ``size``-byte agentMessage line, each run in a fresh process (peak RSS is per process)."""
    client_runs = [_big_in_subprocess("client", size) for _ in range(repeats)]
    floor_runs = [_big_in_subprocess("floor", size) for _ in range(repeats)]

    def pick(runs: List[JsonDict]) -> JsonDict:
        return {
            "wall_s": median([r["wall_s"] for r in runs]),
            "cpu_s": median([r["cpu_s"] for r in runs]),
            "peak_growth_bytes": median([r["peak_growth_bytes"] for r in runs]),
            "peak_over_size": median([r["peak_growth_bytes"] for r in runs]) / size,
            "peak_method": runs[0]["peak_method"],
            "samples": runs,
        }

    out: JsonDict = {"size_bytes": size, "repeats": repeats, "client": pick(client_runs),
                     "floor": pick(floor_runs)}
    out["ratio_wall"] = out["client"]["wall_s"] / out["floor"]["wall_s"]
    return out


def run_all(
    *,
    quick: bool,
    only: Optional[List[str]] = None,
) -> JsonDict:
    """Every codex_sync workload with the sizes of a full or a ``--quick`` run."""
    repeats = 3 if quick else 9
    plan: Dict[str, Callable[[], JsonDict]] = {
        "flood": lambda: flood(repeats, 20_000, 200),
        "round_trip": lambda: round_trip(2_000, repeats),
        "many_threads": lambda: many_threads([1, 8, 64], 640 if quick else 3200, 1 if quick else 5),
        "idle": lambda: idle(2.0 if quick else 5.0),
        "big_message": lambda: big_message(50 * 1024 * 1024, 1 if quick else 3),
    }
    results: JsonDict = {}
    for name, job in plan.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        load = os.getloadavg()[0]
        print(f"  running {name} (load average {load:.2f}) ...", file=sys.stderr, flush=True)
        results[name] = job()
        results[name]["elapsed_s"] = time.perf_counter() - started
        results[name]["loadavg_1min_at_start"] = load
    return results
