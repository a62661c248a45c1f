"""Seed parity (issue 12): the conformance suite of ``tests/conformance``, as one test.

It runs the seed's ported examples and README/docs snippets against a real
``codex app-server`` and the rewritten seed scenarios, prints
``seed conformance: P/T`` with the table, and fails only on a regression: a
pass count below ``tests/conformance/baseline.json``, or a row that passed
there and fails now. Progress never fails it; raise the baseline with
``python -m tests.conformance --write-baseline``. Select it with
``-m conformance``.
"""

from __future__ import annotations

import pytest

from tests.conformance.porter import seed_root
from tests.conformance.runner import load_baseline, regressions, run_all, text_report

pytestmark = [pytest.mark.conformance, pytest.mark.real_server]


def test_seed_conformance_does_not_regress(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        seed_root()
    except RuntimeError as exc:  # the seed is downloaded from PyPI on first use
        pytest.skip(f"the seed SDK is not available: {exc}")
    report = run_all()
    baseline = load_baseline()
    with capsys.disabled():
        print("\n" + text_report(report))
        print(f"baseline: {baseline['passed']}/{baseline['total']}")
    broken = regressions(report, baseline)
    assert not broken, "passed in the baseline, fail now:\n" + "\n".join(f"  {r.id}: {r.error}" for r in broken)
    assert report.passed >= baseline["passed"], (
        f"{report.summary} is below the baseline {baseline['passed']}/{baseline['total']}"
    )
