"""Profile a workload through codex_sync, every thread included.

WORKLOAD is ``flood`` (plain ``chat_once``), ``flood_on_delta`` (``chat_once``
with an ``on_delta`` callback, so every delta is parsed and delivered),
``round_trip`` (sequential ``thread/list`` requests, 1000 per ``--turns``) or
``small_turns`` (sequential small turns as in the many-threads workload, 1000
per ``--turns``).

    python benchmarks/profile_client.py cprofile WORKLOAD [--turns N] [--top K]
        One cProfile per thread (the reader thread too: ``threading.Thread.run``
        is wrapped so each thread profiles itself); prints the top functions by
        cumulative and by self time for each busy thread, and saves
        ``benchmarks/out/<workload>-<thread>.pstats``.

    py-spy record --threads --gil --format raw -r 1000 -o benchmarks/out/flood.pyspy -- \\
        python benchmarks/profile_client.py plain WORKLOAD --turns 30
    python benchmarks/profile_client.py summarize benchmarks/out/flood.pyspy [--top K] [--lines]
        Sampling profile (no per-call overhead, so self times are not inflated
        for small functions; ``--gil`` keeps only samples of the thread holding
        the GIL, i.e. where CPU goes); ``summarize`` prints, per thread, the
        functions by self samples and by inclusive samples.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import pstats
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import server_argv  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def run_workload(workload: str, turns: int, deltas: int, items: int) -> float:
    """Warm up, then run ``turns`` turns (or ``turns`` x 1000 requests); returns their wall time."""
    from codex_sync import CodexClient

    counted: List[Any] = []
    on_delta = counted.append if workload == "flood_on_delta" else None
    with CodexClient.connect_stdio(server_argv(deltas=deltas, items=items), request_timeout=120.0) as client:
        thread_id = client.start_thread().thread_id
        if workload == "round_trip":
            for _ in range(200):
                client.request("thread/list", {})
            started = time.perf_counter()
            for _ in range(turns * 1000):
                client.request("thread/list", {})
            return time.perf_counter() - started
        if workload == "small_turns":
            client.chat_once("small:warm-up", thread_id=thread_id)
            started = time.perf_counter()
            for n in range(turns * 1000):
                client.chat_once(f"small:{n}", thread_id=thread_id)
            return time.perf_counter() - started
        client.chat_once("flood", thread_id=thread_id, on_delta=on_delta)
        started = time.perf_counter()
        for _ in range(turns):
            client.chat_once("flood", thread_id=thread_id, on_delta=on_delta)
        return time.perf_counter() - started


def _top(stats: pstats.Stats, key: str, top: int) -> str:
    buf = io.StringIO()
    stats.stream = buf  # type: ignore[attr-defined]
    stats.sort_stats(key).print_stats(top)
    lines = buf.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:])


def cprofile_mode(workload: str, turns: int, deltas: int, items: int, top: int) -> None:
    profiles: Dict[str, cProfile.Profile] = {}
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles[self.name] = profile
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main = cProfile.Profile()
    main.enable()
    wall = run_workload(workload, turns, deltas, items)
    main.disable()
    threading.Thread.run = original_run  # type: ignore[method-assign]
    profiles["MainThread"] = main
    OUT.mkdir(parents=True, exist_ok=True)
    unit = "x 1000 requests/turns" if workload in ("round_trip", "small_turns") else "turns (+1 warm-up)"
    print(f"{workload}: {turns} {unit} under cProfile: {wall:.2f} s wall "
          f"({wall / turns * 1000:.0f} ms per turn or per 1000 requests; cProfile inflates this)")
    for name, profile in profiles.items():
        path = OUT / f"{workload}-{name}.pstats"
        profile.dump_stats(str(path))
        stats = pstats.Stats(profile)
        total = getattr(stats, "total_tt", 0.0)
        if total < 0.01:
            continue
        print(f"\n===== thread {name}: {total:.3f} s of profiled time, saved to {path} =====")
        print("--- by cumulative time ---")
        print(_top(stats, "cumulative", top))
        print("--- by self time ---")
        print(_top(stats, "tottime", top))


def summarize(path: Path, top: int, lines: bool) -> None:
    """Self and inclusive sample counts per function (or line), per thread, from py-spy's raw output."""
    self_counts: Dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    incl_counts: Dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0]
        names = [_short(f, lines) for f in frames[1:]]
        if not names:
            continue
        totals[thread] += count
        self_counts[thread][names[-1]] += count
        for name in set(names):
            incl_counts[thread][name] += count
    for thread, total in totals.most_common():
        print(f"\n===== {thread}: {total} samples =====")
        rows: List[Tuple[str, str]] = []
        for (name, n) in self_counts[thread].most_common(top):
            rows.append((f"{n / total * 100:5.1f}%", name))
        print("--- self ---")
        print("\n".join(f"  {pct}  {name}" for pct, name in rows))
        print("--- inclusive ---")
        for name, n in incl_counts[thread].most_common(top):
            print(f"  {n / total * 100:5.1f}%  {name}")


def _short(frame: str, lines: bool) -> str:
    """``func (path/to/file.py:123)`` -> ``func (file.py:123)``, or ``func (file.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit("/", 1)[-1]
    if not lines:
        where = where.rsplit(":", 1)[0]
    return f"{name} ({where})" if where else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("cprofile", "plain"):
        p = sub.add_parser(mode)
        p.add_argument("workload", choices=("flood", "flood_on_delta", "round_trip", "small_turns"))
        p.add_argument("--turns", type=int, default=10)
        p.add_argument("--deltas", type=int, default=20_000)
        p.add_argument("--items", type=int, default=200)
        p.add_argument("--top", type=int, default=25)
    p = sub.add_parser("summarize")
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--lines", action="store_true", help="one row per source line, not per function")
    args = parser.parse_args()
    if args.mode == "cprofile":
        cprofile_mode(args.workload, args.turns, args.deltas, args.items, args.top)
    elif args.mode == "plain":
        wall = run_workload(args.workload, args.turns, args.deltas, args.items)
        print(f"{args.workload}: {wall:.2f} s wall ({wall / args.turns * 1000:.0f} ms per turn "
              "or per 1000 requests)")
    else:
        summarize(args.file, args.top, args.lines)


if __name__ == "__main__":
    main()
