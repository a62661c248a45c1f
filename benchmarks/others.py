"""The same flood and round-trip workloads through other Python clients (the ``bench`` extra).

- ``openai-codex`` (OpenAI's sync SDK, ``from openai_codex import Codex``),
  pointed at the stand-in with ``CodexConfig(launch_args_override=...)``:
  ``thread.run("flood")`` for the flood, ``codex.thread_list()`` for the
  round trip. It validates every message with pydantic models.
- ``codex-app-server-sdk`` (an async client) needs Python >= 3.12; when an
  interpreter that has it is given (``--async-sdk-python``), its flood runs
  in that interpreter via ``async_sdk_worker.py``.

Each returns ``{"available": False, "why": ...}`` when the package cannot
be used, so the table says so instead of failing.
"""

from __future__ import annotations

import gc
import json
import subprocess
from typing import Any, Dict, List, Optional

from benchmarks.common import HERE, Clock, Stopwatch, median, server_argv

JsonDict = Dict[str, Any]


def _summary(clocks: List[Clock]) -> JsonDict:
    return {
        "wall_s": median([c.wall for c in clocks]),
        "cpu_s": median([c.cpu for c in clocks]),
        "wall_samples_s": [round(c.wall, 6) for c in clocks],
        "cpu_samples_s": [round(c.cpu, 6) for c in clocks],
    }


def openai_codex(repeats: int, deltas: int, items: int, requests: int) -> JsonDict:
    """Flood and round trip through ``openai_codex.Codex`` against the same stand-in server."""
    try:
        import openai_codex
        from openai_codex import Codex, CodexConfig
    except ImportError as exc:
        return {"available": False, "why": f"openai-codex: not installed ({exc})"}
    out: JsonDict = {"available": True, "version": getattr(openai_codex, "__version__", "?")}

    config = CodexConfig(launch_args_override=tuple(server_argv(deltas=deltas, items=items)))
    clocks: List[Clock] = []
    with Codex(config=config) as codex:
        thread = codex.thread_start()
        result = thread.run("flood")  # warm-up
        for _ in range(repeats):
            del result
            gc.collect()
            with Stopwatch() as sw:
                result = thread.run("flood")
            clocks.append(sw.clock)
            if not result.final_response or len(result.items) != items + 1:
                raise AssertionError(f"openai-codex flood: {len(result.items)} items, "
                                     f"final {result.final_response!r:.40}")
    out["flood"] = _summary(clocks)

    clocks = []
    with Codex(config=CodexConfig(launch_args_override=tuple(server_argv(deltas=1, items=1)))) as codex:
        for _ in range(200):
            codex.thread_list()
        for _ in range(repeats):
            gc.collect()
            with Stopwatch() as sw:
                for _ in range(requests):
                    codex.thread_list()
            clocks.append(sw.clock)
    out["round_trip"] = _summary(clocks)
    out["round_trip"]["us_per_request"] = out["round_trip"]["wall_s"] / requests * 1e6
    return out


def async_sdk(python: Optional[str], repeats: int, deltas: int, items: int, requests: int) -> JsonDict:
    """The flood through ``codex-app-server-sdk`` (async), run by the interpreter ``python``."""
    if not python:
        return {"available": False,
                "why": "codex-app-server-sdk: not run (needs Python >= 3.12; pass --async-sdk-python)"}
    argv = [python, str(HERE / "async_sdk_worker.py"), "--repeats", str(repeats), "--requests", str(requests),
            "--server", json.dumps(server_argv(deltas=deltas, items=items))]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"available": False, "why": f"codex-app-server-sdk: failed ({tail[0]})"}
    result: JsonDict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result
