"""Measure one big-message turn in a fresh process (peak RSS is a per-process mark).

Run as ``python big_worker.py --mode client|floor --size BYTES``; prints one
JSON line: wall and CPU time from ``turn/start`` to the answer, and how far
the peak RSS rose above the RSS just before the turn.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
from pathlib import Path
from typing import Any, Dict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RawPipe, Stopwatch, proc_status, reset_peak_rss, server_argv  # noqa: E402


def _peak_before() -> Dict[str, Any]:
    gc.collect()
    rss = proc_status("VmRSS")
    if rss is not None and reset_peak_rss() and (proc_status("VmHWM") or 0) <= rss + 4 * 1024 * 1024:
        return {"method": "VmHWM after clear_refs=5", "base": rss}
    # No reset: ru_maxrss (KiB on Linux) only grows, so measure from the peak so far.
    return {"method": "ru_maxrss", "base": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _peak_after(before: Dict[str, Any]) -> int:
    if before["method"] == "ru_maxrss":
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    else:
        peak = proc_status("VmHWM") or 0
    return int(peak - before["base"])


def run_client(size: int) -> Dict[str, Any]:
    from codex_sync import CodexClient

    with CodexClient.connect_stdio(server_argv(deltas=1, items=1, big=size), request_timeout=300.0) as client:
        thread_id = client.start_thread().thread_id
        client.chat_once("small:warm-up", thread_id=thread_id)
        before = _peak_before()
        with Stopwatch() as sw:
            result = client.chat_once("big", thread_id=thread_id)
        growth = _peak_after(before)
        if len(result.final_text) != size:
            raise AssertionError(f"answer of {len(result.final_text)} characters, not {size}")
    return {"wall_s": sw.clock.wall, "cpu_s": sw.clock.cpu, "peak_growth_bytes": growth,
            "peak_method": before["method"]}


def run_floor(size: int) -> Dict[str, Any]:
    pipe = RawPipe(server_argv(deltas=1, items=1, big=size))
    try:
        thread_id = pipe.handshake()
        pipe.run_turn(thread_id, "small:warm-up")
        before = _peak_before()
        texts = []
        with Stopwatch() as sw:
            pipe.send("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "big"}]})
            while True:
                obj = pipe.read()
                if obj.get("method") == "item/completed":
                    texts.append(obj["params"]["item"].get("text"))  # keep what a client returns
                if obj.get("method") == "turn/completed":
                    break
        growth = _peak_after(before)
        if max(len(t or "") for t in texts) != size:
            raise AssertionError("the floor missed the big item")
    finally:
        pipe.close()
    return {"wall_s": sw.clock.wall, "cpu_s": sw.clock.cpu, "peak_growth_bytes": growth,
            "peak_method": before["method"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("client", "floor"), required=True)
    parser.add_argument("--size", type=int, default=50 * 1024 * 1024)
    args = parser.parse_args()
    result = run_client(args.size) if args.mode == "client" else run_floor(args.size)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
