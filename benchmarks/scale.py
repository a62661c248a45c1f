"""The scale workloads (``run.py --scale``): many open turns, memory, a long-lived client, start-up.

Every figure comes from the real ``codex app-server`` (the pinned
``openai-codex-cli-bin``) on the scripted model of ``codex_sync.testing``,
each measurement in a fresh process (``scale_worker.py``, ``startup_worker.py``)
so that peak RSS and import times start clean. See ``benchmarks/README.md``
("Scale") for what each one measures and the targets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
JsonDict = Dict[str, Any]

SCALE_WORKLOADS = ("concurrent", "memory", "longlived", "startup")
FULL = {"sizes": [100, 250, 500, 1000], "memory": 200, "threads": 2000, "rounds": 5, "startup_repeats": 5}
QUICK = {"sizes": [50, 100], "memory": 100, "threads": 200, "rounds": 3, "startup_repeats": 2}

HANDOFF_TARGET_MS = 5.0
OPEN_TURN_TARGET_BYTES = 50 * 1024
GROWTH_TARGET_BYTES_PER_TURN = 8.0


def load() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _log(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] load {load()[0]:.2f}: {text}", file=sys.stderr, flush=True)


def worker(args: List[str], timeout: float, profile: Optional[Path] = None) -> JsonDict:
    """Run ``scale_worker.py ARGS`` (under py-spy if ``profile``); its JSON, or ``{"failed": ...}``."""
    argv = [sys.executable, str(HERE / "scale_worker.py"), *args]
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        beside = Path(sys.executable).parent / "py-spy"
        spy = str(beside) if beside.exists() else (shutil.which("py-spy") or "py-spy")
        argv = [spy, "record", "--threads", "--gil", "--nonblocking", "--format", "raw",
                "-r", "200" if int(args[2]) < 500 else "25",  # sampling 1,000 threads costs a core at 200/s
                "-o", str(profile), "--", *argv]
    before = load()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:.0f} s", "args": args, "load_before": before}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"failed": " | ".join(tail) or f"exit {proc.returncode}", "args": args, "load_before": before}
    result: JsonDict = json.loads(lines[-1])
    result["load_before_process"] = before
    result["load_after_process"] = load()
    return result


# -- the workloads ------------------------------------------------------------------------
def concurrent(sizes: List[int], modes: List[str], interval: float, profile_dir: Optional[Path]) -> List[JsonDict]:
    runs = []
    for mode in modes:
        for size in sizes:
            _log(f"concurrent: {size} turns, {mode}")
            profile = None
            if profile_dir is not None and size == max(sizes):
                profile = profile_dir / f"concurrent-{mode}-{size}.pyspy"
            result = worker(["concurrent", "--turns", str(size), "--mode", mode, "--interval", str(interval)],
                            timeout=1800, profile=profile)
            if profile is not None:
                result["profile"] = str(profile)
            runs.append(result)
    return runs


def memory(count: int) -> JsonDict:
    _log(f"memory: {count} threads and turns")
    return worker(["memory", "--turns", str(count)], timeout=900)


def longlived(threads: int, rounds: int) -> JsonDict:
    _log(f"long-lived: {threads * rounds} turns on {threads} threads")
    return worker(["longlived", "--threads", str(threads), "--rounds", str(rounds)], timeout=3600)


def _importtime(python: str, module: str) -> Optional[float]:
    """Cumulative microseconds of ``import module`` from ``python -X importtime``."""
    proc = subprocess.run([python, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                          text=True, check=False, timeout=120)
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s*\d+\s*\|\s*(\d+)\s*\|\s(\S+)$", line)
        if match and match.group(2) == module:
            return int(match.group(1)) / 1e6
    return None


def _fresh_import(python: str, module: str, repeats: int) -> JsonDict:
    """Wall time of a fresh ``python -c 'import module'`` less ``python -c pass`` (medians)."""
    def wall(code: str) -> float:
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([python, "-c", code], check=True, capture_output=True, timeout=120)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    bare = wall("pass")
    with_import = wall(f"import {module}")
    return {"process_s": with_import, "bare_python_s": bare, "import_s": with_import - bare,
            "importtime_s": _importtime(python, module)}


def startup(repeats: int, async_python: Optional[str]) -> JsonDict:
    """Import time and connect-to-first-answer of codex_sync, openai-codex and codex-app-server-sdk."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.scale_worker import ModelHelper

    _log("start-up")
    clients = [("codex_sync", sys.executable), ("openai_codex", sys.executable)]
    if async_python:
        clients.append(("codex_app_server_sdk", async_python))
    out: JsonDict = {"load_before": load(), "clients": {}}
    helper = ModelHelper()
    try:
        for name, python in clients:
            probe = subprocess.run([python, "-c", f"import {name}"], capture_output=True, check=False)
            if probe.returncode != 0:
                out["clients"][name] = {"available": False, "why": f"{name}: not importable by {python}"}
                continue
            entry: JsonDict = {"available": True, "load_before": load(),
                               "import": _fresh_import(python, name, max(5, repeats * 2))}
            answers = []
            for _ in range(repeats):
                proc = subprocess.run(
                    [python, str(HERE / "startup_worker.py"), "--client", name,
                     "--command", json.dumps(helper.command), "--env", json.dumps(helper.env)],
                    capture_output=True, text=True, check=False, timeout=300, cwd=helper.cwd)
                lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
                if proc.returncode != 0 or not lines:
                    entry = {"available": False, "why": f"{name}: failed ({(proc.stderr or '').strip()[-200:]})"}
                    break
                answers.append(json.loads(lines[-1]))
            if answers:
                entry["runs"] = answers
                entry["version"] = answers[0].get("version")
                entry["python"] = answers[0].get("python")
                entry["first_answer_s"] = statistics.median(a["first_answer_s"] for a in answers)
                entry["in_process_import_s"] = statistics.median(a["import_s"] for a in answers)
                entry["answers_right"] = all(a["answer"] == "echo: hello" for a in answers)
                entry["load_after"] = load()
            out["clients"][name] = entry
    finally:
        helper.close()
    out["load_after"] = load()
    return out


def run_scale(quick: bool, only: List[str], sizes: Optional[List[int]], modes: List[str], interval: float,
              async_python: Optional[str], profile_dir: Optional[Path]) -> JsonDict:
    plan = QUICK if quick else FULL
    results: JsonDict = {}
    if not only or "concurrent" in only:
        results["concurrent"] = concurrent(sizes or plan["sizes"], modes, interval, profile_dir)
    if not only or "memory" in only:
        results["memory"] = memory(plan["memory"])
    if not only or "longlived" in only:
        results["longlived"] = longlived(plan["threads"], plan["rounds"])
    if not only or "startup" in only:
        results["startup"] = startup(plan["startup_repeats"], async_python)
    return results


# -- targets ----------------------------------------------------------------------------------
def verdicts(results: JsonDict) -> List[JsonDict]:
    out: List[JsonDict] = []
    for run in results.get("concurrent", []):
        if "failed" in run:
            out.append({"workload": f"concurrent {run['args'][4]} x{run['args'][2]}", "what": "ran",
                        "value": float("nan"), "target": "completes", "pass": False, "note": run["failed"]})
            continue
        ok = run["errors"] == 0 and run["wrong_answers"] == 0 and run["distinct_threads"] == run["turns"]
        out.append({"workload": f"concurrent {run['mode']} x{run['turns']}", "what": "answers right",
                    "value": float(run["turns"] - run["wrong_answers"]), "target": f"{run['turns']}/{run['turns']}",
                    "pass": ok})
        if run["turns"] >= 1000:
            p99 = run["phase1"]["emitted_to_caller_ms"]["p99"]
            out.append({"workload": f"concurrent {run['mode']} x{run['turns']}",
                        "what": "p99 hand-off, item/completed emitted -> caller (ms, trickle)",
                        "value": p99, "target": f"<= {HANDOFF_TARGET_MS:g}", "pass": p99 <= HANDOFF_TARGET_MS})
    mem = results.get("memory")
    if mem and "failed" not in mem:
        files = dict(mem["open_turn"]["top_files_per_item"])
        events = files.get("protocol.py", 0)
        rest = mem["open_turn"]["per_item_bytes"] - events
        out.append({"workload": "memory", "what": "client bytes per open turn, events (protocol.py) excluded",
                    "value": rest, "target": f"<= {OPEN_TURN_TARGET_BYTES}", "pass": rest <= OPEN_TURN_TARGET_BYTES})
    life = results.get("longlived")
    if life and "failed" not in life and len(life["checkpoints"]) >= 3:
        first, last = life["checkpoints"][1], life["checkpoints"][-1]
        turns = last["turns_done"] - first["turns_done"]
        keys = ("active_turns", "retained_turns", "deferred_overrides", "thread_handlers", "loaded_threads",
                "resumable_threads", "pending_requests", "subscribers")
        grew = [k for k in keys if last[k] > first[k]]
        grew += [f"live {k}" for k, v in last["live_objects"].items() if v > first["live_objects"].get(k, 0) + 2]
        heap = (last["heap_bytes"] - first["heap_bytes"]) / turns if last.get("heap_bytes") is not None else 0.0
        out.append({"workload": "longlived", "what": "heap growth per finished turn (bytes), tables that grew",
                    "value": heap, "target": f"<= {GROWTH_TARGET_BYTES_PER_TURN:g}, none",
                    "pass": heap <= GROWTH_TARGET_BYTES_PER_TURN and not grew and life["errors"] == 0,
                    "note": ", ".join(grew) or "none"})
    return out


# -- printing -------------------------------------------------------------------------------
def _table(rows: List[List[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _kib(value: Optional[float]) -> str:
    return "-" if value is None else f"{value / 1024:.1f} KiB"


def _mib(value: Optional[float]) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MiB"


def _pct(stats: JsonDict, key: str, scale: float = 1.0, unit: str = "ms") -> str:
    if not stats.get("n"):
        return "-"
    return f"{stats['p50'] * scale:.2f} / {stats['p99'] * scale:.2f} {unit}"


def _loads(run: JsonDict) -> str:
    before = run.get("load_before_process") or run.get("load_before") or [float("nan")]
    after = run.get("load_after_process") or run.get("load_after") or [float("nan")]
    return f"{before[0]:.1f} -> {after[0]:.1f}"


def render(results: JsonDict, verdict_list: List[JsonDict]) -> str:
    text: List[str] = []
    runs = results.get("concurrent", [])
    if runs:
        text.append("Concurrent turns over ONE client, each on its own codex thread (real app-server, "
                    "scripted model)")
        rows = [["mode", "turns", "right", "open (s)", "RSS/open turn", "idle CPU", "trickle: emitted->caller",
                 "trickle: received->caller", "burst: emitted->caller", "server CPU (open)", "load 1-min"]]
        for run in runs:
            if "failed" in run:
                rows.append([run["args"][4], run["args"][2], "FAILED: " + run["failed"][:80], "", "", "", "", "",
                             "", "", ""])
                continue
            p1, p2 = run["phase1"], run["phase2"]
            rows.append([
                run["mode"], str(run["turns"]),
                f"{run['turns'] - run['wrong_answers']}/{run['turns']}",
                f"{run['open']['wall_s']:.1f}",
                _kib(run["rss_per_open_turn"]),
                f"{run['idle']['client_core_percent']:.1f}%",
                _pct(p1["emitted_to_caller_ms"], "ms"),
                _pct(p1["received_to_caller_us"], "us", 1.0, "us"),
                _pct(p2["emitted_to_caller_ms"], "ms"),
                f"{run['open']['server_core_percent']:.0f}% of a core",
                _loads(run),
            ])
        text += [_table(rows),
                 "  (hand-offs: p50 / p99. trickle = the first agentMessage of every turn, one every "
                 f"{runs[0].get('interval_s', 0) * 1000:g} ms, all turns open; burst = every turn's last message "
                 "at once. idle CPU = the client with every caller blocked.)", ""]
    mem = results.get("memory")
    if mem:
        text.append(f"Client memory (tracemalloc, {mem.get('count', '?')} of each)")
        if "failed" in mem:
            text.append(f"  FAILED: {mem['failed']}")
        else:
            rows = [["what", "per item", "top allocations per item (file: bytes)"]]

            def row(label: str, key: str) -> None:
                d = mem[key]
                rows.append([label, _kib(d["per_item_bytes"]),
                             ", ".join(f"{f}: {b}" for f, b in d["top_files_per_item"][:4])])

            row("loaded thread (client tables)", "loaded_thread_client")
            row("ThreadHandle held by the caller", "loaded_thread_handle")
            row(f"open turn, stream held ({mem['events_per_open_turn']:.0f} events)", "open_turn")
            row("idle retained turn (continuation only)", "idle_retained_turn")
            text.append(_table(rows))
            text.append(f"  finished unread turns kept: {mem['finished_unread_before_prune']} before the next "
                        f"turn, {mem['finished_unread_after_prune']} after it (cap 64); load {_loads(mem)}")
            text.append("")
    life = results.get("longlived")
    if life:
        text.append(f"Long-lived client: {life.get('threads', '?')} threads x {life.get('rounds', '?')} rounds "
                    "(max_loaded_threads=100)")
        if "failed" in life:
            text.append(f"  FAILED: {life['failed']}")
        else:
            rows = [["turns done", "turns/s", "client CPU/turn", "heap", "RSS", "server RSS", "loaded",
                     "retained", "live TurnState", "errors", "load"]]
            for c in life["checkpoints"]:
                rows.append([str(c["turns_done"]), f"{c['turns_per_s']:.1f}", f"{c['cpu_us_per_turn'] / 1000:.2f} ms",
                             _kib(c["heap_bytes"]), _mib(c["rss_bytes"]), _mib(c["server_rss_bytes"]),
                             str(c["loaded_threads"]), str(c["retained_turns"]),
                             str(c["live_objects"].get("TurnState", 0)), str(c["errors"]), f"{c['load'][0]:.1f}"])
            text.append(_table(rows))
            text.append("  (heap: tracemalloc, over the start; RSS: the client's growth; the client traces its "
                        "allocations, so CPU/turn is inflated)")
            text.append("")
    start = results.get("startup")
    if start:
        text.append("Start-up (fresh processes, real app-server)")
        rows = [["client", "python", "import (fresh process)", "-X importtime", "connect -> first answer", "load"]]
        for name, entry in start["clients"].items():
            if not entry.get("available"):
                rows.append([name, "-", entry.get("why", "not available"), "", "", ""])
                continue
            imp = entry["import"]
            rows.append([f"{name} {entry.get('version') or ''}".strip(), entry.get("python") or "",
                         f"{imp['import_s'] * 1000:.0f} ms", f"{(imp['importtime_s'] or 0) * 1000:.0f} ms",
                         f"{entry['first_answer_s'] * 1000:.0f} ms", f"{entry['load_before'][0]:.1f}"])
        text.append(_table(rows))
        text.append("")
    text.append("Scale targets:")
    for v in verdict_list:
        note = f" [{v['note']}]" if v.get("note") else ""
        text.append(f"  {'PASS' if v['pass'] else 'MISS'}  {v['workload']:<28} {v['what']}: {v['value']:.3f} "
                    f"(target {v['target']}){note}")
    return "\n".join(text)


def summarize_profile(path: Path, top: int = 12) -> str:
    """py-spy ``--gil --threads --format raw`` output, callers grouped: who holds the GIL, doing what.

    Threads are grouped by name less a trailing ``_N`` (the pool's ``caller_17`` -> ``caller``).
    Percentages are of all samples (with ``--gil``: of the time some thread held the GIL).
    """
    groups: Dict[str, Dict[str, Dict[str, int]]] = {}
    totals: Dict[str, int] = {}
    grand = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        group = "?"
        calls = []
        for frame in frames:
            if frame.startswith("thread ("):
                match = re.search(r'"([^"]*)"', frame)
                group = re.sub(r"_\d+$", "", match.group(1)) if match else frame
            elif not frame.startswith("process "):
                name, _, where = frame.partition(" (")
                calls.append(f"{name} ({where.rstrip(')').rsplit('/', 1)[-1].rsplit(':', 1)[0]})")
        if not calls:
            continue
        grand += count
        totals[group] = totals.get(group, 0) + count
        g = groups.setdefault(group, {"self": {}, "incl": {}})
        g["self"][calls[-1]] = g["self"].get(calls[-1], 0) + count
        for call in set(calls):
            g["incl"][call] = g["incl"].get(call, 0) + count
    out = [f"{path.name}: {grand} samples"]
    for group, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        if total < grand * 0.01:
            continue
        out.append(f"== {group}: {total / grand * 100:.1f}% of samples")
        for kind in ("self", "incl"):
            ranked = sorted(groups[group][kind].items(), key=lambda kv: -kv[1])[:top]
            out.append(f"   {kind}: " + "; ".join(f"{n / grand * 100:.1f}% {name}" for name, n in ranked))
    return "\n".join(out)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summarize_profile(Path(arg)))
