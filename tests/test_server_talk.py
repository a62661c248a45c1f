"""What the server says about trouble reaches the log, the turn's events and the listeners."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import List

import pytest

from codex_sync import CodexError
from codex_sync.protocol import Notification
from codex_sync.testing import AppServer

pytestmark = pytest.mark.real_server


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: nothing listens there


@pytest.mark.parametrize("model_url", [
    f"http://127.0.0.1:{_closed_port()}/v1",
    "http://codex-sync-test.invalid/v1",  # .invalid never resolves
], ids=["closed-port", "unresolvable-host"])
def test_an_unreachable_model_is_logged_at_once_and_the_turn_ends_saying_why(
    model_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_sync")
    heard: List[Notification] = []
    with AppServer(model_url, provider_config={"stream_max_retries": 1, "request_max_retries": 0}) as server:
        with server.client(request_timeout=30) as client:
            client.on_notification("error", heard.append)
            outcome: List[BaseException] = []

            def run() -> None:
                try:
                    client.chat_once("hello?", inactivity_timeout=10)
                except BaseException as exc:
                    outcome.append(exc)

            started = time.monotonic()
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            deadline = time.monotonic() + 20
            while "the app-server says" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            said_after = time.monotonic() - started
            worker.join(60)
    records = [r for r in caplog.records if "the app-server says" in r.getMessage()]
    assert records and records[0].levelno == logging.WARNING, caplog.text
    assert said_after < 20
    assert len({r.getMessage() for r in records}) == len(records)  # each kind of message once
    assert not worker.is_alive() and len(outcome) == 1
    error = outcome[0]
    assert isinstance(error, CodexError)
    text = str(error)
    said = [r.getMessage() for r in records if ": error: " in r.getMessage()]
    assert said, caplog.text
    server_words = said[-1].split(": error: ", 1)[1].replace(" (the server retries)", "")
    assert server_words in text and "the server has been retrying for" in text, text
    assert heard, "on_notification listeners did not hear the server's error"
