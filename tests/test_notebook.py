"""``examples/notebook.ipynb`` runs in a real Jupyter kernel, and the interrupt button works.

The kernel runs this interpreter (``sys.executable``, through a kernelspec
written under ``tmp_path``), so it imports the codex_sync under test. Both
tests drive a real ``codex app-server`` against the scripted model.
"""

from __future__ import annotations

import json
import queue
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

pytestmark = pytest.mark.real_server

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "notebook.ipynb"
KERNEL_NAME = "codex-sync-test"


def _kernel_manager(tmp_path: Path) -> KernelManager:
    """A kernel manager whose kernel is ``sys.executable -m ipykernel_launcher``."""
    spec_dir = tmp_path / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "codex_sync tests",
        "language": "python",
        "interrupt_mode": "signal",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _text(output: Dict[str, Any]) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data") or {}
    return "\n".join(str(data[key]) for key in ("text/markdown", "text/html", "text/plain") if key in data)


def test_notebook_runs_and_renders(tmp_path: Path) -> None:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code"
    assert "ScriptedModel()" in first.source and "AppServer(model" in first.source
    assert "client = server.client(" in first.source
    assert "client.close()" in nb.cells[-1].source and "server.close()" in nb.cells[-1].source

    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(tmp_path), timeout=60, startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - started
    assert elapsed < 120, elapsed

    cells = {cell.get("id"): cell for cell in nb.cells}
    outputs = {cid: "\n".join(_text(o) for o in cell.get("outputs", [])) for cid, cell in cells.items()
               if cell.cell_type == "code"}
    for cid, cell in cells.items():
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], (cid, outputs[cid])

    # chat_once: the result renders as Markdown with the answer.
    chat_once = cells["chat-once"].outputs
    assert any("text/markdown" in o.get("data", {}) for o in chat_once)
    assert "echo: Hello from a notebook" in outputs["chat-once"]

    # chat(): one rendered output per step, the command and the answer among them.
    steps = outputs["chat-steps"]
    assert "**exec**" in steps and "echo hello from a real codex app-server" in steps
    assert "**thinking**" in steps and "**codex**" in steps and "The command printed a greeting." in steps

    assert "echo: Stream this answer, please" in outputs["deltas"]

    # Inactivity: the first call timed out, the continuation got the whole turn.
    assert "quiet for" in outputs["continuation"] and "still running" in outputs["continuation"]
    assert "Finally done: this answer took its time." in outputs["continuation"]

    # Manual approval: the request was shown, approved, and the command ran.
    approval = outputs["approval"]
    assert "CommandApprovalRequest" in approval and "item/commandExecution/requestApproval" in approval
    assert "The file is outside the workspace." in approval
    assert "Created it." in approval
    assert "exists: True" in approval


SETUP = """
import time
from codex_sync.testing import AppServer, ScriptedModel, hang
scripted_model = ScriptedModel().start()
server = AppServer(scripted_model).start()
client = server.client(request_timeout=30)
scripted_model.on("hang please", hang(30))
thread = client.start_thread()
print("ready", thread.thread_id)
"""

TEARDOWN = """
client.close()
server.close()
scripted_model.close()
print("closed")
"""


def _run(kc: Any, code: str, timeout: float) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """Execute ``code``; return the execute reply's content and the cell's iopub outputs."""
    msg_id = kc.execute(code)
    return _collect(kc, msg_id, timeout)


def _collect(kc: Any, msg_id: str, timeout: float) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    reply = None
    idle = False
    outputs: List[Dict[str, Any]] = []
    while reply is None or not idle:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no reply within {timeout}s; outputs so far: {outputs}")
        if reply is None:
            try:
                msg = kc.get_shell_msg(timeout=min(left, 0.2))
            except queue.Empty:
                pass
            else:
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg["content"]
        try:
            msg = kc.get_iopub_msg(timeout=min(max(left, 0.01), 0.2))
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"].get("execution_state") == "idle":
            idle = True
        elif kind in ("stream", "error", "execute_result", "display_data"):
            outputs.append(dict(msg["content"], output_type=kind))
    return reply, outputs


def test_interrupting_a_cell_stops_the_turn_and_keeps_the_client(tmp_path: Path) -> None:
    km = _kernel_manager(tmp_path)
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply, outputs = _run(kc, SETUP, timeout=60)
        assert reply["status"] == "ok", outputs

        # A long turn: the scripted model stays silent for 30 s.
        msg_id = kc.execute("thread.chat_once('hang please')")
        time.sleep(1.0)
        interrupted_at = time.monotonic()
        km.interrupt_kernel()  # what the notebook's stop button does: SIGINT to the kernel
        reply, outputs = _collect(kc, msg_id, timeout=60)
        took = time.monotonic() - interrupted_at
        assert reply["status"] == "error", outputs
        assert reply["ename"] == "KeyboardInterrupt", reply
        assert took < 15, f"the interrupted cell took {took:.1f}s to end"

        # The client and the thread are still usable, at once.
        started = time.monotonic()
        reply, outputs = _run(
            kc,
            "r = client.chat_once('after interrupt', thread_id=thread.thread_id)\nprint(r.final_text)",
            timeout=30,
        )
        assert reply["status"] == "ok", outputs
        assert "echo: after interrupt" in "".join(o.get("text", "") for o in outputs)
        assert time.monotonic() - started < 10

        # The interrupted turn ended as interrupted on the server.
        reply, outputs = _run(
            kc,
            "turns = thread.read()['thread']['turns']\nprint([t.get('status') for t in turns])",
            timeout=30,
        )
        assert reply["status"] == "ok", outputs
        assert "'interrupted'" in "".join(o.get("text", "") for o in outputs)

        reply, outputs = _run(kc, TEARDOWN, timeout=60)
        assert reply["status"] == "ok", outputs
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
