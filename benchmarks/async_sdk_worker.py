"""Flood and round trip through ``codex-app-server-sdk`` (async; needs Python >= 3.12).

Run by ``others.async_sdk`` with an interpreter that has the package:
``python async_sdk_worker.py --repeats N --requests R --server '["python", "flood_server.py", ...]'``.
Prints one JSON line in the shape ``others.openai_codex`` returns. Standalone on
purpose: it imports nothing from this folder (the other interpreter may lack codex_sync).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from typing import Any, Dict, List, Tuple


def _summary(clocks: List[Tuple[float, float]]) -> Dict[str, Any]:
    return {
        "wall_s": statistics.median(c[0] for c in clocks),
        "cpu_s": statistics.median(c[1] for c in clocks),
        "wall_samples_s": [round(c[0], 6) for c in clocks],
        "cpu_samples_s": [round(c[1], 6) for c in clocks],
    }


async def bench(server: List[str], repeats: int, requests: int) -> Dict[str, Any]:
    import codex_app_server_sdk  # type: ignore[import-not-found,unused-ignore]
    from codex_app_server_sdk import CodexClient  # type: ignore[import-not-found,unused-ignore]

    out: Dict[str, Any] = {"available": True, "version": codex_app_server_sdk.__version__}
    client = CodexClient.connect_stdio(command=server, request_timeout=120.0, inactivity_timeout=None)
    async with client:
        thread = await client.start_thread()
        result = await client.chat_once("flood", thread_id=thread.thread_id)  # warm-up
        clocks = []
        for _ in range(repeats):
            del result
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            result = await client.chat_once("flood", thread_id=thread.thread_id)
            clocks.append((time.perf_counter() - wall, time.process_time() - cpu))
            if not result.final_text:
                raise AssertionError("codex-app-server-sdk flood: no final text")
        out["flood"] = _summary(clocks)
        for _ in range(200):
            await client.request("thread/list", {})
        clocks = []
        for _ in range(repeats):
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(requests):
                await client.request("thread/list", {})
            clocks.append((time.perf_counter() - wall, time.process_time() - cpu))
        out["round_trip"] = _summary(clocks)
        out["round_trip"]["us_per_request"] = out["round_trip"]["wall_s"] / requests * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--server", required=True, help="the stand-in server's argv as a JSON list")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(json.loads(args.server), args.repeats, args.requests))))


if __name__ == "__main__":
    main()
