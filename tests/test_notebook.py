"""``examples/notebook.ipynb`` runs in a real Jupyter kernel, and the interrupt button works.

The kernel runs this interpreter (``sys.executable``, through a kernelspec
written under ``tmp_path``), so it imports the codex_sync under test. Both
tests drive a real ``codex app-server`` against the scripted model.
"""

from __future__ import annotations

import json
import queue
import re
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


class _RecordingClient(nbclient.NotebookClient):  # type: ignore[misc]
    """Records every iopub message per cell id, to see the display being updated in place."""

    def process_message(self, msg: Dict[str, Any], cell: Any, cell_index: int) -> Any:
        RECORDED.setdefault(cell.get("id"), []).append(msg)
        return super().process_message(msg, cell, cell_index)


RECORDED: Dict[str, List[Dict[str, Any]]] = {}


def _html(outputs: List[Any]) -> List[str]:
    return ["".join(o["data"]["text/html"]) for o in outputs
            if o.get("output_type") in ("display_data", "execute_result") and "text/html" in o.get("data", {})]


def test_notebook_runs_and_renders(tmp_path: Path) -> None:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code"
    assert "ScriptedModel()" in first.source and "AppServer(model" in first.source
    assert "client = server.client(" in first.source
    assert "from codex_sync.notebook import live, show" in first.source
    assert "client.close()" in nb.cells[-1].source and "server.close()" in nb.cells[-1].source

    RECORDED.clear()
    client = _RecordingClient(
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

    def updates(cid: str) -> List[str]:
        """The HTML of each in-place update of the cell's display, in order."""
        return ["".join(m["content"]["data"]["text/html"]) for m in RECORDED.get(cid, [])
                if m["msg_type"] == "update_display_data"]

    # chat_once through show(): one output area, the answer in its box, no "0 tokens".
    (once,) = _html(cells["chat-once"].outputs)
    assert "class='codex-sync-answer'" in once and "echo: Hello from a notebook</div>" in once
    assert "tokens" not in once  # the scripted model reports zero usage: say nothing rather than "0 tokens"
    assert "completed</b>" in once and "2 steps" in once

    # show(client.chat(...)): one output updated in place as steps completed; output folded in <details>.
    (steps,) = _html(cells["chat-steps"].outputs)
    assert len(cells["chat-steps"].outputs) == 1
    assert len(updates("chat-steps")) >= 4, updates("chat-steps")
    assert steps.count("<details>") == 2
    assert re.search(r"<details><summary[^>]*>output \(1 line\)</summary><pre[^>]*>hello from a real codex "
                     r"app-server</pre></details>", steps), steps
    assert "exec failed" in steps and "failed (exit 2)</b>" in steps and "No such file or directory" in steps
    assert "I should run the commands, then report what they printed.</i>" in steps
    assert "The first command printed a greeting; the second found no file.</div>" in steps
    assert "running…" in updates("chat-steps")[0] and "running…" not in steps
    assert "completed | The first command printed a greeting" in outputs["view-values"]

    # on_delta=live(): the text was drawn while being written, in the same output area.
    (streamed,) = _html(cells["deltas"].outputs)
    assert len(cells["deltas"].outputs) == 1
    partial = [h for h in updates("deltas") if "Streaming: each piece" in h and "writes it." not in h]
    assert partial and "▍" in partial[0], updates("deltas")
    assert streamed.count("Streaming: each piece of this answer shows up as soon as the model writes it.") == 1
    assert "'Strea" not in outputs["deltas"]  # no chunk reprs
    # Evaluated in a later cell, the view draws its final state again.
    (again,) = _html(cells["redisplay"].outputs)
    assert "shows up as soon as the model writes it.</div>" in again

    # Inactivity: the first call timed out, the continuation got the whole turn; show(result) as the
    # cell's last expression is drawn once (its return value is not drawn a second time).
    assert "quiet for" in outputs["continuation"] and "still running" in outputs["continuation"]
    (slow,) = _html(cells["continuation"].outputs)
    assert "Finally done: this answer took its time." in slow

    # Manual approval: the request was shown, approved, and the command ran.
    approval = outputs["approval"]
    assert "asked: run `/bin/bash -lc 'touch " in approval
    (drawn,) = _html(cells["approval"].outputs)
    assert "approval</span>" in drawn and "The file is outside the workspace." in drawn
    assert "Created it." in drawn and "exists: True" in approval


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


# -- codex_sync.notebook outside a notebook (this process has no IPython kernel) ------------------
def test_show_prints_plain_lines_outside_a_notebook(
    scripted_model: Any, stdio_app_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from codex_sync.notebook import LiveView, live, show
    from codex_sync.testing import exec_command, failed, text

    scripted_model.on("story", text("Once upon a time.", deltas=["Once ", "upon ", "a time."], usage=(3, 4)))
    scripted_model.on("fail", exec_command("echo oops; exit 3"), text("It failed."))
    scripted_model.on("break", failed("the model is down"))
    with stdio_app_server.client() as client:
        view = show(client.chat("a story", on_delta=live()))
        assert capsys.readouterr().out == "[userMessage] a story\n[codex] Once upon a time.\n=== Once upon a time.\n"
        assert isinstance(view, LiveView) and view.status == "completed"
        assert view.final_text == "Once upon a time." and [s.step_type for s in view.steps] == ["userMessage", "codex"]
        assert view.usage is not None and view.usage.total_tokens == 7 and "7 tokens" in view.plain()

        result = client.chat_once("fail please")
        show(result)
        out = capsys.readouterr().out
        assert "[exec failed, exit 3] /bin/bash -lc 'echo oops; exit 3'\n    > oops\n" in out
        assert out.endswith("=== It failed.\n")
        assert "tokens" not in show(result).plain()  # zero usage reported: no "0 tokens"
        capsys.readouterr()

        from codex_sync import CodexTurnFailedError

        with pytest.raises(CodexTurnFailedError):
            show(client.chat("break it"))
        broken = capsys.readouterr().out
        assert broken.rstrip().endswith("the model is down)") and "(failed: turn " in broken

        with pytest.raises(TypeError, match="show\\(\\) takes what chat\\(\\)"):
            show("not a turn")


@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
def test_show_declines_what_it_cannot_ask(scripted_model: Any, stdio_app_server: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import codex_sync
    from codex_sync.notebook import show
    from codex_sync.testing import exec_command, text

    target = tmp_path / "never-made"
    scripted_model.on("touch", exec_command(f"touch {target}", escalated=True), text("Could not."))
    with stdio_app_server.client() as client:
        view = show(client.chat("touch it", approval_handler=codex_sync.MANUAL))
    out = capsys.readouterr().out
    assert not target.exists()
    assert view.status == "completed" and view.final_text == "Could not."
    assert any("show() cannot ask" in note for note in view.notes)
    assert "[approval] run `/bin/bash -lc 'touch " in out and "[exec declined] " in out
