"""``python -m codex_sync`` / ``codex-sync``: chat with a server, or run the offline demo.

``codex-sync chat PROMPT...`` runs each prompt as a turn of one thread and
prints its steps; ``codex-sync demo`` does the same against a real
``codex app-server`` bound to a scripted fake model (no account, no network).

Exit status: 0 ok, 1 error, 2 usage (a bad flag or value), 3 a turn failed,
4 a turn or request timed out or was cancelled, 130 interrupted (Ctrl-C).

Everything here runs in the caller's thread except the waiting indicator, a
daemon thread that draws on stderr while a turn is silent, and only on a
terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from typing import IO, Any, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

from ._version import __version__
from .approvals import MANUAL, ApprovalRequest, ServerRequestView, ask_in_terminal
from .chat import ChatStream
from .client import CodexClient
from .config import ThreadConfig
from .errors import (
    CodexError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
    CodexTurnFailedError,
    CodexTurnInactiveError,
    CodexTurnInterruptedError,
)
from .values import ConversationStep, TextDelta, TokenUsage

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TURN_FAILED = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """exit status:
  0    every turn completed
  1    error (the server could not be started or reached, or it answered an error)
  2    usage: a bad flag or value (a one-line error with a hint)
  3    a turn failed (the model or the server reported an error)
  4    a turn or a request timed out, or the turn was cancelled or interrupted
  130  interrupted (Ctrl-C); the running turn is interrupted first"""

#: Item types whose live text ``--stream`` prints as it arrives.
STREAMED_KINDS = ("codex", "thinking", "plan")
#: Output lines of a command shown under an ``exec`` step (``--show-data`` shows the item).
EXEC_OUTPUT_LINES = 20

_DECISION_WORDS = {
    "accept": "approved",
    "acceptForSession": "approved for the session",
    "decline": "declined",
    "cancel": "declined, and the turn cancelled",
}


class UsageError(Exception):
    """A bad flag or value: one line on stderr, exit status 2."""


# -- parsing ------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (``codex-sync: error: ... (see --help)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"codex-sync: error: {message} (see `{self.prog} --help`)\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("output")
    out.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                     help="print the model's text as it is written (default: on when stdout is a terminal)")
    out.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a waiting indicator with the elapsed time on stderr while a turn is silent "
                          "(default: on when stderr is a terminal)")
    mode = out.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true",
                      help="print one JSON object per line: turn, step, approval, result (and delta with --stream)")
    mode.add_argument("--quiet", "-q", action="store_true", help="print only each turn's final answer")
    out.add_argument("--show-data", action="store_true", help="print each step's raw item too")
    out.add_argument("--verbose", "-v", action="store_true", help="log the client's debug messages; show tracebacks")


def _add_approval_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--approve", choices=["never", "all", "ask"], default="never",
        help="answer the server's approval requests: never (decline; the default), all (approve every "
             "one: only where you trust the agent), ask (prompt on the terminal; also answers its questions)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = _Parser(
        prog="codex-sync",
        description="A synchronous client for codex app-server: chat with it, or run the offline demo.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"codex-sync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{chat,demo}", parser_class=_Parser)
    sub.required = True

    chat = sub.add_parser(
        "chat", help="run prompts as turns of one thread and print their steps",
        description="Run each PROMPT as one turn of one thread and print the steps as they complete.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("prompt", nargs="+", help="the prompt(s); several run as turns of one thread")
    conn = chat.add_argument_group("server (stdio: a child process; websocket: a running server)")
    conn.add_argument("--transport", choices=["stdio", "websocket"], default=None,
                      help="default: websocket when --url or --token is given, else stdio")
    conn.add_argument("--cmd", help="app-server command for stdio (default: $CODEX_APP_SERVER_CMD, "
                                    "`codex app-server` on PATH, or the openai-codex-cli-bin binary)")
    conn.add_argument("--url", help="websocket URL, ws://HOST:PORT (default: $CODEX_APP_SERVER_WS_URL "
                                    "or ws://127.0.0.1:8765)")
    conn.add_argument("--token", help="websocket bearer token (default: $CODEX_APP_SERVER_TOKEN); "
                                      "write --token=VALUE if it starts with -")
    conn.add_argument("--request-timeout", type=_seconds, default=60.0, metavar="SECONDS",
                      help="how long each request may take (default: 60)")
    turn = chat.add_argument_group("thread and turn")
    turn.add_argument("--thread-id", help="continue this thread instead of starting one")
    turn.add_argument("--cwd", help="working directory of the thread (on the server's machine)")
    turn.add_argument("--model", help="model of the thread")
    turn.add_argument("--approval-policy", choices=["untrusted", "on-failure", "on-request", "never"],
                      help="when the server asks before acting (default: the server's config)")
    turn.add_argument("--sandbox", choices=["read-only", "workspace-write", "danger-full-access"],
                      help="sandbox of the thread's commands (default: the server's config)")
    turn.add_argument("--developer-instructions", metavar="TEXT")
    turn.add_argument("--base-instructions", metavar="TEXT")
    turn.add_argument("--inactivity-timeout", type=_seconds, default=None, metavar="SECONDS",
                      help="seconds of silence before saying so and waiting on (default: no limit)")
    turn.add_argument("--cancel-on-timeout", action="store_true",
                      help="cancel the turn after --inactivity-timeout instead (exit status 4)")
    _add_approval_flags(chat)
    _add_output_flags(chat)

    demo = sub.add_parser(
        "demo", help="run a real app-server against a scripted fake model (no account needed)",
        description="Start a real codex app-server bound to a scripted fake model on 127.0.0.1, with a "
                    "throw-away home, and show one turn. The server command is --cmd, else "
                    "$CODEX_APP_SERVER_CMD, else `codex` on PATH, else the openai-codex-cli-bin binary.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--cmd", help="app-server command (see above)")
    _add_approval_flags(demo)
    _add_output_flags(demo)
    return parser


# -- steps --------------------------------------------------------------------
def step_status(step: ConversationStep) -> Optional[str]:
    """``"declined"`` or ``"failed"`` when the step's item did not do its job, else ``None``.

    Reads the item's ``status`` (commandExecution, fileChange, mcpToolCall...),
    ``success`` (dynamicToolCall) and a command's non-zero ``exitCode``.
    """
    item = step.data.get("item") if isinstance(step.data, dict) else None
    if not isinstance(item, dict):
        return None
    status = item.get("status")
    if status in ("declined", "failed"):
        return str(status)
    if item.get("success") is False:
        return "failed"
    code = item.get("exitCode")
    if isinstance(code, int) and code != 0:
        return "failed"
    return None


def step_tag(step: ConversationStep) -> str:
    """``exec``, ``exec declined``, ``exec failed, exit 3``...: the step type and how it ended."""
    status = step_status(step)
    if status is None:
        return step.step_type
    item = step.data.get("item") or {}
    code = item.get("exitCode") if isinstance(item, dict) else None
    if status == "failed" and isinstance(code, int):
        return f"{step.step_type} failed, exit {code}"
    return f"{step.step_type} {status}"


def exec_output(step: ConversationStep) -> str:
    """What a command printed (``aggregatedOutput``), or ``""``."""
    item = step.data.get("item") if isinstance(step.data, dict) else None
    output = item.get("aggregatedOutput") if isinstance(item, dict) else None
    return output if isinstance(output, str) else ""


def step_json(step: ConversationStep) -> Dict[str, Any]:
    """One ``--json`` line for a step."""
    item = step.data.get("item") if isinstance(step.data, dict) else None
    record: Dict[str, Any] = {
        "event": "step",
        "thread_id": step.thread_id,
        "turn_id": step.turn_id,
        "item_id": step.item_id,
        "step_type": step.step_type,
        "item_type": step.item_type,
        "text": step.text,
        "status": step_status(step) or (item.get("status") if isinstance(item, dict) else None) or "completed",
    }
    if step.step_type == "exec" and isinstance(item, dict):
        record["exit_code"] = item.get("exitCode")
        record["output"] = exec_output(step)
    record["item"] = item
    return record


def usage_json(usage: Optional[TokenUsage]) -> Optional[Dict[str, Any]]:
    """Token usage as a dict; ``None`` when the model reported none (or only zeros)."""
    if usage is None or not usage.total_tokens:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_output_tokens": usage.reasoning_output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _same_text(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


# -- output -------------------------------------------------------------------
class Output:
    """Where a run's events go; :class:`TextOutput` and :class:`JsonOutput` implement it.

    Every method is called from the thread running the turns.
    """

    wants_deltas = False

    def turn_started(self, stream: ChatStream, prompt: str) -> None:
        """A turn began."""

    def delta(self, delta: TextDelta) -> None:
        """Live text (only when :attr:`wants_deltas`)."""

    def step(self, step: ConversationStep) -> None:
        """A step completed."""

    def approval(self, step: ConversationStep, decision: str, hint: str = "") -> None:
        """A server request was answered with ``decision`` (a word: approved, declined...)."""

    def waiting(self, on: bool) -> None:
        """The turn runner is (``on``) or is no longer blocked waiting for the server."""

    def pause(self) -> None:
        """Someone is about to prompt on the terminal: take the indicator away."""

    def note(self, text: str) -> None:
        """Something a person should know (resuming after a timeout, a cancel...)."""

    def result(self, stream: ChatStream, status: str, final: str, error: str = "") -> None:
        """A turn ended with ``status`` (completed, failed, interrupted, cancelled)."""

    def info(self, text: str) -> None:
        """A line about the set-up (the demo's server)."""

    def close(self) -> None:
        """The run is over: stop the indicator."""


class TextOutput(Output):
    """Steps as ``[type] text`` lines; live text and a waiting indicator on a terminal."""

    _SPIN_UNICODE = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    _SPIN_ASCII = "|/-\\"

    def __init__(self, out: IO[str], err: IO[str], *, stream: bool, progress: bool, quiet: bool,
                 show_data: bool, color: bool) -> None:
        self._out = out
        self._err = err
        self.wants_deltas = stream and not quiet
        self._quiet = quiet
        self._show_data = show_data
        self._color = color
        self._lock = threading.RLock()
        self._at_line_start = True
        self._live_item: Optional[Tuple[Optional[str], str]] = None  # (item id, method) being written
        self._streamed: Dict[Optional[str], str] = {}
        self._last_output = time.monotonic()
        self._turn_started = time.monotonic()
        self._waiting = False
        self._spinner_shown = False
        self._stop = threading.Event()
        self._frames = self._SPIN_UNICODE if _can_encode(err, self._SPIN_UNICODE) else self._SPIN_ASCII
        self._thread: Optional[threading.Thread] = None
        if progress:
            self._thread = threading.Thread(target=self._spin, name="codex-sync-progress", daemon=True)
            self._thread.start()

    # writing (under the lock)
    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._color and text else text

    def _write(self, text: str) -> None:
        if not text:
            return
        self._clear_spinner()
        self._out.write(text)
        self._out.flush()
        self._at_line_start = text.endswith("\n")
        self._last_output = time.monotonic()

    def _end_line(self) -> None:
        if not self._at_line_start:
            self._write("\n")
        self._live_item = None

    def _line(self, tag: str, text: str, tag_style: str = "1", text_style: str = "") -> None:
        self._end_line()
        body = self._style(text, text_style) if text_style else text
        self._write(f"{self._style(f'[{tag}]', tag_style)} {body}\n")

    def _tag_style(self, step: ConversationStep) -> Tuple[str, str]:
        if step_status(step) is not None:
            return "1;31", ""
        if step.step_type == "thinking":
            return "1;2", "2"
        if step.step_type == "codex":
            return "1;36", ""
        return "1", ""

    # the indicator
    def _spin(self) -> None:
        n = 0
        while not self._stop.wait(0.125):
            with self._lock:
                quiet_for = time.monotonic() - self._last_output
                if not (self._waiting and self._at_line_start and quiet_for >= 0.3):
                    continue
                elapsed = time.monotonic() - self._turn_started
                frame = self._frames[n % len(self._frames)]
                n += 1
                try:
                    self._err.write(f"\r{frame} working {elapsed:.0f}s (Ctrl-C to stop)\x1b[K")
                    self._err.flush()
                except (OSError, ValueError):
                    return
                self._spinner_shown = True

    def _clear_spinner(self) -> None:
        if self._spinner_shown:
            self._spinner_shown = False
            try:
                self._err.write("\r\x1b[K")
                self._err.flush()
            except (OSError, ValueError):
                pass

    # Output
    def waiting(self, on: bool) -> None:
        with self._lock:
            self._waiting = on
            if not on:
                self._clear_spinner()

    def pause(self) -> None:
        with self._lock:
            self._waiting = False
            self._clear_spinner()
            self._end_line()

    def info(self, text: str) -> None:
        with self._lock:
            if not self._quiet:
                self._end_line()
                self._write(text + "\n")

    def turn_started(self, stream: ChatStream, prompt: str) -> None:
        with self._lock:
            self._turn_started = time.monotonic()
            self._streamed.clear()
            if not self._quiet:
                self._end_line()
                self._write(self._style(f"--- thread {stream.thread_id} turn {stream.turn_id}", "2") + "\n")

    def delta(self, delta: TextDelta) -> None:
        if delta.kind not in STREAMED_KINDS or not delta.delta:
            return
        with self._lock:
            if self._live_item is None or self._live_item[0] != delta.item_id:
                self._end_line()
                style = "1;2" if delta.kind == "thinking" else ("1;36" if delta.kind == "codex" else "1")
                self._write(self._style(f"[{delta.kind}]", style) + " ")
            elif self._live_item[1] != delta.method:  # reasoning: from the summary to the full text
                self._write("\n")
            self._live_item = (delta.item_id, delta.method)
            self._write(self._style(delta.delta, "2") if delta.kind == "thinking" else delta.delta)
            self._streamed[delta.item_id] = self._streamed.get(delta.item_id, "") + delta.delta

    def step(self, step: ConversationStep) -> None:
        if self._quiet:
            return
        with self._lock:
            streamed = self._streamed.pop(step.item_id, None) if step.item_id else None
            if streamed is not None and _same_text(streamed, step.text):
                if self._live_item is not None and self._live_item[0] == step.item_id:
                    self._end_line()
            else:
                tag_style, text_style = self._tag_style(step)
                self._line(step_tag(step), step.text, tag_style, text_style)
            output = exec_output(step).strip("\n") if step.step_type == "exec" else ""
            if output:
                lines = output.splitlines()
                for line in lines[:EXEC_OUTPUT_LINES]:
                    self._write(f"    > {line}\n")
                if len(lines) > EXEC_OUTPUT_LINES:
                    more = len(lines) - EXEC_OUTPUT_LINES
                    self._write(self._style(f"    ... {more} more lines (--show-data shows the whole item)", "2")
                                + "\n")
            if self._show_data:
                self._write(f"    data: {json.dumps(step.data.get('item'), ensure_ascii=False)}\n")

    def approval(self, step: ConversationStep, decision: str, hint: str = "") -> None:
        if self._quiet:
            return
        with self._lock:
            bad = decision.startswith("declined")
            text = f"{step.text} -> {self._style(decision, '1;31' if bad else '1;32')}"
            self._line("approval", text + (f" ({hint})" if hint else ""), "1;33")

    def note(self, text: str) -> None:
        with self._lock:
            self._end_line()
            if self._quiet:
                self._clear_spinner()
                self._err.write(f"codex-sync: {text}\n")
                self._err.flush()
            else:
                self._write(self._style(text, "33") + "\n")

    def result(self, stream: ChatStream, status: str, final: str, error: str = "") -> None:
        with self._lock:
            self._end_line()
            if status == "completed" and final:
                self._write(final + "\n" if self._quiet else self._style(f"=== {final}", "1") + "\n")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        with self._lock:
            self._clear_spinner()
            self._end_line()


class JsonOutput(Output):
    """One JSON object per line on stdout, for scripts (see ``docs/cli.md``)."""

    def __init__(self, out: IO[str], *, stream: bool) -> None:
        self._out = out
        self.wants_deltas = stream
        self._lock = threading.Lock()

    def _emit(self, record: Dict[str, Any]) -> None:
        with self._lock:
            self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._out.flush()

    def info(self, text: str) -> None:
        self._emit({"event": "info", "text": text})

    def turn_started(self, stream: ChatStream, prompt: str) -> None:
        self._emit({"event": "turn", "thread_id": stream.thread_id, "turn_id": stream.turn_id, "prompt": prompt})

    def delta(self, delta: TextDelta) -> None:
        self._emit({"event": "delta", "kind": delta.kind, "item_id": delta.item_id, "delta": delta.delta})

    def step(self, step: ConversationStep) -> None:
        self._emit(step_json(step))

    def approval(self, step: ConversationStep, decision: str, hint: str = "") -> None:
        request = step.request
        self._emit({
            "event": "approval", "thread_id": step.thread_id, "turn_id": step.turn_id,
            "method": getattr(request, "method", step.item_type), "text": step.text, "decision": decision,
            "params": getattr(request, "params", None),
        })

    def note(self, text: str) -> None:
        self._emit({"event": "note", "text": text})

    def result(self, stream: ChatStream, status: str, final: str, error: str = "") -> None:
        record: Dict[str, Any] = {
            "event": "result", "thread_id": stream.thread_id, "turn_id": stream.turn_id,
            "status": status, "final_text": final or None, "usage": usage_json(stream.usage),
        }
        if error:
            record["error"] = error
        self._emit(record)


def _can_encode(stream: IO[str], text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def make_output(args: argparse.Namespace, out: Optional[IO[str]] = None, err: Optional[IO[str]] = None) -> Output:
    """The :class:`Output` the flags ask for (``--stream`` and ``--progress`` default to "is a terminal")."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.json:
        return JsonOutput(out, stream=bool(args.stream))
    dumb = os.environ.get("TERM") == "dumb"
    stream = args.stream if args.stream is not None else (_isatty(out) and not dumb)
    progress = args.progress if args.progress is not None else (_isatty(err) and not dumb)
    color = _isatty(out) and not dumb and not os.environ.get("NO_COLOR")
    return TextOutput(out, err, stream=stream, progress=progress, quiet=args.quiet,
                      show_data=args.show_data, color=color)


# -- approvals ----------------------------------------------------------------
class Approver:
    """Answers the server's requests, which reach the turn loop as ``approval`` steps (``MANUAL``)."""

    HINT = "pass --approve ask or --approve all to allow"

    def __init__(self, mode: str, output: Output) -> None:
        self.mode = mode
        self._output = output
        self._hinted = False

    @property
    def user_input_handler(self) -> Any:
        """``MANUAL`` in ask mode (questions are asked too), else ``None`` (the client's default)."""
        return MANUAL if self.mode == "ask" else None

    def answer(self, client: CodexClient, step: ConversationStep) -> None:
        """Answer ``step.request`` as the mode says, and report it."""
        request = step.request
        if not isinstance(request, ServerRequestView) or request.answered:
            return
        hint = ""
        if self.mode == "ask":
            self._output.pause()
            try:
                decision: Any = ask_in_terminal(request)
            except CodexError:  # a kind of request the terminal cannot answer (an MCP form...)
                decision = "decline" if isinstance(request, ApprovalRequest) else None
            if decision is None:
                request.answer_error(-32603, f"codex-sync cannot answer {request.method} on a terminal")
                self._output.approval(step, "not answered")
                return
        elif self.mode == "all" and isinstance(request, ApprovalRequest):
            decision = "accept"
        elif isinstance(request, ApprovalRequest):
            decision = "decline"
            if not self._hinted:
                hint, self._hinted = self.HINT, True
        else:  # a question in never/all mode: there is nobody to ask
            request.answer_error(-32603, "codex-sync answers questions only with --approve ask")
            self._output.approval(step, "not answered", "pass --approve ask to answer questions")
            return
        client.respond_approval(request, decision)
        if isinstance(decision, str):
            word = _DECISION_WORDS.get(decision, decision)
        elif isinstance(request, ApprovalRequest):
            word = "approved"
        else:
            word = "answered"
        self._output.approval(step, word, hint)


# -- connecting ---------------------------------------------------------------
_API_HINTS = (
    (re.compile(r"connect_stdio\(command=\[?\.\.\.\]?\)"), "--cmd"),
    (re.compile(r"connect_websocket\(url=\.\.\.\)"), "--url"),
    (re.compile(r"connect_websocket\(token=\.\.\.\)"), "--token"),
    (re.compile(r"user_input_handler=\S*"), "--approve ask"),
    (re.compile(r"approval_handler=\S*"), "--approve"),
)


def cli_message(exc: BaseException) -> str:
    """The first line of an error, with API hints (``connect_stdio(command=...)``) in flag terms."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    for pattern, flag in _API_HINTS:
        first = pattern.sub(flag, first)
    return first


def _check_command(value: str, source: str) -> List[str]:
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise UsageError(f"{source}: cannot split {value!r}: {exc} (quote it like a shell command)") from None
    if not argv:
        raise UsageError(f"{source} is empty (give a command, e.g. --cmd 'codex app-server')")
    program = argv[0]
    found = (os.path.isfile(program) and os.access(program, os.X_OK)) if os.sep in program else shutil.which(program)
    if not found:
        raise UsageError(f"{source}: {program!r} is not an executable file or a command on PATH "
                         f"(give its path, e.g. --cmd '/path/to/codex app-server')")
    return argv


def _check_url(url: str, source: str) -> str:
    if url.startswith(("ws://", "wss://")):
        if len(url.split("://", 1)[1].strip("/")) == 0:
            raise UsageError(f"{source} {url!r} has no host (e.g. --url ws://127.0.0.1:8765)")
        return url
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("http", "https"):
        better = ("ws://" if scheme == "http" else "wss://") + rest
    else:
        better = "ws://" + (rest if sep else url)
    raise UsageError(f"{source} must start with ws:// or wss://, not {url!r} (did you mean --url {better}?)")


def connect(args: argparse.Namespace, **options: Any) -> CodexClient:
    """The client the flags describe, not started yet. Raises :class:`UsageError` for bad flags."""
    transport = args.transport or ("websocket" if args.url or args.token else "stdio")
    if transport == "stdio":
        if args.url or args.token:
            raise UsageError("--url and --token are for --transport websocket (stdio runs --cmd)")
        if args.cmd is not None:
            command: Optional[List[str]] = _check_command(args.cmd, "--cmd")
        elif os.environ.get("CODEX_APP_SERVER_CMD", "").strip():
            command = _check_command(os.environ["CODEX_APP_SERVER_CMD"], "$CODEX_APP_SERVER_CMD")
        else:
            command = None  # `codex` on PATH, then the runtime package: the client looks
        if args.cwd and not os.path.isdir(args.cwd):
            raise UsageError(f"--cwd {args.cwd!r} is not a directory")
        return CodexClient.connect_stdio(command, **options)
    if args.cmd is not None:
        raise UsageError("--cmd is for --transport stdio (websocket connects to --url)")
    if args.url is not None:
        url = _check_url(args.url, "--url")
    elif os.environ.get("CODEX_APP_SERVER_WS_URL"):
        url = _check_url(os.environ["CODEX_APP_SERVER_WS_URL"], "$CODEX_APP_SERVER_WS_URL")
    else:
        url = "ws://127.0.0.1:8765"
    return CodexClient.connect_websocket(url, token=args.token, **options)


# -- running turns --------------------------------------------------------------
def _thread_config(args: argparse.Namespace) -> Optional[ThreadConfig]:
    fields = {
        "cwd": getattr(args, "cwd", None),
        "model": getattr(args, "model", None),
        "approval_policy": getattr(args, "approval_policy", None),
        "sandbox": getattr(args, "sandbox", None),
        "developer_instructions": getattr(args, "developer_instructions", None),
        "base_instructions": getattr(args, "base_instructions", None),
    }
    given = {k: v for k, v in fields.items() if v is not None}
    return ThreadConfig(**given) if given else None


def _steps(stream: ChatStream, output: Output) -> Iterator[ConversationStep]:
    """The stream's steps, telling ``output`` when we block (for the waiting indicator)."""
    while True:
        output.waiting(True)
        try:
            step = next(stream)
        except StopIteration:
            return
        finally:
            output.waiting(False)
        yield step


def run_turns(client: CodexClient, prompts: Sequence[str], args: argparse.Namespace, output: Output) -> int:
    """Run each prompt as a turn of one thread; return the exit status.

    A turn that fails stops the run (status 3); one cancelled after
    ``--inactivity-timeout`` with ``--cancel-on-timeout``, or interrupted,
    stops it with status 4. Without ``--cancel-on-timeout`` a silent turn is
    reported and waited on (resumed from its continuation).
    """
    thread_id: Optional[str] = getattr(args, "thread_id", None)
    config = _thread_config(args)
    approver = Approver(args.approve, output)
    on_delta = output.delta if output.wants_deltas else None
    for number, prompt in enumerate(prompts):
        try:
            stream = client.chat(prompt, thread_id=thread_id, thread_config=config if number == 0 else None,
                                 on_delta=on_delta, approval_handler=MANUAL,
                                 user_input_handler=approver.user_input_handler)
        except CodexProtocolError as exc:
            if number == 0 and thread_id is not None:
                raise UsageError(f"--thread-id {thread_id}: {cli_message(exc)}") from exc
            raise
        except ValueError as exc:
            raise UsageError(cli_message(exc).replace("thread_id", "--thread-id")) from exc
        thread_id = stream.thread_id
        output.turn_started(stream, prompt)
        final = ""
        while True:
            try:
                with stream:
                    for step in _steps(stream, output):
                        if step.step_type == "approval":
                            approver.answer(client, step)
                            continue
                        if step.step_type == "codex" and step.text:
                            final = step.text
                        output.step(step)
                break
            except CodexTurnInactiveError as exc:
                idle = f"{exc.idle_seconds:.1f}s" if exc.idle_seconds is not None else "a while"
                if getattr(args, "cancel_on_timeout", False):
                    cancelled = client.cancel(exc.continuation)
                    for step in cancelled.steps:
                        output.step(step)
                    output.note(f"[cancelled] turn {cancelled.turn_id} after {idle} without news "
                                f"(--inactivity-timeout {args.inactivity_timeout:g})")
                    output.result(stream, "cancelled", final, "inactivity timeout")
                    return EXIT_TIMEOUT
                output.note(f"[waiting] turn {exc.continuation.turn_id} quiet for {idle}; still waiting "
                            "(--cancel-on-timeout stops instead)")
                stream = client.chat(continuation=exc.continuation, on_delta=on_delta)
            except CodexTurnFailedError as exc:
                output.result(stream, "failed", final, cli_message(exc))
                raise
            except CodexTurnInterruptedError as exc:
                output.result(stream, "interrupted", final, cli_message(exc))
                raise
        output.result(stream, "completed", final)
    return EXIT_OK


# -- the demo -----------------------------------------------------------------
def demo_command(cmd: Optional[str]) -> Tuple[List[str], str, Optional[str]]:
    """The demo's server command, where it came from, and a folder to put first on ``PATH``.

    ``--cmd``, else ``$CODEX_APP_SERVER_CMD``, else ``codex app-server`` with
    ``codex`` found on ``PATH``, else the test kit's binary
    (``$CODEX_SYNC_TEST_CODEX`` or openai-codex-cli-bin's). Raises
    :class:`UsageError` for a bad ``--cmd`` or variable, ``RuntimeError``
    when no binary is found.
    """
    if cmd is not None:
        return _check_command(cmd, "--cmd"), "--cmd", None
    env_cmd = os.environ.get("CODEX_APP_SERVER_CMD", "").strip()
    if env_cmd:
        return _check_command(env_cmd, "$CODEX_APP_SERVER_CMD"), "$CODEX_APP_SERVER_CMD", None
    on_path = shutil.which("codex")
    if on_path:
        return [on_path, "app-server"], "codex on PATH", None
    from .testing import codex_binary, codex_path_dir

    try:
        binary = codex_binary()
    except RuntimeError:
        raise RuntimeError(
            "no codex binary for the demo: pass --cmd 'PATH/TO/codex app-server', set "
            "$CODEX_APP_SERVER_CMD, put `codex` on PATH, or pip install 'codex-sync[runtime]'"
        ) from None
    source = "$CODEX_SYNC_TEST_CODEX" if os.environ.get("CODEX_SYNC_TEST_CODEX") else "openai-codex-cli-bin"
    return [binary, "app-server"], source, codex_path_dir()


def run_demo(args: argparse.Namespace, output: Output) -> int:
    """Start a real app-server on a scripted model, with a throw-away home, and show one rich turn."""
    from .testing import ScriptedModel, exec_command, reasoning, text, write_codex_home

    command, source, path_dir = demo_command(args.cmd)
    with ExitStack() as stack:
        model = stack.enter_context(ScriptedModel())
        root = stack.enter_context(tempfile.TemporaryDirectory(prefix="codex-sync-demo-"))
        home = write_codex_home(os.path.join(root, "codex_home"), model.url)
        user_home = os.path.join(root, "home")
        workspace = os.path.join(root, "workspace")
        os.mkdir(user_home)
        os.mkdir(workspace)
        env = {"CODEX_HOME": str(home), "HOME": user_home}
        if path_dir:
            env["PATH"] = path_dir + os.pathsep + os.environ.get("PATH", os.defpath)
        model.on(
            "Show me",
            exec_command("echo hello from a real codex app-server"),
            text(
                "The command printed a greeting: the whole turn ran offline.",
                reasoning=reasoning("I should run a command, then report what it printed."),
                delay=0.02,
            ),
        )
        client = stack.enter_context(
            CodexClient.connect_stdio(command, cwd=workspace, env=env, request_timeout=30)
        )
        init = client.initialize()
        output.info(f"codex app-server {init.server_version} ({init.platform_os}) from {source}: "
                    f"{shlex.join(command)}")
        output.info(f"scripted model at {model.url}")
        return run_turns(client, ["Show me what you can do."], args, output)
    return EXIT_OK  # pragma: no cover - the with block returns


# -- main ---------------------------------------------------------------------
def check_args(args: argparse.Namespace) -> None:
    """Refuse flag combinations argparse cannot see, before anything starts (:class:`UsageError`)."""
    for number, prompt in enumerate(getattr(args, "prompt", None) or []):
        if not prompt.strip():
            raise UsageError(f"prompt {number + 1} is empty")
    if getattr(args, "cancel_on_timeout", False) and getattr(args, "inactivity_timeout", None) is None:
        raise UsageError("--cancel-on-timeout needs --inactivity-timeout SECONDS")
    if args.json and args.show_data:
        raise UsageError("--show-data is for the text output (--json lines carry the item already)")


def _fail(output: Optional[Output], code: int, message: str) -> int:
    if output is not None:
        output.close()
    print(f"codex-sync: error: {message}", file=sys.stderr, flush=True)
    return code


def _setup_logging(verbose: bool) -> None:
    logger = logging.getLogger("codex_sync")
    if any(getattr(h, "_codex_sync_cli", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s" if verbose
                                           else "codex-sync: %(levelname)s: %(message)s"))
    handler._codex_sync_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status (see the module docstring). Errors print one line."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    _setup_logging(args.verbose)
    output: Optional[Output] = None
    try:
        check_args(args)
        output = make_output(args)
        if args.command == "demo":
            code = run_demo(args, output)
        else:
            options: Dict[str, Any] = {"inactivity_timeout": args.inactivity_timeout,
                                       "request_timeout": args.request_timeout}
            with connect(args, **options) as client:
                code = run_turns(client, args.prompt, args, output)
        output.close()
        return code
    except UsageError as exc:
        return _fail(output, EXIT_USAGE, str(exc))
    except KeyboardInterrupt:
        if output is not None:
            output.close()
        print("codex-sync: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (`| head`)
        try:
            sys.stdout = open(os.devnull, "w")  # the flush at exit would fail again
        except OSError:
            pass
        return EXIT_ERROR
    except CodexTurnFailedError as exc:
        return _fail(output, EXIT_TURN_FAILED, cli_message(exc))
    except CodexTurnInterruptedError as exc:
        return _fail(output, EXIT_TIMEOUT, cli_message(exc))
    except CodexTimeoutError as exc:
        return _fail(output, EXIT_TIMEOUT, f"timed out: {cli_message(exc)}")
    except CodexError as exc:
        if args.verbose:
            logging.getLogger("codex_sync").exception("error")
        code = EXIT_USAGE if isinstance(exc, CodexTransportError) and "401" in str(exc) else EXIT_ERROR
        return _fail(output, code, cli_message(exc))
    except (ValueError, TypeError) as exc:  # the library refused a value we passed on
        if args.verbose:
            raise
        return _fail(output, EXIT_USAGE, f"{cli_message(exc)} (see `codex-sync {args.command} --help`)")
    except (RuntimeError, OSError) as exc:
        if args.verbose:
            raise
        return _fail(output, EXIT_ERROR, cli_message(exc))
    except Exception as exc:  # a bug: still one line, unless --verbose
        if args.verbose:
            raise
        return _fail(output, EXIT_ERROR, f"internal error: {type(exc).__name__}: {cli_message(exc)} "
                                         "(--verbose shows the traceback)")
