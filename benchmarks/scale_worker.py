"""One scale measurement in a fresh process, against the real ``codex app-server`` (scripted model).

    python benchmarks/scale_worker.py concurrent --turns N --mode pool|roundrobin [--interval S]
    python benchmarks/scale_worker.py memory --turns M
    python benchmarks/scale_worker.py longlived --threads T --rounds R [--callers K]

Each starts ``scale_model.py`` (the gated scripted model, in a process of its
own), connects ONE ``CodexClient`` over stdio to a real ``codex app-server``
on it, measures, and prints one JSON line. ``scale.py`` runs these and
``run.py --scale`` prints the tables; see ``benchmarks/README.md`` ("Scale").

Hand-off clocks. The client's transport is ``StampingTransport``, a
``StdioTransport`` whose ``receive`` (on the reader thread) notes, for every
``item/completed`` line, ``time.perf_counter()`` when the line left the pipe
and the server's ``emittedAtMs`` (wall clock, whole milliseconds), keyed by
(thread id, item id). The caller notes ``perf_counter()`` and ``time.time()``
when ``next()`` returns that item's step. So:

- *emitted -> caller*: ``time.time()`` at ``next()`` minus ``emittedAtMs``:
  the server's write, the pipe, the reader and the hand-off (1 ms
  resolution; ``emittedAtMs`` is truncated, so it reads 0-1 ms high);
- *received -> caller*: the reader's ``receive`` returning the line to
  ``next()`` returning its step: decode, routing and the hand-off between
  threads (microseconds).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import proc_status, reset_peak_rss  # noqa: E402
from codex_sync import CodexClient, CodexTurnInactiveError  # noqa: E402
from codex_sync.transports.stdio import StdioTransport  # noqa: E402

HERE = Path(__file__).resolve().parent
JsonDict = Dict[str, Any]
Stamp = Tuple[float, int]  # (perf_counter when the reader got the line, emittedAtMs)

_ITEM_COMPLETED = b'"method":"item/completed"'


class StampingTransport(StdioTransport):
    """``StdioTransport`` noting when each ``item/completed`` line reaches the reader (see module doc)."""

    def __init__(self, *args: Any, stamps: Optional[Dict[Tuple[str, str], Stamp]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._args, self._kwargs = args, kwargs
        self.stamps: Dict[Tuple[str, str], Stamp] = {} if stamps is None else stamps

    def fresh(self) -> StampingTransport:
        return StampingTransport(*self._args, stamps=self.stamps, **self._kwargs)

    def receive(self) -> Optional[bytes]:
        line = super().receive()
        if line is not None and _ITEM_COMPLETED in line:
            now = time.perf_counter()
            try:
                t = line.index(b'"threadId":"') + 12
                thread_id = line[t:line.index(b'"', t)].decode()
                i = line.index(b'"id":"', line.index(b'"item":{')) + 6
                item_id = line[i:line.index(b'"', i)].decode()
                e = line.rindex(b'"emittedAtMs":') + 14
                end = e
                while line[end:end + 1].isdigit():
                    end += 1
                self.stamps[(thread_id, item_id)] = (now, int(line[e:end]))
            except ValueError:
                pass
        return line


class HandoffTrace:
    """Diagnostic (``--trace``): wraps ``TurnState.deliver`` and ``wait_beyond`` in this process.

    Splits *received -> caller* in three: the reader from ``receive`` to
    ``deliver`` (decode, routing), ``deliver`` returning to the caller's
    ``wait_beyond`` returning (the wake-up: the OS and the GIL), and from
    there to ``next()`` returning (folding the events into the step). It
    wraps the package's methods at run time, without changing its files, and
    adds its own small cost, so the plain runs do not use it.
    """

    def __init__(self) -> None:
        from codex_sync import turns

        self.delivered: Dict[Tuple[str, str], Tuple[float, float]] = {}
        self.local = threading.local()
        original_deliver = turns.TurnState.deliver
        original_wait = turns.TurnState.wait_beyond
        delivered = self.delivered
        local = self.local

        def deliver(state: Any, message: Any) -> bool:
            if message.method != "item/completed":
                return original_deliver(state, message)
            start = time.perf_counter()
            taken = original_deliver(state, message)
            item = message.params.get("item") or {}
            delivered[(state.thread_id, str(item.get("id")))] = (start, time.perf_counter())
            return taken

        def wait_beyond(state: Any, cursor: int, deadline: Optional[float]) -> bool:
            result = original_wait(state, cursor, deadline)
            local.woke = time.perf_counter()
            return result

        turns.TurnState.deliver = deliver  # type: ignore[method-assign]
        turns.TurnState.wait_beyond = wait_beyond  # type: ignore[method-assign]

    def woke(self) -> float:
        return float(getattr(self.local, "woke", 0.0))


TRACE: Optional[HandoffTrace] = None


def proc_cpu(pid: Optional[int]) -> Optional[float]:
    """CPU seconds (user + system, all threads) of process ``pid`` so far."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter:
    """CPU seconds of the client (this process), the server and the model helper over a stretch."""

    def __init__(self, server_pid: Optional[int], helper_pid: Optional[int]) -> None:
        self.pids = {"server": server_pid, "model": helper_pid}
        self.start()

    def start(self) -> None:
        self.wall = time.perf_counter()
        self.client = time.process_time()
        self.others = {name: proc_cpu(pid) for name, pid in self.pids.items()}

    def read(self) -> JsonDict:
        wall = time.perf_counter() - self.wall
        out: JsonDict = {"wall_s": wall, "cpu_s": time.process_time() - self.client}
        out["client_core_percent"] = out["cpu_s"] / wall * 100
        for name, pid in self.pids.items():
            now, then = proc_cpu(pid), self.others[name]
            out[f"{name}_cpu_s"] = None if now is None or then is None else now - then
            out[f"{name}_core_percent"] = None if now is None or then is None else (now - then) / wall * 100
        return out


def wait_quiet(pid: Optional[int], limit: float = 120.0) -> float:
    """Wait until process ``pid`` uses under 5 % of a core over two half-seconds; the seconds waited."""
    started = time.perf_counter()
    quiet = 0
    last = proc_cpu(pid)
    while quiet < 2 and time.perf_counter() - started < limit and last is not None:
        time.sleep(0.5)
        now = proc_cpu(pid)
        quiet = quiet + 1 if now is not None and now - last < 0.025 else 0
        last = now
    return time.perf_counter() - started


class ModelHelper:
    """``scale_model.py`` in a child process: the gated scripted model and the server's home."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "scale_model.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.command: List[str] = info["command"]
        self.env: Dict[str, str] = info["env"]
        self.cwd: str = info["cwd"]

    def call(self, op: str, **params: Any) -> JsonDict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **params}) + "\n")
        self.proc.stdin.flush()
        reply: JsonDict = json.loads(self.proc.stdout.readline())
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def rss() -> int:
    return proc_status("VmRSS") or 0


def server_rss(transport: StdioTransport) -> Optional[int]:
    pid = transport.pid
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def percentiles(values: List[float]) -> JsonDict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"n": len(ordered), "p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": ordered[-1]}


def connect(helper: ModelHelper, stamp: bool = True, **options: Any) -> Tuple[CodexClient, StdioTransport]:
    transport = (StampingTransport if stamp else StdioTransport)(helper.command, cwd=helper.cwd, env=helper.env)
    options.setdefault("request_timeout", 600.0)
    options.setdefault("inactivity_timeout", 900.0)
    client = CodexClient(transport, **options)
    client.start()
    answer = client.chat_once("warm up").final_text
    if answer != "echo: warm up":
        raise AssertionError(f"warm-up answered {answer!r}")
    return client, transport


# -- 1. N concurrent turns ------------------------------------------------------------
class Record:
    """Steps as the callers got them: (marker, perf_counter, time.time(), thread id, item id, text)."""

    def __init__(self) -> None:
        self.steps: List[Tuple[int, float, float, str, str, str]] = []
        self.finals: Dict[int, Optional[str]] = {}
        self.threads: Dict[int, str] = {}
        self.errors: List[str] = []
        self.firsts = 0
        self.cond = threading.Condition()
        self.woke: Dict[Tuple[str, str], float] = {}
        self.got_first: set = set()
        self.streams: Dict[int, Any] = {}

    def missing_firsts(self, turns: int) -> JsonDict:
        """Which turns never showed their first message, and what their turn buffered (diagnostics)."""
        missing = [m for m in range(turns) if m not in self.got_first]
        samples = {}
        for m in missing[:3]:
            stream = self.streams.get(m)
            state = getattr(stream, "_state", None)
            samples[str(m)] = None if state is None else {
                "turn": state.turn_id, "finished": state.finished, "status": state.status,
                "start_error": repr(state.start_error), "failure": repr(state.failure),
                "answer": getattr(stream, "final_text", None),
                "events": [e.method for e in state.events][-12:]}
        return {"count": len(missing), "markers": missing[:20], "samples": samples}

    def step(self, marker: int, step: Any) -> None:
        now, wall = time.perf_counter(), time.time()
        self.steps.append((marker, now, wall, step.thread_id, step.item_id or "", step.text or ""))
        if TRACE is not None:
            self.woke[(step.thread_id, step.item_id or "")] = TRACE.woke()
        if step.step_type == "codex" and step.text == f"first {marker}":
            with self.cond:
                self.firsts += 1
                self.got_first.add(marker)
                self.cond.notify_all()

    def wait_firsts(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.firsts < n and time.monotonic() < deadline:
                self.cond.wait(0.5)
            return self.firsts >= n


def _wait_open(helper: ModelHelper, rec: Record, turns: int, timeout: float = 900.0) -> JsonDict:
    """Until every turn waits at the model's first gate; gives up early once callers fail."""
    deadline = time.monotonic() + timeout
    while True:
        arrived = helper.call("wait_arrived", n=turns, timeout=5)
        if arrived["ok"] or time.monotonic() > deadline:
            return arrived
        if arrived["arrived"] + len(rec.errors) >= turns and rec.errors:
            arrived["errors"] = rec.errors[:5]
            return arrived
        print(json.dumps({"opening": arrived["arrived"], "errors": len(rec.errors)}), file=sys.stderr, flush=True)


def concurrent(turns: int, mode: str, interval: float) -> JsonDict:
    """``turns`` turns open at once on one client, each on its own codex thread (see the module doc)."""
    helper = ModelHelper()
    out: JsonDict = {"workload": "concurrent", "mode": mode, "turns": turns, "interval_s": interval,
                     "trace": TRACE is not None, "switch_interval_s": sys.getswitchinterval()}
    rec = Record()
    try:
        # The first turn opened waits through the opening of all the others (minutes at 1,000).
        client, transport = connect(helper, inactivity_timeout=600.0)
        meter = CpuMeter(transport.pid, helper.proc.pid)
        try:
            gc.collect()
            out["rss_base"] = rss()
            reset_peak_rss()
            out["load_before"] = load()
            meter.start()
            futures: List[Any] = []
            streams: List[Any] = []
            if mode == "pool":
                pool = ThreadPoolExecutor(max_workers=turns, thread_name_prefix="caller")

                def one(marker: int) -> None:
                    try:
                        stream = client.chat(f"gate:{marker}")
                        rec.threads[marker] = stream.thread_id
                        rec.streams[marker] = stream
                        for step in stream:
                            rec.step(marker, step)
                        rec.finals[marker] = stream.final_text
                    except BaseException as exc:  # counted, never hidden
                        rec.errors.append(f"{marker}: {exc!r}")
                        with rec.cond:
                            rec.firsts += 1
                            rec.cond.notify_all()

                futures = [pool.submit(one, m) for m in range(turns)]
            else:
                for marker in range(turns):
                    stream = client.chat(f"gate:{marker}")
                    rec.threads[marker] = stream.thread_id
                    rec.step(marker, next(stream))  # the userMessage step
                    streams.append(stream)
                    rec.streams[marker] = stream
            arrived = _wait_open(helper, rec, turns)
            out["open"] = meter.read()
            if not arrived["ok"]:
                raise AssertionError(f"only {arrived['arrived']} of {turns} turns reached the model; "
                                     f"{len(rec.errors)} callers failed: {rec.errors[:3]}")
            out["server_settle_s"] = wait_quiet(transport.pid)
            gc.collect()
            out["rss_open"] = rss()
            out["threads_open"] = threading.active_count()
            out["load_open"] = load()
            out["server_rss_open"] = server_rss(transport)
            meter.start()
            time.sleep(3.0)  # every caller blocked on a silent turn
            out["idle"] = meter.read()

            markers = [str(m) for m in range(turns)]
            meter.start()
            helper.call("release", phase=1, markers=markers, interval=interval)
            if mode == "roundrobin":
                for marker, stream in enumerate(streams):
                    try:
                        rec.step(marker, next(stream))
                    except CodexTurnInactiveError as exc:  # a first message that never came
                        rec.errors.append(f"{marker}: {exc!r}")
            released = helper.call("wait_released", timeout=900)
            if not rec.wait_firsts(turns, 120):
                out["missing_firsts"] = rec.missing_firsts(turns)
                out["missing_firsts"]["server_stderr_tail"] = transport.stderr_tail()[-3000:]
                print(json.dumps({"missing_firsts": out["missing_firsts"]}), file=sys.stderr, flush=True)
            out["phase1"] = {**meter.read(), "release": released, "load_after": load()}
            out["rss_after_phase1"] = rss()

            meter.start()
            helper.call("release", phase=2, markers=markers, interval=0)
            if mode == "pool":
                for future in futures:
                    future.result()
                pool.shutdown()
                rec.streams.clear()
            else:
                for marker, stream in enumerate(streams):
                    try:
                        for step in stream:
                            rec.step(marker, step)
                        rec.finals[marker] = stream.final_text
                    except BaseException as exc:
                        rec.errors.append(f"{marker}: {exc!r}")
            helper.call("wait_released", timeout=60)
            out["phase2"] = {**meter.read(), "load_after": load()}
            out["rss_peak"] = proc_status("VmHWM")
            del streams
            rec.streams.clear()
        finally:
            client.close()
    finally:
        helper.close()

    wrong = [m for m in range(turns) if rec.finals.get(m) != f"answer {m}"]
    out["errors"] = len(rec.errors)
    out["error_samples"] = rec.errors[:5]
    out["wrong_answers"] = len(wrong)
    out["distinct_threads"] = len(set(rec.threads.values()))
    assert isinstance(transport, StampingTransport)
    stamps = transport.stamps
    for phase, prefix in (("phase1", "first "), ("phase2", "answer ")):
        recv_us: List[float] = []
        emit_ms: List[float] = []
        parts: Dict[str, List[float]] = {"reader_us": [], "wake_us": [], "fold_us": []}
        missing = 0
        for marker, now, wall, thread_id, item_id, text in rec.steps:
            if text != f"{prefix}{marker}":
                continue
            stamp = stamps.get((thread_id, item_id))
            if stamp is None:
                missing += 1
                continue
            recv_us.append((now - stamp[0]) * 1e6)
            emit_ms.append(wall * 1000 - stamp[1])
            delivered = TRACE.delivered.get((thread_id, item_id)) if TRACE is not None else None
            if delivered is not None:
                woke = rec.woke.get((thread_id, item_id), 0.0)
                parts["reader_us"].append((delivered[0] - stamp[0]) * 1e6)
                if woke >= delivered[1]:  # the caller was waiting when the item came
                    parts["wake_us"].append((woke - delivered[1]) * 1e6)
                    parts["fold_us"].append((now - woke) * 1e6)
        out[phase]["received_to_caller_us"] = percentiles(recv_us)
        out[phase]["emitted_to_caller_ms"] = percentiles(emit_ms)
        out[phase]["unmatched"] = missing
        if TRACE is not None:
            out[phase]["trace"] = {name: percentiles(values) for name, values in parts.items()}
    out["rss_per_open_turn"] = (out["rss_open"] - out["rss_base"]) / turns
    out["load_after"] = load()
    return out


# -- 2. memory per loaded thread and per retained turn ---------------------------------
def _heap_diff(new: tracemalloc.Snapshot, old: tracemalloc.Snapshot, count: int) -> JsonDict:
    stats = new.compare_to(old, "filename")
    total = sum(s.size_diff for s in stats)
    by_file: Dict[str, int] = {}
    for s in stats:
        name = s.traceback[0].filename
        short = name.split("/codex_sync/")[-1] if "/codex_sync/" in name else os.path.basename(name)
        by_file[short] = by_file.get(short, 0) + s.size_diff
    top = sorted(by_file.items(), key=lambda kv: -abs(kv[1]))[:8]
    return {"total_bytes": total, "per_item_bytes": total / count,
            "top_files_per_item": [(name, round(size / count)) for name, size in top]}


def memory(count: int) -> JsonDict:
    helper = ModelHelper()
    out: JsonDict = {"workload": "memory", "count": count, "load_before": load()}
    try:
        client, transport = connect(helper)
        try:
            registry = client._turns  # read-only peeks at the client's tables, for the report
            session = client._session
            tracemalloc.start(1)
            gc.collect()
            snap0 = tracemalloc.take_snapshot()
            # (a) loaded threads, no turn yet
            handles = [client.start_thread() for _ in range(count)]
            gc.collect()
            snap1 = tracemalloc.take_snapshot()
            thread_ids = [h.thread_id for h in handles]
            del handles
            gc.collect()
            snap2 = tracemalloc.take_snapshot()
            out["loaded_thread_client"] = _heap_diff(snap2, snap0, count)
            out["loaded_thread_handle"] = _heap_diff(snap1, snap2, count)
            out["loaded_threads"] = session.loaded_count()

            # (b) open turns, each read up to its userMessage step, callers holding the streams
            streams = []
            for n, thread_id in enumerate(thread_ids):
                stream = client.chat(f"gate:open{n}", thread_id=thread_id, inactivity_timeout=0.2)
                next(stream)
                streams.append(stream)
            arrived = helper.call("wait_arrived", n=count, timeout=600)
            if not arrived["ok"]:
                raise AssertionError(f"only {arrived['arrived']} of {count} turns reached the model")
            time.sleep(0.5)
            gc.collect()
            snap3 = tracemalloc.take_snapshot()
            out["open_turn"] = _heap_diff(snap3, snap2, count)
            out["events_per_open_turn"] = sum(len(s._state.events) for s in streams) / count

            # (c) the same turns, idle and retained: each stream raised CodexTurnInactiveError,
            # the caller keeps only the continuation and drops the stream
            continuations = []
            for stream in streams:
                try:
                    for _ in stream:
                        pass
                except CodexTurnInactiveError as exc:
                    continuations.append(exc.continuation)
            del streams, stream
            gc.collect()
            snap4 = tracemalloc.take_snapshot()
            out["idle_retained_turn"] = _heap_diff(snap4, snap2, len(continuations))
            out["idle_retained"] = len(continuations)
            out["retained_by_client"] = len(registry._by_turn_id)

            # (d) they finish unread: how many the client keeps once a new turn prunes
            helper.call("release", phase=1, markers=[f"open{n}" for n in range(count)], interval=0)
            helper.call("wait_released", timeout=60)
            helper.call("release", phase=2, markers=[f"open{n}" for n in range(count)], interval=0)
            helper.call("wait_released", timeout=60)
            deadline = time.monotonic() + 120
            while registry.running() and time.monotonic() < deadline:
                time.sleep(0.1)
            out["finished_unread_before_prune"] = len(registry._by_turn_id)
            client.chat_once("prune")
            del continuations
            gc.collect()
            snap5 = tracemalloc.take_snapshot()
            out["finished_unread_after_prune"] = len(registry._by_turn_id)
            out["after_all_vs_threads_only"] = _heap_diff(snap5, snap2, count)
            tracemalloc.stop()
        finally:
            client.close()
    finally:
        helper.close()
    out["load_after"] = load()
    return out


# -- 3. a long-lived client: many turns on many threads ---------------------------------
def _tables(client: CodexClient) -> JsonDict:
    registry, session = client._turns, client._session
    conn = session._conn
    kinds: Dict[str, int] = {}
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name in ("TurnState", "ChatStream", "Transcript", "ThreadHandle", "_Pending", "Notification"):
            kinds[name] = kinds.get(name, 0) + 1
    return {
        "active_turns": len(registry._active),
        "retained_turns": len(registry._by_turn_id),
        "deferred_overrides": len(registry._overrides),
        "thread_handlers": len(registry._handlers),
        "loaded_threads": session.loaded_count(),
        "resumable_threads": len(session._resumable),
        "pending_requests": len(conn._pending),
        "subscribers": len(conn._subscribers),
        "live_objects": kinds,
    }


def longlived(threads: int, rounds: int, callers: int, trace: bool) -> JsonDict:
    helper = ModelHelper()
    out: JsonDict = {"workload": "longlived", "threads": threads, "rounds": rounds, "callers": callers,
                     "tracemalloc": trace, "load_before": load(), "checkpoints": []}
    try:
        client, transport = connect(helper, stamp=False)
        try:
            if trace:
                tracemalloc.start(1)
            gc.collect()
            heap0 = tracemalloc.get_traced_memory()[0]
            blocks0 = sys.getallocatedblocks()
            rss0 = rss()
            thread_ids: List[Optional[str]] = [None] * threads
            errors: List[str] = []
            done = 0
            for r in range(rounds):
                started, cpu0 = time.perf_counter(), time.process_time()

                def run_slice(k: int, r: int = r) -> None:
                    for t in range(k, threads, callers):
                        prompt = f"t{t} r{r}"
                        try:
                            result = client.chat_once(prompt, thread_id=thread_ids[t])
                            if result.final_text != f"echo: {prompt}":
                                errors.append(f"{prompt}: answered {result.final_text!r}")
                            if thread_ids[t] is None:
                                thread_ids[t] = result.thread_id
                            elif result.thread_id != thread_ids[t]:
                                errors.append(f"{prompt}: ran on {result.thread_id}")
                        except Exception as exc:
                            errors.append(f"{prompt}: {exc!r}")

                workers = [threading.Thread(target=run_slice, args=(k,)) for k in range(callers)]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
                done += threads
                wall = time.perf_counter() - started
                cpu = time.process_time() - cpu0
                time.sleep(1.0)  # let the janitor's unsubscribes finish
                gc.collect()
                out["checkpoints"].append({
                    "turns_done": done,
                    "round_wall_s": wall,
                    "turns_per_s": threads / wall,
                    "cpu_us_per_turn": cpu / threads * 1e6,
                    "heap_bytes": tracemalloc.get_traced_memory()[0] - heap0 if trace else None,
                    "allocated_blocks": sys.getallocatedblocks() - blocks0,
                    "rss_bytes": rss() - rss0,
                    "server_rss_bytes": server_rss(transport),
                    "errors": len(errors),
                    "load": load(),
                    **_tables(client),
                })
                print(json.dumps({"progress": out["checkpoints"][-1]}), file=sys.stderr, flush=True)
            out["errors"] = len(errors)
            out["error_samples"] = errors[:5]
            out["distinct_threads"] = len({t for t in thread_ids if t})
            tracemalloc.stop()
        finally:
            client.close()
    finally:
        helper.close()
    out["load_after"] = load()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="workload", required=True)
    p = sub.add_parser("concurrent")
    p.add_argument("--turns", type=int, default=100)
    p.add_argument("--mode", choices=("pool", "roundrobin"), default="pool")
    p.add_argument("--interval", type=float, default=0.005, help="seconds between first messages (phase 1)")
    p.add_argument("--trace", action="store_true", help="split the hand-off (wraps TurnState methods)")
    p.add_argument("--switch-interval", type=float, default=None,
                   help="sys.setswitchinterval for this run (default: Python's, 0.005 s)")
    p = sub.add_parser("memory")
    p.add_argument("--turns", type=int, default=200)
    p = sub.add_parser("longlived")
    p.add_argument("--threads", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--callers", type=int, default=4)
    p.add_argument("--no-tracemalloc", action="store_true", help="heap growth from allocated blocks only")
    args = parser.parse_args()
    if args.workload == "concurrent":
        if args.switch_interval is not None:
            sys.setswitchinterval(args.switch_interval)
        if args.trace:
            global TRACE
            TRACE = HandoffTrace()
        result = concurrent(args.turns, args.mode, args.interval)
    elif args.workload == "memory":
        result = memory(args.turns)
    else:
        result = longlived(args.threads, args.rounds, args.callers, not args.no_tracemalloc)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
