"""``codex-sync chat`` in a real terminal (tmux): live text, the waiting indicator, prompts, Ctrl-C.

Each test runs the CLI in a detached tmux session on a private socket (so no
other tmux server is touched), 120x40, and reads the screen with
``capture-pane -p -J``. The CLI talks to the real ``codex app-server`` against
the scripted model, with the test server's throw-away HOME. Skipped when tmux
is missing (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from codex_sync.testing import AppServer, ScriptedModel, exec_command, hang, text

pytestmark = [
    pytest.mark.real_server,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]


class Terminal:
    """One tmux session running one shell script; the screen as text."""

    def __init__(self, socket: str, name: str) -> None:
        self.socket = socket
        self.name = name

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", self.name)  # -J: wrapped lines joined

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0, every: float = 0.05) -> List[str]:
        """Screens seen (distinct, in order) until ``predicate(screen)``; fails after ``timeout``."""
        seen: List[str] = []
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if not seen or seen[-1] != screen:
                seen.append(screen)
            if predicate(screen):
                return seen
            assert time.monotonic() < deadline, "timed out; last screen:\n" + screen
            time.sleep(every)


@pytest.fixture
def terminal(tmp_path: Path, stdio_app_server: AppServer) -> Iterator[Callable[..., Terminal]]:
    """``start(cli_args, redirect="")``: run ``python -m codex_sync CLI_ARGS`` in a fresh 120x40 terminal."""
    socket = f"codex-sync-test-{os.getpid()}-{tmp_path.name}"
    started: List[Terminal] = []
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    def start(args: List[str], redirect: str = "") -> Terminal:
        script = tmp_path / f"run{len(started)}.sh"
        env = {**stdio_app_server.env, "TERM": "xterm-256color", "NO_COLOR": "1"}
        exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
        command = shlex.join([sys.executable, "-m", "codex_sync", *args,
                              "--cmd", shlex.join(stdio_app_server.command)])
        script.write_text(f"{exports}cd {shlex.quote(str(workspace))}\n{command} {redirect}\n"
                          f"echo \"EXIT=$?\"\nsleep 120\n", encoding="utf-8")
        term = Terminal(socket, f"t{len(started)}")
        term.tmux("new-session", "-d", "-s", term.name, "-x", "120", "-y", "40", f"bash {shlex.quote(str(script))}")
        started.append(term)
        return term

    yield start
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10)


def _exit_code(screen: str) -> int:
    for line in screen.splitlines():
        if line.startswith("EXIT="):
            return int(line[5:])
    raise AssertionError("no exit line on the screen:\n" + screen)


def test_live_text_and_waiting_indicator(scripted_model: ScriptedModel, terminal: Callable[..., Terminal]) -> None:
    words = ["Once ", "upon ", "a ", "time, ", "a ", "client ", "streamed ", "this ", "answer."]
    scripted_model.on("quiet", hang(2.5, then="Sorry for the wait."))
    scripted_model.on("story", text("".join(words), deltas=words, delay=0.3))
    term = terminal(["chat", "quiet one", "tell a story"])
    screens = term.wait_for(lambda s: "EXIT=" in s)
    final = screens[-1]
    assert _exit_code(final) == 0, final

    # While the model was silent, the indicator counted seconds on the line below the prompt.
    waiting = [s for s in screens if "working " in s and "(Ctrl-C to stop)" in s]
    assert waiting, "no waiting indicator seen:\n" + "\n---\n".join(screens)
    assert any("working 1s" in s or "working 2s" in s for s in waiting)
    # The story appeared word by word: some screen shows a partial answer line.
    partial = [s for s in screens if "[codex] Once upon" in s and "answer." not in s.split("[codex] Once upon")[-1]]
    assert partial, "the answer never showed half-written:\n" + "\n---\n".join(screens)
    # The final screen: both answers, no indicator left behind, each text once plus its === line.
    assert "working" not in final
    assert "[codex] Sorry for the wait.\n=== Sorry for the wait." in final
    assert "[codex] Once upon a time, a client streamed this answer.\n=== Once upon a time" in final
    assert final.count("Once upon") == 2


def test_piped_from_a_terminal_has_no_indicator_and_no_escapes(
    scripted_model: ScriptedModel, terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    scripted_model.on("quiet", hang(1.5, then="Done waiting."))
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    term = terminal(["chat", "quiet one"], redirect=f"> {shlex.quote(str(out))} 2> {shlex.quote(str(err))}")
    final = term.wait_for(lambda s: "EXIT=" in s)[-1]
    assert _exit_code(final) == 0, final
    stdout, stderr = out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")
    assert stdout.endswith("[codex] Done waiting.\n=== Done waiting.\n"), stdout
    # no indicator when stderr is not a terminal (only what the server said, one plain line each)
    assert all("the app-server says" in line for line in stderr.splitlines()), stderr
    assert "\r" not in stderr and "\x1b" not in stderr
    assert "\r" not in stdout and "\x1b" not in stdout


@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
@pytest.mark.parametrize("answer, decision, code", [("y", "approved", 0), ("c", "declined, and the turn cancelled", 4)])
def test_approve_ask_prompts_in_the_terminal(answer: str, decision: str, code: int, scripted_model: ScriptedModel,
                                             terminal: Callable[..., Terminal], tmp_path: Path) -> None:
    target = tmp_path / "outside" / "made.txt"
    target.parent.mkdir()
    scripted_model.on("touch", exec_command(f"touch {target}", escalated=True, justification="needs it"),
                      text("Done."))
    term = terminal(["chat", "touch it", "--approve", "ask"])
    prompt = "[y]es/[s]ession/[n]o/[c]ancel:"
    asked = term.wait_for(lambda s: prompt in s.replace("\n", ""))[-1]  # (a long path wraps the prompt)
    assert "needs it?" in asked.replace("\n", "")
    assert "working" not in asked
    time.sleep(1.0)  # the indicator stays away while the question waits
    assert "working" not in term.screen() and prompt in term.screen().replace("\n", "")
    term.keys(answer, "Enter")
    final = term.wait_for(lambda s: "EXIT=" in s)[-1]
    assert _exit_code(final) == code, final
    assert f"-> {decision}" in final.replace("\n", "")
    assert target.exists() == (answer == "y")
    if code == 4:
        assert "codex-sync: error: turn " in final and "was interrupted" in final


def test_ctrl_c_interrupts_and_exits_130(scripted_model: ScriptedModel,
                                         terminal: Callable[..., Terminal]) -> None:
    scripted_model.on("slow", hang(30))
    term = terminal(["chat", "slow one"])
    term.wait_for(lambda s: "working " in s)
    started = time.monotonic()
    term.keys("C-c")
    final = term.wait_for(lambda s: "EXIT=" in s, timeout=20)[-1]
    assert time.monotonic() - started < 15
    assert _exit_code(final) == 130, final
    assert "codex-sync: interrupted" in final and "Traceback" not in final
    assert "working" not in final
