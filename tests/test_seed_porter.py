"""The seed porter's rewrites (``tests/conformance/porter.py``), on code written for these tests."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conformance.porter import install_runtime, port_source

ASYNC_PROGRAM = '''
import asyncio
from codex_app_server_sdk import CodexClient
import codex_app_server_sdk.errors as errors_module

order = []


async def worker(name, pause):
    await asyncio.sleep(pause)
    order.append(name)
    return name.upper()


async def numbers():
    for n in range(3):
        yield n


class Box:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None


async def main():
    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(worker("slow", 0.3), worker("fast", 0.0))
    elapsed = asyncio.get_running_loop().time() - started
    task = asyncio.create_task(worker("task", 0.0))
    done = await task
    forever = asyncio.create_task(worker("never", 30))
    forever.cancel()
    try:
        await forever
    except asyncio.CancelledError:
        cancelled = True
    try:
        await asyncio.wait_for(worker("late", 5), timeout=0.1)
    except asyncio.TimeoutError:
        timed_out = True
    async with Box() as box:
        assert isinstance(box, Box)
    seen = [n async for n in numbers()]
    first = await anext(numbers())
    print(results, order, elapsed < 0.6, done, cancelled, timed_out, seen, first,
          CodexClient.__module__.split(".")[0], errors_module.__name__)


asyncio.run(main())
'''


def test_ported_program_runs_on_threads(tmp_path: Path) -> None:
    ported = port_source(textwrap.dedent(ASYNC_PROGRAM), "sample.py")
    assert "async " not in ported and "await " not in ported
    assert "codex_app_server_sdk" not in ported.split("\n", 2)[2]  # the header names the seed
    assert "time.sleep(" in ported and re.search(r"_seed_rt\.gather\(lambda ?: worker", ported)  # (3.9: "lambda :")
    install_runtime(tmp_path)
    (tmp_path / "sample.py").write_text(ported, encoding="utf-8")
    proc = subprocess.run([sys.executable, "sample.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "['SLOW', 'FAST'] ['fast', 'slow', 'task'] True TASK True True [0, 1, 2] 0 codex_sync codex_sync.errors"
    )


def test_top_level_await_and_async_with_of_doc_fragments() -> None:
    fragment = "async with CodexClient.connect_stdio() as client:\n    result = await client.chat_once('hi')\n"
    assert port_source(fragment).endswith(
        "with CodexClient.connect_stdio() as client:\n    result = client.chat_once('hi')\n")
