"""Shared pieces of the benchmarks: the stand-in server's command line, the floor, clocks."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "flood_server.py"

JsonDict = Dict[str, Any]


def server_argv(
    *, deltas: int = 20_000, items: int = 200, small_deltas: int = 5, big: int = 0
) -> List[str]:
    """The command line of the stand-in server (``flood_server.py``) for one workload."""
    return [
        sys.executable,
        str(SERVER_SCRIPT),
        "--deltas",
        str(deltas),
        "--items",
        str(items),
        "--small-deltas",
        str(small_deltas),
        "--big",
        str(big),
    ]


@dataclass
class Clock:
    """Wall time, process CPU time and voluntary context switches (wake-ups) of one measured stretch."""

    wall: float = 0.0
    cpu: float = 0.0
    switches: int = 0


def _switches() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.clock`` (CPU and switches cover every thread)."""

    def __init__(self) -> None:
        self.clock = Clock()
        self._wall = 0.0
        self._cpu = 0.0
        self._switches = 0

    def __enter__(self) -> Stopwatch:
        self._switches = _switches()
        self._cpu = time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        wall = time.perf_counter() - self._wall
        self.clock = Clock(wall, time.process_time() - self._cpu, _switches() - self._switches)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


class RawPipe:
    """The floor: the same server, driven by hand with ``write`` + ``readline`` + ``json.loads``.

    It does what any client must do at the least (encode a request, read every
    line, decode it) on one thread, with the same pipe setup as the client's
    stdio transport (``subprocess.Popen`` defaults: buffered binary pipes).
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        self._next_id = 0

    def send(self, method: str, params: JsonDict) -> int:
        self._next_id += 1
        line = json.dumps({"id": self._next_id, "method": method, "params": params}, separators=(",", ":"))
        self.stdin.write(line.encode("utf-8") + b"\n")
        self.stdin.flush()
        return self._next_id

    def read(self) -> JsonDict:
        line = self.stdout.readline()
        if not line:
            raise EOFError("the stand-in server closed its stdout")
        obj: JsonDict = json.loads(line)
        return obj

    def call(self, method: str, params: JsonDict) -> Any:
        """Send a request and read lines until its reply (notifications are decoded and dropped)."""
        request_id = self.send(method, params)
        while True:
            obj = self.read()
            if obj.get("id") == request_id and "method" not in obj:
                return obj.get("result")

    def handshake(self) -> str:
        """``initialize`` + ``initialized`` + ``thread/start`` (and its notification); the thread id."""
        self.call("initialize", {"clientInfo": {"name": "floor", "version": "0"}, "capabilities": {}})
        self.stdin.write(b'{"method":"initialized"}\n')
        self.stdin.flush()
        thread_id = str(self.call("thread/start", {})["thread"]["id"])
        self.next_notification()  # thread/started
        return thread_id

    def next_notification(self) -> JsonDict:
        return self.read()

    def run_turn(self, thread_id: str, text: str) -> int:
        """Start a turn and read until its ``turn/completed``; returns the lines read."""
        self.send("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
        count = 0
        while True:
            obj = self.read()
            count += 1
            if obj.get("method") == "turn/completed":
                return count

    def close(self) -> None:
        try:
            self.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()


class ThreadedPipe(RawPipe):
    """The least a client with a reader thread must do (the design codex_sync has).

    A reader thread does ``readline`` + ``json.loads`` of every line and hands
    each message over: a reply releases its caller's lock, anything else is
    appended to a list under a condition the caller waits on (the caller takes
    the whole list at once). Not a floor to reach, but the cost of the
    hand-off between two threads that any reader-thread client pays.
    """

    def __init__(self, argv: Sequence[str]) -> None:
        super().__init__(argv)
        self._pending: Dict[int, List[Any]] = {}
        self._events: List[JsonDict] = []
        self._cond = threading.Condition(threading.Lock())
        self._reader = threading.Thread(target=self._read_loop, name="floor-reader", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        readline, loads, pending, cond = self.stdout.readline, json.loads, self._pending, self._cond
        while True:
            line = readline()
            if not line:
                break
            obj = loads(line)
            slot = pending.pop(obj["id"], None) if "id" in obj and "method" not in obj else None
            if slot is not None:
                slot[1] = obj.get("result")
                slot[0].release()
                continue
            with cond:
                self._events.append(obj)
                cond.notify()

    def read(self) -> JsonDict:
        raise NotImplementedError("the reader thread reads")

    def call(self, method: str, params: JsonDict) -> Any:
        done = threading.Lock()
        done.acquire()
        slot: List[Any] = [done, None]
        self._pending[self._next_id + 1] = slot
        self.send(method, params)
        done.acquire()
        return slot[1]

    def next_notification(self) -> JsonDict:
        with self._cond:
            while not self._events:
                self._cond.wait()
            return self._events.pop(0)

    def run_turn(self, thread_id: str, text: str) -> int:
        self.send("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
        count = 0
        cond = self._cond
        while True:
            with cond:
                while not self._events:
                    cond.wait()
                batch, self._events = self._events, []
            for obj in batch:
                count += 1
                if obj.get("method") == "turn/completed":
                    return count


def proc_status(field: str) -> Optional[int]:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in bytes; ``None`` off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) to the current RSS, where Linux allows it."""
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False
