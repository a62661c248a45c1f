"""What ``codex-sync chat`` prints: steps as text on a terminal (live text, a waiting indicator) or as JSON lines.

Used by :mod:`codex_sync.cli`; the waiting indicator is a daemon thread that
draws on stderr while a turn is silent, and only on a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import IO, Any, Dict, Optional, Tuple

from .approvals import MANUAL, ApprovalRequest, ServerRequestView
from .chat import ChatStream
from .client import CodexClient
from .errors import CodexError
from .handlers import ask_in_terminal
from .values import ConversationStep, TextDelta, TokenUsage

#: Item types whose live text ``--stream`` prints as it arrives.
STREAMED_KINDS = ("codex", "thinking", "plan")
#: Output lines of a command shown under an ``exec`` step (``--show-data`` shows the item).
EXEC_OUTPUT_LINES = 20


def step_status(step: ConversationStep) -> Optional[str]:
    """``"declined"`` or ``"failed"`` when the step's item did not do its job, else ``None``.

    Reads the item's ``status`` (commandExecution, fileChange, mcpToolCall...),
    ``success`` (dynamicToolCall) and a command's non-zero ``exitCode``.
    """
    return step.outcome()  # one rule, shared with the notebook and the values' own rendering


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


_DECISION_WORDS = {
    "accept": "approved",
    "acceptForSession": "approved for the session",
    "decline": "declined",
    "cancel": "declined, and the turn cancelled",
}


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
