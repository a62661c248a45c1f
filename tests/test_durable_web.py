"""examples/durable_web.py under gunicorn with two worker processes: start a turn, follow it from any worker."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from codex_sync.testing import AppServer, ScriptedModel, exec_command, text

pytestmark = pytest.mark.real_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def web(scripted_model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """gunicorn -w 2 serving the example, against a shared websocket app-server; yields its base URL."""
    for _ in range(2):  # (the Chromium test runs the turn twice: once for the DOM, once for the picture)
        scripted_model.on("several slow steps", exec_command("sleep 0.5; echo one"),
                          exec_command("sleep 0.5; echo two"), exec_command("sleep 0.5; echo three"),
                          text("all three done"))
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if gunicorn is None:
        pytest.fail("gunicorn is not installed: pip install -e '.[test]'")
    with AppServer(scripted_model, transport="websocket") as server:
        port = _free_port()
        env = {**os.environ, "CODEX_APP_SERVER_WS_URL": server.url, "CODEX_APP_SERVER_TOKEN": server.token or "",
               "PYTHONPATH": str(ROOT)}
        log = open(tmp_path_factory.mktemp("gunicorn") / "errors.log", "w+")  # read on failure
        proc = subprocess.Popen(
            [gunicorn, "-w", "2", "-k", "gthread", "--threads", "8", "--bind", f"127.0.0.1:{port}",
             "--chdir", str(ROOT / "examples"), "--graceful-timeout", "2", "durable_web:app"],
            env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(base + "/", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.1)
            yield base
        finally:
            log.seek(0)
            logged = log.read()
            if "Traceback" in logged:  # shown with the failing test's teardown output
                print("gunicorn's log:\n" + logged[-5000:])
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _start(base: str, prompt: str) -> Dict[str, Any]:
    body = urllib.parse.urlencode({"prompt": prompt}).encode()
    with urllib.request.urlopen(base + "/turns", data=body, timeout=30) as answer:
        return dict(json.loads(answer.read()))


def _events(base: str, token: str, stop_after_steps: int = 0) -> List[Tuple[str, Dict[str, Any]]]:
    """Read the SSE stream; with ``stop_after_steps``, hang up after that many steps (a reload)."""
    url = base + "/events?" + urllib.parse.urlencode({"token": token})
    events: List[Tuple[str, Dict[str, Any]]] = []
    with urllib.request.urlopen(url, timeout=60) as stream:
        kind = ""
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
                steps = sum(1 for k, _ in events if k == "step")
                if kind == "done" or (stop_after_steps and steps >= stop_after_steps):
                    break
    return events


def test_a_turn_started_in_one_request_is_streamed_once_across_a_reload(web: str) -> None:
    started = _start(web, "several slow steps please")
    first = _events(web, started["token"], stop_after_steps=2)  # the page reloads after two steps
    steps_first = [d for k, d in first if k == "step"]
    assert len(steps_first) == 2
    rest = _events(web, steps_first[-1]["token"])  # the reloaded page goes on from the last token
    steps_rest = [d for k, d in rest if k == "step"]
    assert rest[-1][0] == "done" and rest[-1][1]["final_text"] == "all three done"
    ids = [s["id"] for s in steps_first + steps_rest]
    assert len(ids) == len(set(ids)), "a step came twice"
    assert [s["type"] for s in steps_first + steps_rest] == ["userMessage", "exec", "exec", "exec", "codex"]
    workers = {started["worker"], first[0][1]["worker"], rest[0][1]["worker"]}
    print(f"\nworkers that served the start and the two streams: {sorted(workers)}")


def test_many_reloads_across_both_workers_still_show_every_step_once(web: str) -> None:
    started = _start(web, "several slow steps please")
    token, seen, workers = started["token"], [], set()
    for _ in range(10):  # hang up after each step; each new request may land on either worker
        events = _events(web, token, stop_after_steps=1)
        workers.add(events[0][1]["worker"])
        steps = [d for k, d in events if k == "step"]
        seen += [s["id"] for s in steps]
        if events[-1][0] == "done" or not steps:
            break
        token = steps[-1]["token"]
    final = _events(web, token)  # whatever is left (perhaps only the end)
    seen += [d["id"] for k, d in final if k == "step"]
    assert final[-1][0] == "done"
    assert len(seen) == 5 and len(set(seen)) == 5
    assert len(workers) == 2 or pytest.skip(f"every request happened to land on one worker {workers}")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed")
def test_the_page_in_headless_chromium_shows_every_step_once(web: str, tmp_path: Path) -> None:
    profile = tempfile.mkdtemp(prefix="chromium-", dir=str(tmp_path))
    shot = tmp_path / "durable_page.png"
    argv = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--window-size=1000,760",
    ]
    url = web + "/?prompt=several+slow+steps+please"
    dom = subprocess.run([*argv, "--dump-dom", url], capture_output=True, text=True, timeout=90).stdout
    assert dom.count("<li") == 5 and "all three done" in dom and ">done<" in dom, dom[-2000:]
    subprocess.run([*argv, f"--screenshot={shot}", url], capture_output=True, timeout=90)
    keep = os.environ.get("CODEX_SYNC_SCREENSHOTS")
    if keep and shot.exists():
        shutil.copy(shot, Path(keep) / shot.name)
