"""Shared test setup: the codex_sync.testing fixtures, and where the real server is needed."""

from __future__ import annotations

import os
import sys

import pytest

pytest_plugins = ["codex_sync.testing.pytest_plugin"]


def _have_codex() -> bool:
    if os.environ.get("CODEX_SYNC_TEST_CODEX"):
        return True
    try:
        import codex_cli_bin  # noqa: F401
    except ImportError:
        return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """On Python 3.9 the runtime wheel cannot install: skip real-server tests there only."""
    if _have_codex():
        return
    if sys.version_info >= (3, 10):
        return  # a missing binary on a supported Python is a failure, not a skip
    skip = pytest.mark.skip(reason="openai-codex-cli-bin needs Python >= 3.10; set CODEX_SYNC_TEST_CODEX")
    needs_server = {"app_server", "stdio_app_server", "websocket_app_server", "codex_client", "raw"}
    for item in items:
        if "real_server" in item.keywords or needs_server & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)
