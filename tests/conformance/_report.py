"""A pytest plugin for the conformance runner: one JSON line per scenario outcome.

Loaded with ``-p tests.conformance._report``; writes to the file named by
``$CODEX_SYNC_CONFORMANCE_REPORT``. A scenario's row is its worst phase:
an error in setup or teardown fails it, a skip skips it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import pytest

REPORT_ENV = "CODEX_SYNC_CONFORMANCE_REPORT"
_rows: Dict[str, Dict[str, Any]] = {}
_RANK = {"pass": 0, "skip": 1, "fail": 2}


def _first_line(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].endswith("Regex pattern did not match.") and len(lines) >= 3:
        return f"{lines[0]} {lines[1]} {lines[2]}"  # the pattern and the message it did not find
    return lines[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        outcome = "pass"
    elif report.failed:
        outcome = "fail"
    elif report.skipped:
        outcome = "skip"
    else:
        return
    row = _rows.setdefault(report.nodeid, {"id": report.nodeid, "result": "pass", "error": "",
                                           "seconds": 0.0})
    row["seconds"] = round(row["seconds"] + report.duration, 2)
    if _RANK[outcome] > _RANK[row["result"]]:
        row["result"] = outcome
        row["error"] = ("" if outcome == "pass" else f"[{report.when}] " if report.when != "call" else "") + _first_line(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:  # a scenario file that does not import: one failed row for the file
        _rows[report.nodeid] = {"id": report.nodeid, "result": "fail", "seconds": 0.0,
                                "error": "[collect] " + _first_line(report)}  # type: ignore[arg-type]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "w", encoding="utf-8") as out:
        for row in _rows.values():
            out.write(json.dumps(row) + "\n")
