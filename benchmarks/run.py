"""Run the codex_sync benchmarks, print a table, write JSON.

    python benchmarks/run.py [--quick] [--json OUT.json] [--only flood,round_trip,...]
                             [--no-others] [--async-sdk-python PYTHON]
    python benchmarks/run.py --scale [--quick] [--only concurrent,memory,longlived,startup]
                             [--sizes 100,250,500,1000] [--modes pool,roundrobin] [--profile]

See benchmarks/README.md for what each workload measures and the targets.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import others, scale, workloads  # noqa: E402

JsonDict = Dict[str, Any]
WORKLOADS = ("flood", "round_trip", "many_threads", "idle", "big_message")
DEFAULT_JSON = ROOT / "benchmarks" / "out" / "results.json"
SCALE_JSON = ROOT / "benchmarks" / "out" / "scale.json"


@dataclass(frozen=True)
class Target:
    """A result passes when ``value(result)`` is below ``limit`` (or equal, unless ``strict``)."""

    what: str
    limit: float
    strict: bool
    value: Callable[[JsonDict], float]

    def check(self, result: JsonDict) -> JsonDict:
        value = float(self.value(result))
        passed = value < self.limit if self.strict else value <= self.limit
        return {"what": self.what, "value": value, "target": f"{'<' if self.strict else '<='} {self.limit:g}",
                "pass": passed}


TARGETS: Dict[str, Target] = {
    "flood": Target("client wall / floor wall", 1.0, False, lambda r: r["ratio_wall"]),
    "round_trip": Target("client wall / floor wall", 1.05, False, lambda r: r["ratio_wall"]),
    "idle": Target("% of one core while blocked", 0.5, True, lambda r: r["core_percent"]),
    "big_message": Target("peak RSS growth / message size", 3.0, False,
                          lambda r: r["client"]["peak_over_size"]),
}


def _git(*args: str) -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                             check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _meta(quick: bool) -> JsonDict:
    import codex_sync

    return {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "codex_sync": getattr(codex_sync, "__version__", "?"),
        "git_rev": _git("rev-parse", "--short", "HEAD"),
        "codex_sync_uncommitted": (_git("status", "--porcelain", "--", "codex_sync") or "").splitlines(),
        "loadavg_before": list(os.getloadavg()),
    }


def _verdicts(results: JsonDict) -> List[JsonDict]:
    """Each target with the measured value and PASS/MISS."""
    out = [{"workload": name, **target.check(results[name])}
           for name, target in TARGETS.items() if name in results]
    if "many_threads" in results:
        runs = {r["threads"]: r for r in results["many_threads"]["runs"]}
        errors = sum(r["errors"] for r in runs.values())
        growth = runs[8]["turns_per_s"] / runs[1]["turns_per_s"] if 1 in runs and 8 in runs else float("nan")
        out.append({"workload": "many_threads", "what": "errors; turns/s at 8 threads / at 1",
                    "value": growth, "errors": errors, "target": "0 errors, > 1",
                    "pass": errors == 0 and growth > 1.0})
    return out


# -- printing ---------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _table(rows: List[List[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(results: JsonDict, other: JsonDict, verdicts: List[JsonDict]) -> str:
    rows = [["workload", "measure", "codex_sync", "floor", "ratio"]]
    if "flood" in results:
        r = results["flood"]
        label = f"flood ({r['deltas']} deltas, {r['items']} items)"
        rows.append([label, "wall (median)", _ms(r["client"]["wall_s"]), _ms(r["floor"]["wall_s"]),
                     f"{r['ratio_wall']:.2f}x"])
        rows.append(["", "CPU (median)", _ms(r["client"]["cpu_s"]), _ms(r["floor"]["cpu_s"]),
                     f"{r['ratio_cpu']:.2f}x"])
        rows.append(["", "wake-ups per turn", f"{r['client']['switches']:.0f}", f"{r['floor']['switches']:.0f}", "-"])
        rows.append(["", "2-thread floor: wall, CPU", "-", f"{_ms(r['floor_threaded']['wall_s'])}, "
                     f"{_ms(r['floor_threaded']['cpu_s'])}", f"{r['floor_threaded_ratio_wall']:.2f}x"])
        rows.append(["flood, chat_once(on_delta=...)", "wall (median)", _ms(r["client_on_delta"]["wall_s"]),
                     _ms(r["floor"]["wall_s"]), f"{r['on_delta_ratio_wall']:.2f}x"])
        rows.append(["", "CPU (median)", _ms(r["client_on_delta"]["cpu_s"]), _ms(r["floor"]["cpu_s"]),
                     f"{r['on_delta_ratio_cpu']:.2f}x"])
        rows.append(["", "wake-ups per turn", f"{r['client_on_delta']['switches']:.0f}",
                     f"{r['floor']['switches']:.0f}", "-"])
    if "round_trip" in results:
        r = results["round_trip"]
        rows.append([f"round trip ({r['requests']} x thread/list)", "wall (median)",
                     f"{_ms(r['client']['wall_s'])} ({r['client']['us_per_request']:.1f} us/req)",
                     f"{_ms(r['floor']['wall_s'])} ({r['floor']['us_per_request']:.1f} us/req)",
                     f"{r['ratio_wall']:.2f}x"])
        rows.append(["", "CPU (median)", _ms(r["client"]["cpu_s"]), _ms(r["floor"]["cpu_s"]),
                     f"{r['ratio_cpu']:.2f}x"])
        rows.append(["", "wake-ups per request", f"{r['client']['switches'] / r['requests']:.2f}",
                     f"{r['floor']['switches'] / r['requests']:.2f}", "-"])
        ft = r["floor_threaded"]
        rows.append(["", "2-thread floor: wall, CPU", "-", f"{_ms(ft['wall_s'])} ({ft['us_per_request']:.1f} "
                     f"us/req), {_ms(ft['cpu_s'])}", f"{r['floor_threaded_ratio_wall']:.2f}x"])
        rows.append(["", "codex_sync / 2-thread floor", "-", "-", f"{r['client_over_threaded_wall']:.2f}x"])
    if "many_threads" in results:
        r = results["many_threads"]
        fl = r["floor"]
        for run in r["runs"]:
            one = run["threads"] == 1
            rows.append([f"many threads ({run['threads']} x {run['turns_each']} turns)", "turns/s",
                         f"{run['turns_per_s']:.0f}/s, {run['errors']} errors "
                         f"(CPU {run['cpu_s'] / run['turns'] * 1e6:.0f} us/turn, "
                         f"{run['cpu_s'] / run['wall_s'] * 100:.0f}% of a core)",
                         f"{fl['turns_per_s']:.0f}/s (CPU {fl['cpu_us_per_turn']:.0f} us/turn)" if one else "-",
                         f"{fl['turns_per_s'] / run['turns_per_s']:.2f}x" if one else "-"])
    if "idle" in results:
        r = results["idle"]
        rows.append([f"idle ({r['seconds']:g} s in chat_once)", "CPU, % of one core",
                     f"{r['core_percent']:.3f}% ({_ms(r['cpu_s'])} CPU, {r['voluntary_switches']} wakeups)",
                     "-", "-"])
    if "big_message" in results:
        r = results["big_message"]
        size = r["size_bytes"] / 2**20
        rows.append([f"big message ({size:.0f} MiB line)", "wall (median)", _ms(r["client"]["wall_s"]),
                     _ms(r["floor"]["wall_s"]), f"{r['ratio_wall']:.2f}x"])
        rows.append(["", "peak RSS growth / size", f"{r['client']['peak_over_size']:.2f}x "
                     f"({r['client']['peak_growth_bytes'] / 2**20:.0f} MiB)",
                     f"{r['floor']['peak_over_size']:.2f}x ({r['floor']['peak_growth_bytes'] / 2**20:.0f} MiB)",
                     "-"])
    text = [_table(rows), "", "Targets:"]
    for v in verdicts:
        extra = f", {v['errors']} errors" if "errors" in v else ""
        text.append(f"  {'PASS' if v['pass'] else 'MISS'}  {v['workload']:<13} {v['what']}: "
                     f"{v['value']:.3f}{extra} (target {v['target']})")
    if other:
        text += ["", "Other clients, same stand-in server (ratios against the floor above):"]
        rows = [["client", "flood wall", "flood CPU", "flood / floor", "round trip", "round trip / floor"]]
        floor_flood = results.get("flood", {}).get("floor", {}).get("wall_s")
        floor_rt = results.get("round_trip", {}).get("floor", {}).get("wall_s")
        if "flood" in results:
            rows.append(["codex_sync",
                         _ms(results["flood"]["client"]["wall_s"]), _ms(results["flood"]["client"]["cpu_s"]),
                         f"{results['flood']['ratio_wall']:.2f}x",
                         f"{results['round_trip']['client']['us_per_request']:.1f} us/req"
                         if "round_trip" in results else "-",
                         f"{results['round_trip']['ratio_wall']:.2f}x" if "round_trip" in results else "-"])
        for name, r in other.items():
            if not r.get("available"):
                text.append(f"  {r['why']}")
                continue
            fl, rt = r.get("flood"), r.get("round_trip")
            rows.append([f"{name} {r.get('version', '')}",
                         _ms(fl["wall_s"]) if fl else "-", _ms(fl["cpu_s"]) if fl else "-",
                         f"{fl['wall_s'] / floor_flood:.2f}x" if fl and floor_flood else "-",
                         f"{rt['us_per_request']:.1f} us/req" if rt else "-",
                         f"{rt['wall_s'] / floor_rt:.2f}x" if rt and floor_rt else "-"])
        if len(rows) > 1:
            text.append(_table(rows))
    return "\n".join(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="codex_sync benchmarks against a stand-in app-server")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and shorter waits (~1 min)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"where to write (default {DEFAULT_JSON}, with --scale {SCALE_JSON})")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(WORKLOADS)} "
                                                   f"(with --scale: of {','.join(scale.SCALE_WORKLOADS)})")
    parser.add_argument("--scale", action="store_true",
                        help="run the scale workloads instead (real codex app-server; long: run under "
                             "flock /tmp/heavy.lock on a shared machine)")
    parser.add_argument("--sizes", default="", help="--scale: open-turn counts (default 100,250,500,1000; "
                                                    "--quick 50,100)")
    parser.add_argument("--modes", default="pool,roundrobin", help="--scale: pool and/or roundrobin")
    parser.add_argument("--interval", type=float, default=0.005,
                        help="--scale: seconds between first messages in the trickle (default 0.005)")
    parser.add_argument("--profile", action="store_true",
                        help="--scale: run the largest concurrent size under py-spy (needs py-spy on PATH)")
    parser.add_argument("--no-others", action="store_true", help="skip openai-codex / codex-app-server-sdk")
    parser.add_argument("--async-sdk-python", default=os.environ.get("CODEX_BENCH_ASYNC_PYTHON"),
                        help="a Python >= 3.12 with codex-app-server-sdk installed "
                             "(default $CODEX_BENCH_ASYNC_PYTHON)")
    args = parser.parse_args(argv)
    only = [w for w in args.only.split(",") if w]
    if args.scale:
        return main_scale(parser, args, only)
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    meta = _meta(args.quick)
    print(f"codex_sync benchmarks ({'quick' if args.quick else 'full'}), load average "
          f"{meta['loadavg_before'][0]:.2f} on {meta['cpus']} CPUs", file=sys.stderr)
    results = workloads.run_all(quick=args.quick, only=only or None)
    other: JsonDict = {}
    if not args.no_others and (not only or "flood" in only or "round_trip" in only):
        repeats = 3 if args.quick else 9
        print("  running openai-codex ...", file=sys.stderr, flush=True)
        other["openai-codex"] = others.openai_codex(repeats, 20_000, 200, 2_000)
        print("  running codex-app-server-sdk ...", file=sys.stderr, flush=True)
        other["codex-app-server-sdk"] = others.async_sdk(args.async_sdk_python, repeats, 20_000, 200, 2_000)
    verdicts = _verdicts(results)
    meta["loadavg_after"] = list(os.getloadavg())
    meta["elapsed_s"] = time.perf_counter() - started
    report = {"meta": meta, "results": results, "others": other, "targets": verdicts}
    print(render(results, other, verdicts))
    busy = max(meta["loadavg_before"][0], meta["loadavg_after"][0])
    if busy > (meta["cpus"] or 1) * 0.75:
        print(f"\nWARNING: the machine was busy (load average up to {busy:.2f} on {meta['cpus']} CPUs): "
              "wall times are inflated; compare ratios and CPU times, or rerun when it is quiet.")
    args.json = args.json or DEFAULT_JSON
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}  ({meta['elapsed_s']:.0f} s; load average now "
          f"{meta['loadavg_after'][0]:.2f})")
    return 0


def main_scale(parser: argparse.ArgumentParser, args: argparse.Namespace, only: List[str]) -> int:
    unknown = set(only) - set(scale.SCALE_WORKLOADS)
    if unknown:
        parser.error(f"unknown scale workloads: {', '.join(sorted(unknown))}")
    modes = [m for m in args.modes.split(",") if m]
    if set(modes) - {"pool", "roundrobin"}:
        parser.error("--modes takes pool and/or roundrobin")
    sizes = [int(n) for n in args.sizes.split(",") if n] or None
    started = time.perf_counter()
    meta = _meta(args.quick)
    print(f"codex_sync scale benchmarks ({'quick' if args.quick else 'full'}), load average "
          f"{meta['loadavg_before'][0]:.2f} on {meta['cpus']} CPUs", file=sys.stderr)
    profile_dir = ROOT / "benchmarks" / "out" if args.profile else None
    results = scale.run_scale(args.quick, only, sizes, modes, args.interval, args.async_sdk_python, profile_dir)
    verdicts = scale.verdicts(results)
    meta["loadavg_after"] = list(os.getloadavg())
    meta["elapsed_s"] = time.perf_counter() - started
    print(scale.render(results, verdicts))
    for run in results.get("concurrent", []):
        profile = Path(run["profile"]) if run.get("profile") else None
        if profile is not None and profile.exists():
            print("\nWhere the GIL went (py-spy --gil):\n" + scale.summarize_profile(profile))
    path = args.json or SCALE_JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "results": results, "targets": verdicts}, indent=2) + "\n",
                    encoding="utf-8")
    print(f"\nJSON: {path}  ({meta['elapsed_s']:.0f} s; load average {meta['loadavg_before'][0]:.2f} before, "
          f"{meta['loadavg_after'][0]:.2f} now)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
