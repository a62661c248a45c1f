"""How each of the seed's examples runs: its flags, its transport(s), what the model answers.

An example runs over stdio when it takes ``--cmd`` (or no ``--url``), and
over websocket when it takes ``--url``; examples with ``--transport`` get it.
The flags come from the example's own argument parser, read from its source,
so an example this table does not know still runs (with no extra flags).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from codex_sync.testing import AppServer, ScriptedModel, exec_command, hang, reasoning, text

Script = Callable[[ScriptedModel], None]


def _rich_prompts(model: ScriptedModel) -> None:
    model.on("Inspect what changed", text("Nothing changed yet; I would start with git status.",
                                          reasoning=reasoning("Look at the working tree first.")))
    model.on("Run a suitable check command", exec_command("echo checks passed"), text("The check passed."))
    model.on("Draft a concise commit message", text("feat: run the seed examples on codex_sync"))


def _slow_answer(model: ScriptedModel) -> None:
    model.on("resume-me", hang(2.5, then="Finished after a pause."))


def _never_answers(model: ScriptedModel) -> None:
    model.on("cancel-me", hang(20))


@dataclass(frozen=True)
class Variant:
    """Extra flags and a model script for one run of an example."""

    name: str = ""
    args: Tuple[str, ...] = ()
    script: Optional[Script] = None
    transports: Tuple[str, ...] = ("stdio", "websocket")
    expect: Tuple[str, ...] = ()  # regexes the output must show, so that a pass is not vacuous


# Flags that make an example exercise more of the API (all with the scripted model).
VARIANTS: Dict[str, List[Variant]] = {
    "chat_session_stdio.py": [
        Variant(expect=(r"\[assistant:3\] echo: ",)),
        Variant("resume", ("--inactivity-timeout", "1", "--prompt", "resume-me: a slow task"), _slow_answer,
                expect=(r"resuming\.\.\.", r"\[assistant:1\] Finished after a pause\.")),
    ],
    "chat_session_websocket.py": [Variant(expect=(r"\[assistant:3\] echo: ",))],
    "chat_steps_rich.py": [
        Variant("", ("--show-data",), _rich_prompts,
                expect=(r"\[thinking\]", r"\[exec\] item_type=commandExecution", r"The check passed\.")),
        Variant("cancel", ("--cancel-on-timeout", "--inactivity-timeout", "1", "--prompt", "cancel-me: a long task"),
                _never_answers, ("stdio",), expect=(r"\[meta\] cancelled turn_id=",)),
    ],
    "thread_concurrent_handles.py": [Variant(expect=(r"\[A:\S+\] echo: ", r"\[B:\S+\] echo: "))],
    "thread_config_and_fork.py": [Variant("", ("--cwd", "{workdir}"), expect=(r"\[codex\] echo: Now focus",))],
    "thread_ops_showcase.py": [
        Variant("", ("--show-data", "--archive", "--set-model", "gpt-5.1-codex-mini"),
                expect=(r"\[result:thread/list\]", r"\[result:config/read\]", r"\[result:thread/archive\]")),
    ],
    "thread_resume_by_id.py": [Variant(expect=(r"\[thread:\S+\] echo: Continue",))],
}
NEEDS_THREAD = {"thread_resume_by_id.py"}  # gets --thread-id of a thread that has one turn


@dataclass(frozen=True)
class ExampleRun:
    path: Path  # the ported file
    transport: str
    variant: Variant = field(default_factory=Variant)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def row_id(self) -> str:
        suffix = f", {self.variant.name}" if self.variant.name else ""
        return f"examples/{self.name} [{self.transport}{suffix}]"

    def argv(self, server: AppServer, workdir: Path, thread_id: Optional[str]) -> List[str]:
        source = self.path.read_text(encoding="utf-8")
        args: List[str] = []
        if "'--transport'" in source:
            args += ["--transport", self.transport]
        if self.transport == "websocket":
            # "--x=value": a token may start with "-", which argparse would take for a flag
            args += [f"--url={server.url}"]
            if "'--token'" in source:
                args += [f"--token={server.token}"]
        elif "'--cmd'" in source:
            args += ["--cmd", shlex.join(server.command)]
        if thread_id is not None:
            args += ["--thread-id", thread_id]
        args += [arg.format(workdir=workdir) for arg in self.variant.args]
        return args


def transports_of(path: Path) -> List[str]:
    source = path.read_text(encoding="utf-8")
    has_url = re.search(r"'--url'", source) is not None
    has_cmd = re.search(r"'--cmd'", source) is not None
    found = []
    if has_cmd or not has_url:
        found.append("stdio")
    if has_url:
        found.append("websocket")
    return found


def plan_runs(examples: Dict[str, Path]) -> List[ExampleRun]:
    runs: List[ExampleRun] = []
    for name, path in sorted(examples.items()):
        for transport in transports_of(path):
            for variant in VARIANTS.get(name, [Variant()]):
                if transport in variant.transports:
                    runs.append(ExampleRun(path, transport, variant))
    return runs
