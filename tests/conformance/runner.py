"""Run the whole seed conformance suite and print ``seed conformance: P/T`` with a table.

Three kinds of rows:

- ``example``: each of the seed's examples, ported (``porter.py``), run as a
  subprocess against a real ``codex app-server`` bound to the scripted model,
  over stdio and, where it takes a URL, over websocket (``example_runs.py``).
  It passes when it exits 0 (the examples turn errors into exit codes 2-4).
- ``snippet``: each ```` ```python ```` block of the seed's README and docs,
  ported and run the same way, inside a harness when it is a fragment
  (``snippet_runs.py``). It passes when it runs to the end.
- ``scenario``: the rewrite of the seed's unit tests and of issue 12's list
  (``scenario_*.py``), run by pytest in a subprocess.

``P`` counts passes, ``T`` passes and failures; skipped rows (with their
reason) are listed apart. ``baseline.json`` holds the ``P`` that
``tests/test_seed_conformance.py`` must not fall below; ``--write-baseline``
rewrites it and ``BASELINE.md``.

``python -m tests.conformance [--only examples,snippets,scenarios] [--jobs 2]
[--write-baseline] [--json FILE]``
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BASELINE_JSON = HERE / "baseline.json"
BASELINE_MD = HERE / "BASELINE.md"
PARTS = ("examples", "snippets", "scenarios")
EXAMPLE_TIMEOUT = 60.0
SNIPPET_TIMEOUT = 30.0
SCENARIO_TIMEOUT = 600.0
SCENARIO_TEST_TIMEOUT = 60  # pytest-timeout per scenario: a hang fails one row, not the run
_ENV_DROP = ("CODEX_APP_SERVER_CMD", "CODEX_APP_SERVER_WS_URL", "CODEX_APP_SERVER_TOKEN", "PYTHONPATH")


@dataclass
class Row:
    kind: str  # "example", "snippet", "scenario"
    id: str
    result: str  # "pass", "fail", "skip"
    error: str = ""  # first line of the error, or the reason for a skip
    seconds: float = 0.0


@dataclass
class Report:
    rows: List[Row]
    seconds: float

    @property
    def passed(self) -> int:
        return sum(row.result == "pass" for row in self.rows)

    @property
    def total(self) -> int:
        return sum(row.result != "skip" for row in self.rows)

    @property
    def skipped(self) -> List[Row]:
        return [row for row in self.rows if row.result == "skip"]

    @property
    def summary(self) -> str:
        return f"seed conformance: {self.passed}/{self.total}"


# ---------------------------------------------------------------- subprocesses


def _clean_env(extra: Dict[str, str], pythonpath: Optional[Path] = None) -> Dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _ENV_DROP}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def first_error(returncode: Optional[int], stdout: str, stderr: str) -> str:
    """The line that says what went wrong: an ``[error]`` line, a traceback's last line, or the exit code."""
    err_lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    marked = [line for line in err_lines if line.startswith("[error]")]
    if marked:
        return marked[0]
    if "Traceback (most recent call last)" in stderr:
        tail = stderr[stderr.rindex("Traceback (most recent call last)"):]
        exception_lines = [ln for ln in tail.splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
        if len(exception_lines) > 1:
            return exception_lines[1].strip()
    if err_lines:
        return err_lines[-1]
    out_lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    return f"exit code {returncode}" + (f"; last output: {out_lines[-1]}" if out_lines else "")


def run_python(path: Path, args: Sequence[str], env: Dict[str, str], cwd: Path, timeout: float,
               expect: Sequence[str] = ()) -> Tuple[str, str, float]:
    """Run ``python path args``; return (result, error line, seconds).

    It passes when it exits 0 and its output matches every regex of ``expect``.
    """
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, str(path), *args], cwd=str(cwd), env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        last = [line for line in stderr.splitlines() if line.strip()]
        detail = f" (last stderr: {last[-1].strip()})" if last else ""
        return "fail", f"timed out after {timeout:.0f}s{detail}", time.monotonic() - started
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        return "fail", first_error(proc.returncode, proc.stdout, proc.stderr), seconds
    missing = [pattern for pattern in expect if not re.search(pattern, proc.stdout + proc.stderr)]
    if missing:
        return "fail", f"exited 0 but its output lacks /{missing[0]}/", seconds
    return "pass", "", seconds


# ---------------------------------------------------------------- the parts


def run_examples(ported: Dict[str, Path], port_dir: Path, scratch: Path, transport: str) -> List[Row]:
    """Every example run over ``transport``, one after the other (they share one scripted model)."""
    from codex_sync.testing import AppServer, ScriptedModel
    from tests.conformance.example_runs import NEEDS_THREAD, plan_runs

    runs = [run for run in plan_runs(ported) if run.transport == transport]
    if not runs:
        return []
    rows: List[Row] = []
    workdir = scratch / f"examples-{transport}"
    workdir.mkdir(parents=True, exist_ok=True)
    with ScriptedModel() as model, AppServer(model, transport=transport, cwd=workdir) as server:
        env = _clean_env(server.env, pythonpath=port_dir)
        for run in runs:
            thread_id = None
            if run.name in NEEDS_THREAD:
                try:
                    with server.client() as client:
                        thread_id = client.chat_once("a first turn, to resume later").thread_id
                except Exception as exc:  # the setup uses codex_sync itself
                    rows.append(Row("example", run.row_id, "fail", f"setup (a thread to resume): {exc!r}"))
                    continue
            if run.variant.script is not None:
                run.variant.script(model)
            result, error, seconds = run_python(run.path, run.argv(server, workdir, thread_id), env, workdir,
                                                EXAMPLE_TIMEOUT, run.variant.expect)
            rows.append(Row("example", run.row_id, result, error, round(seconds, 2)))
    return rows


# Turns the approval snippets ask for: the model asks to leave the sandbox, so the server asks for approval.
APPROVAL_PROMPTS = ("may request approval", "may need approvals", "execute after confirmation")


def run_snippets(root: Path, port_dir: Path, scratch: Path) -> List[Row]:
    from codex_sync.testing import AppServer, ScriptedModel, exec_command, hang, text
    from tests.conformance.porter import seed_snippets, snippet_filename
    from tests.conformance.snippet_runs import plan, seed_exports

    exports = seed_exports(root)
    snippets = seed_snippets(root)
    workdir = scratch / "snippets"
    project = scratch / "project"
    (port_dir / "snippets").mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    project.mkdir(parents=True, exist_ok=True)
    rows: List[Row] = []
    with ScriptedModel() as model, \
            AppServer(model, cwd=workdir, approval_policy="on-request", sandbox_mode="workspace-write") as stdio, \
            AppServer(model, transport="websocket", cwd=workdir) as ws:
        for n, prompt in enumerate(APPROVAL_PROMPTS):
            model.on(prompt, exec_command(f"touch {workdir}/approved-{n}", escalated=True,
                                          justification="write outside the workspace"), text("Done."))
        env = _clean_env({**stdio.env, "CODEX_APP_SERVER_CMD": shlex.join(stdio.command),
                          "CODEX_APP_SERVER_WS_URL": ws.url, "CODEX_APP_SERVER_TOKEN": ws.token},
                         pythonpath=port_dir)
        for snippet in snippets:
            row_id = f"{snippet.key} (line {snippet.line})"
            try:
                planned = plan(snippet, exports, ws_url=ws.url, project_dir=project)
            except SyntaxError as exc:
                rows.append(Row("snippet", row_id, "fail", f"does not port: SyntaxError: {exc}"))
                continue
            if planned.skip is not None or planned.source is None:
                rows.append(Row("snippet", row_id, "skip", planned.skip or ""))
                continue
            if planned.hang_key is not None:
                model.on(planned.hang_key, hang(20))
            path = port_dir / "snippets" / snippet_filename(snippet)
            path.write_text(planned.source, encoding="utf-8")
            result, error, seconds = run_python(path, [], env, workdir, SNIPPET_TIMEOUT)
            rows.append(Row("snippet", row_id, result, error, round(seconds, 2)))
    return rows


def run_scenarios(scratch: Path) -> List[Row]:
    from tests.conformance._report import REPORT_ENV

    report = scratch / "scenarios.jsonl"
    files = sorted(str(path.relative_to(REPO)) for path in HERE.glob("scenario_*.py"))
    env = _clean_env({REPORT_ENV: str(report)})
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.conformance._report", "-p", "no:cacheprovider",
               f"--timeout={SCENARIO_TEST_TIMEOUT}", "-o", "addopts=", "--no-header", "-rN", *files]
    try:
        proc = subprocess.run(command, cwd=str(REPO), env=env, capture_output=True, text=True,
                              timeout=SCENARIO_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return [Row("scenario", "tests/conformance/scenario_*.py", "fail",
                    f"pytest did not finish within {SCENARIO_TIMEOUT:.0f}s")]
    rows: List[Row] = []
    if report.exists():
        for line in report.read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            node = data["id"].replace("tests/conformance/", "").replace(".py::", "::")
            rows.append(Row("scenario", node, data["result"], data["error"], data["seconds"]))
    if not rows:
        rows.append(Row("scenario", "tests/conformance/scenario_*.py", "fail",
                        first_error(proc.returncode, proc.stdout, proc.stderr)))
    return rows


# ---------------------------------------------------------------- the whole run


def run_all(parts: Sequence[str] = PARTS, jobs: int = 2, log: Callable[[str], None] = lambda _: None) -> Report:
    from tests.conformance.porter import port_tree, seed_root

    started = time.monotonic()
    rows: List[Row] = []
    with tempfile.TemporaryDirectory(prefix="codex-sync-conformance-") as tmp:
        scratch = Path(tmp)
        tasks: List[Tuple[str, Callable[[], List[Row]]]] = []
        if "examples" in parts or "snippets" in parts:
            root = seed_root()
            log(f"seed: {root}")
            ported = port_tree(root, scratch / "port")
            for key, error in ported.errors.items():
                kind = "example" if key.endswith(".py") else "snippet"
                rows.append(Row(kind, key, "fail", f"does not port: {error}"))
            if "examples" in parts:
                for transport in ("stdio", "websocket"):
                    tasks.append((f"examples over {transport}", lambda t=transport: run_examples(  # type: ignore[misc]
                        ported.examples, ported.out, scratch, t)))
            if "snippets" in parts:
                tasks.append(("snippets", lambda: run_snippets(root, ported.out, scratch)))
        if "scenarios" in parts:
            tasks.append(("scenarios", lambda: run_scenarios(scratch)))
        lock = threading.Lock()

        def run_task(name: str, task: Callable[[], List[Row]]) -> List[Row]:
            begun = time.monotonic()
            try:
                found = task()
            except Exception as exc:  # a broken rig is one failed row, not a crash
                found = [Row(name.split()[0].rstrip("s"), f"<{name}>", "fail", f"runner: {exc!r}")]
            with lock:
                log(f"{name}: {sum(r.result == 'pass' for r in found)}/{sum(r.result != 'skip' for r in found)}"
                    f" in {time.monotonic() - begun:.1f}s")
            return found

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(run_task, name, task) for name, task in tasks]
            for future in futures:
                rows.extend(future.result())
    for row in rows:  # no machine-specific paths in the table
        row.error = row.error.replace(str(REPO) + os.sep, "").replace(str(scratch), "<scratch>")
    order = {"example": 0, "snippet": 1, "scenario": 2}
    rows.sort(key=lambda row: (order.get(row.kind, 3), row.id))
    return Report(rows, round(time.monotonic() - started, 1))


# ---------------------------------------------------------------- output


def _cell(text: str, limit: int = 160) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(report: Report) -> str:
    lines = ["| kind | id | result | first error line / reason |", "| --- | --- | --- | --- |"]
    for row in report.rows:
        lines.append(f"| {row.kind} | `{row.id}` | {row.result} | {_cell(row.error)} |")
    return "\n".join(lines)


_VOLATILE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|0x[0-9a-f]+|/tmp/\S+")


def by_cause(report: Report) -> Dict[str, List[str]]:
    """Failed rows grouped by their error line (ids, addresses and temp paths blanked out)."""
    groups: Dict[str, List[str]] = {}
    for row in report.rows:
        if row.result == "fail":
            groups.setdefault(_VOLATILE.sub("…", row.error), []).append(row.id)
    return dict(sorted(groups.items(), key=lambda item: -len(item[1])))


def text_report(report: Report) -> str:
    counts = {kind: (sum(r.result == "pass" for r in report.rows if r.kind == kind),
                     sum(r.result != "skip" for r in report.rows if r.kind == kind)) for kind in ("example", "snippet", "scenario")}
    lines = [report.summary,
             "  " + ", ".join(f"{kind}s {p}/{t}" for kind, (p, t) in counts.items()),
             f"  skipped (not counted): {len(report.skipped)}; run took {report.seconds:.1f}s", "", table(report)]
    return "\n".join(lines)


def markdown(report: Report) -> str:
    out = [
        "# Seed conformance baseline",
        "",
        "Written by `python -m tests.conformance --write-baseline`; do not edit by hand. The seed is",
        "`codex-app-server-sdk` 0.4.1; see `tests/conformance/runner.py` for what each kind of row means.",
        "",
        f"**{report.summary}** (skipped, not counted: {len(report.skipped)}; the run took {report.seconds:.0f} s)",
        "",
        "## Skipped",
        "",
    ]
    out += [f"- `{row.id}`: {row.error}" for row in report.skipped] or ["- none"]
    out += ["", "## Failures by cause", ""]
    for cause, ids in by_cause(report).items():
        out.append(f"- {_cell(cause, 240)} ({len(ids)})")
        out += [f"  - `{row_id}`" for row_id in ids]
    out += ["", "## All rows", "", table(report), ""]
    return "\n".join(out)


def load_baseline() -> Dict[str, Any]:
    """``{"passed": P, "total": T, "skipped": S, "passing": [row ids]}`` (zeros when there is none)."""
    if BASELINE_JSON.exists():
        return json.loads(BASELINE_JSON.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    return {"passed": 0, "total": 0, "skipped": 0, "passing": []}


def regressions(report: Report, baseline: Dict[str, Any]) -> List[Row]:
    """Rows that passed in the baseline and fail now."""
    passing = set(baseline.get("passing", []))
    return [row for row in report.rows if row.id in passing and row.result == "fail"]


def write_baseline(report: Report) -> None:
    data = {"passed": report.passed, "total": report.total, "skipped": len(report.skipped),
            "passing": [row.id for row in report.rows if row.result == "pass"]}
    BASELINE_JSON.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    BASELINE_MD.write_text(markdown(report), encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts: " + ", ".join(PARTS))
    parser.add_argument("--jobs", type=int, default=2, help="parts run at the same time (default 2)")
    parser.add_argument("--write-baseline", action="store_true", help="rewrite baseline.json and BASELINE.md")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    report = run_all(parts, args.jobs, log=lambda message: print(message, file=sys.stderr, flush=True))
    print(text_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": report.summary, "seconds": report.seconds,
                                               "rows": [asdict(row) for row in report.rows]}, indent=2),
                                   encoding="utf-8")
    if args.write_baseline:
        if set(parts) != set(PARTS):
            parser.error("--write-baseline needs every part")
        write_baseline(report)
        print(f"wrote {BASELINE_JSON.relative_to(REPO)} and {BASELINE_MD.relative_to(REPO)}", file=sys.stderr)
    return 0
