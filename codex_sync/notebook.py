"""Watch a turn in a Jupyter notebook: one output area, updated in place as it runs.

```python
from codex_sync.notebook import live, show

show(client.chat("List the files here"))                    # steps, as they complete
show(client.chat("Write a haiku", on_delta=live()))         # and the text as it is written
show(client.chat_once("Hello"))                             # a finished result
```

:func:`show` takes what ``client.chat()`` (or ``thread.chat()``) returns and
draws each step as it completes: commands with their output folded in a
``<details>`` block and marked when they were declined or failed, file
changes, reasoning, and the answer, then a footer with the thread, the turn,
the token count (when the model reported one) and the time taken. It also
takes a ``ChatResult``, a ``CancelResult``, a step or a list of steps.

Live text needs an ``on_delta`` callback when the turn starts, so
:func:`live` makes one: pass it as ``on_delta=``, and the next :func:`show`
in the same thread draws into the same output area (``show(stream, view)``
says it explicitly). With ``chat_once(..., on_delta=live())`` the text shows
while the call blocks, and ``show(result)`` then completes the same area.

Outside IPython (a script, a terminal) the same calls print ``[type] text``
lines, with live text, as ``codex-sync chat`` does. IPython is imported only
when it is already running; nothing beyond what Jupyter has is needed.

Call these from the thread that iterates the turn (a notebook cell's).
"""

from __future__ import annotations

import html
import importlib
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, Dict, List, Optional, Tuple

from .approvals import ApprovalRequest, ServerRequestView
from .chat import ChatStream
from .cli_output import step_status, step_tag
from .errors import CodexTurnInactiveError
from .values import CancelResult, ChatResult, ConversationStep, TextDelta, TokenUsage

__all__ = ["LiveView", "live", "show"]

#: Seconds between two redraws caused by live text (steps always redraw at once).
REDRAW_SECONDS = 0.1
#: Lines of a command's output kept in the page (the rest is counted, not shown).
OUTPUT_LINES = 200

_pending = threading.local()

_BADGE_COLORS = {
    "codex": "#0b7285",
    "thinking": "#868e96",
    "exec": "#5c3c92",
    "file": "#2b8a3e",
    "tool": "#e67700",
    "approval": "#d9480f",
    "userMessage": "#495057",
}
_BAD = "#c92a2a"


def _ipython() -> Any:
    """The running IPython shell with a kernel (a notebook), or ``None``. Imports nothing new."""
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        shell = module.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython
        return None
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _display() -> Any:
    """``IPython.display.display``, imported when first needed (typed ``Any``: IPython is optional)."""
    return importlib.import_module("IPython.display").display


def _cell_token(shell: Any) -> Any:
    """Something that differs from one executed cell to the next."""
    parent = getattr(shell, "parent_header", None)
    if isinstance(parent, dict):
        msg_id = (parent.get("header") or {}).get("msg_id")
        if msg_id:
            return msg_id
    return getattr(shell, "execution_count", None)


def _item(step: ConversationStep) -> Dict[str, Any]:
    item = step.data.get("item") if isinstance(step.data, dict) else None
    return item if isinstance(item, dict) else {}


def _tokens(usage: Optional[TokenUsage]) -> Optional[int]:
    """The turn's token count, or ``None`` when the model reported none (zeros mean none)."""
    if usage is None or not usage.total_tokens:
        return None
    return usage.total_tokens


class LiveView:
    """One output area showing one turn; made by :func:`live` or :func:`show`.

    Call it with a :class:`TextDelta` (it is an ``on_delta`` callback) to add
    live text; :func:`show` feeds it the steps. Its attributes tell what it
    saw: ``steps``, ``final_text`` (the last answer), ``thread_id``,
    ``turn_id``, ``usage``, ``status`` (``"running"``, ``"completed"``,
    ``"failed"``, ``"interrupted"``, ``"cancelled"``, ``"waiting"``) and
    ``error`` (the exception that ended it, if any).

    In a notebook, evaluating the view in a later cell draws it again (its
    final state); in the cell that showed it, it is not drawn twice.
    """

    def __init__(self) -> None:
        self.steps: List[ConversationStep] = []
        self.final_text: Optional[str] = None
        self.thread_id: Optional[str] = None
        self.turn_id: Optional[str] = None
        self.usage: Optional[TokenUsage] = None
        self.status = "running"
        self.error: Optional[BaseException] = None
        self.notes: List[str] = []
        self._live: List[Tuple[Optional[str], str, str]] = []  # (item id, kind, text) being written
        self._started = time.monotonic()
        self._ended: Optional[float] = None
        self._handle: Any = None
        self._shown_in: Any = None
        self._last_draw = 0.0
        self._plain: Any = None  # the terminal printer, outside a notebook
        self._watched = False
        self._final_step: Optional[ConversationStep] = None

    # -- feeding ---------------------------------------------------------------
    def __call__(self, delta: TextDelta) -> None:
        """Add live text (the ``on_delta`` callback). Draws at most every ``REDRAW_SECONDS``."""
        if not isinstance(delta, TextDelta) or not delta.delta:
            return
        self._watched = True
        if self._plain is None and self._handle is None:
            self._open()
        if self._plain is not None:
            self._plain.delta(delta)
            return
        if delta.kind not in ("codex", "thinking", "plan"):
            return
        if self._live and self._live[-1][0] == delta.item_id and self._live[-1][1] == delta.kind:
            item_id, kind, text = self._live[-1]
            self._live[-1] = (item_id, kind, text + delta.delta)
        else:
            self._live.append((delta.item_id, delta.kind, delta.delta))
        if time.monotonic() - self._last_draw >= REDRAW_SECONDS:
            self._draw()

    def add_step(self, step: ConversationStep) -> None:
        """Add a completed step and redraw (the footer then shows the time since the view was made)."""
        self._watched = True
        self._add(step)

    def _add(self, step: ConversationStep) -> None:
        if self._plain is None and self._handle is None:
            self._open()
        self.steps.append(step)
        self.thread_id = self.thread_id or step.thread_id
        self.turn_id = self.turn_id or step.turn_id
        if step.step_type == "codex" and step.text:
            self.final_text = step.text
            self._final_step = step
        self._live = [entry for entry in self._live if entry[0] != step.item_id]
        if self._plain is not None:
            self._plain.step(step)
        else:
            self._draw()

    def note(self, text: str) -> None:
        """Add a line under the steps (a timeout, an unanswered request...)."""
        self.notes.append(text)
        if self._plain is not None:
            self._plain.note(text)
        else:
            self._draw()

    def finish(self, status: str, error: Optional[BaseException] = None) -> None:
        """End the view with ``status``; the footer shows it."""
        self.status = status
        self.error = error
        self._ended = time.monotonic()
        self._live = []
        if getattr(_pending, "view", None) is self:
            _pending.view = None
        if self._plain is None and self._handle is None:
            self._open()
        if self._plain is not None:
            self._print_footer()
        else:
            self._draw()

    # -- drawing ---------------------------------------------------------------
    def _open(self) -> None:
        shell = _ipython()
        if shell is None:
            from .cli_output import TextOutput

            self._plain = TextOutput(sys.stdout, sys.stderr, stream=True, progress=False, quiet=False,
                                     show_data=False, color=False)
            return
        self._handle = _display()(self._bundle(), raw=True, display_id=True)
        self._shown_in = _cell_token(shell)
        self._last_draw = time.monotonic()

    def _draw(self) -> None:
        if self._handle is None:
            return
        self._handle.update(self._bundle(), raw=True)
        self._last_draw = time.monotonic()

    def _bundle(self) -> Dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.plain()}

    def _footer(self) -> str:
        parts = []
        if self.thread_id:
            parts.append(f"thread {self.thread_id}")
        if self.turn_id:
            parts.append(f"turn {self.turn_id}")
        tokens = _tokens(self.usage)
        if tokens is not None:
            parts.append(f"{tokens} tokens")
        parts.append(f"{len(self.steps)} step{'s' if len(self.steps) != 1 else ''}")
        if self._watched:  # it saw the turn run, so the time means something
            end = self._ended if self._ended is not None else time.monotonic()
            parts.append(f"{end - self._started:.1f} s")
        return " · ".join(parts)

    def plain(self) -> str:
        """The view as text (``[type] text`` lines, then the answer and the footer)."""
        lines = []
        for step in self.steps:
            lines.append(f"[{step_tag(step)}] {step.text}")
            output = _output(step)
            if output:
                lines.extend(f"    > {line}" for line in output.splitlines()[:20])
        lines.extend(f"[{kind}] {text}" for _, kind, text in self._live)
        lines.extend(self.notes)
        if self.final_text and self.status == "completed":
            lines.append(f"=== {self.final_text}")
        lines.append(f"({self.status}) {self._footer()}")
        return "\n".join(lines)

    def html(self) -> str:
        """The view as one self-contained HTML fragment (inline styles, no script)."""
        answered = self.status == "completed" and self.final_text
        rows = [_step_html(step) for step in self.steps
                if not (answered and step is self._final_step)]  # the answer box shows that one
        for _, kind, text in self._live:
            rows.append(_row(kind, f"<span style='white-space:pre-wrap'>{html.escape(text)}</span>"
                                   "<span style='opacity:.6'>▍</span>", live=True))
        for note in self.notes:
            rows.append(f"<div style='margin:2px 0;color:{_BAD}'>{html.escape(note)}</div>")
        rows.append(self._result_html())
        return ("<div class='codex-sync-view' style='font-family:var(--jp-content-font-family,sans-serif);"
                "line-height:1.45;max-width:100%;overflow-wrap:anywhere'>" + "".join(rows) + "</div>")

    def _result_html(self) -> str:
        footer = html.escape(self._footer())
        if self.status == "running":
            return f"<div style='margin-top:4px;opacity:.7'><i>running…</i> <small>{footer}</small></div>"
        answer = ""
        if self.final_text and self.status == "completed":
            answer = ("<div class='codex-sync-answer' style='margin:6px 0;padding:6px 10px;"
                      "border-left:3px solid #0b7285;white-space:pre-wrap'>"
                      f"{html.escape(self.final_text)}</div>")
        state = html.escape(self.status)
        if self.error is not None:
            state += ": " + html.escape(str(self.error).strip().splitlines()[0] if str(self.error).strip()
                                        else type(self.error).__name__)
        color = "inherit" if self.status == "completed" else _BAD
        return (f"{answer}<div style='opacity:.75'><small><b style='color:{color}'>{state}</b>"
                f" · {footer}</small></div>")

    def _print_footer(self) -> None:
        out = self._plain
        assert out is not None
        out.close()
        if self.final_text and self.status == "completed":
            print(f"=== {self.final_text}", flush=True)
        suffix = ""
        if self.error is not None and str(self.error).strip():
            suffix = ": " + str(self.error).strip().splitlines()[0]
        if self.status != "completed" or suffix:
            print(f"({self.status}{suffix})", flush=True)

    # -- display protocol ------------------------------------------------------
    def _ipython_display_(self) -> None:
        shell = _ipython()
        if shell is None:
            print(self.plain())
            return
        if self._handle is not None and self._shown_in == _cell_token(shell):
            return  # on screen already, in this very cell
        _display()(self._bundle(), raw=True)

    def __repr__(self) -> str:
        text = (self.final_text or "").replace("\n", " ")
        if len(text) > 60:
            text = text[:59] + "…"
        return (f"LiveView(status={self.status!r}, thread_id={self.thread_id!r}, turn_id={self.turn_id!r}, "
                f"steps={len(self.steps)}, final_text={text!r})")


def _output(step: ConversationStep) -> str:
    if step.step_type != "exec":
        return ""
    output = _item(step).get("aggregatedOutput")
    return output.strip("\n") if isinstance(output, str) else ""


def _badge(kind: str, bad: bool = False) -> str:
    color = _BAD if bad else _BADGE_COLORS.get(kind, "#495057")
    return (f"<span style='display:inline-block;min-width:5.5em;font:600 .75em monospace;color:#fff;"
            f"background:{color};border-radius:3px;padding:1px 6px;margin-right:6px;text-align:center'>"
            f"{html.escape(kind)}</span>")


def _row(kind: str, body: str, *, bad: bool = False, live: bool = False, label: Optional[str] = None) -> str:
    style = "margin:3px 0;display:flex;align-items:flex-start"
    if live:
        style += ";opacity:.85"
    return (f"<div class='codex-sync-step codex-sync-{html.escape(kind)}' style='{style}'>"
            f"{_badge(label or kind, bad)}<div style='flex:1;min-width:0'>{body}</div></div>")


def _details(summary: str, text: str, limit: int = OUTPUT_LINES) -> str:
    lines = text.splitlines()
    shown = "\n".join(lines[:limit])
    more = f"\n… {len(lines) - limit} more lines" if len(lines) > limit else ""
    return (f"<details><summary style='cursor:pointer;opacity:.8'>{html.escape(summary)}</summary>"
            f"<pre style='white-space:pre-wrap;margin:4px 0;max-height:24em;overflow:auto'>"
            f"{html.escape(shown + more)}</pre></details>")


def _step_html(step: ConversationStep) -> str:
    status = step_status(step)
    item = _item(step)
    label = step.step_type + (f" {status}" if status else "")
    text = html.escape(step.text)
    if step.step_type == "exec":
        body = f"<code style='white-space:pre-wrap'>{text}</code>"
        code = item.get("exitCode")
        if status == "declined":
            body += f" <b style='color:{_BAD}'>declined: not run</b>"
        elif status == "failed":
            body += f" <b style='color:{_BAD}'>failed" + (f" (exit {code})" if isinstance(code, int) else "") + "</b>"
        output = _output(step)
        if output:
            count = len(output.splitlines())
            body += _details(f"output ({count} line{'s' if count != 1 else ''})", output)
        return _row("exec", body, bad=status is not None, label=label)
    if step.step_type == "file":
        body = f"<span style='white-space:pre-wrap'>{text}</span>"
        if status:
            body += f" <b style='color:{_BAD}'>{html.escape(status)}</b>"
        diffs = "\n".join(str(c.get("diff") or "") for c in item.get("changes") or [] if isinstance(c, dict))
        if diffs.strip():
            body += _details("diff", diffs)
        return _row("file", body, bad=status is not None, label=label)
    if step.step_type == "thinking":
        return _row("thinking", f"<i style='white-space:pre-wrap;opacity:.75'>{text}</i>")
    if step.step_type == "approval":
        return _row("approval", f"<span style='white-space:pre-wrap'>{text}</span>")
    style = "white-space:pre-wrap" + (";font-weight:500" if step.step_type == "codex" else "")
    body = f"<span style='{style}'>{text}</span>"
    if status:
        body += f" <b style='color:{_BAD}'>{html.escape(status)}</b>"
    return _row(step.step_type, body, bad=status is not None, label=label)


def live() -> LiveView:
    """A view to pass as ``on_delta=``; the next :func:`show` in this thread draws into it.

    ``show(client.chat("...", on_delta=live()))``. The view draws itself at
    the first piece of text if nothing has shown it yet (``chat_once``).
    """
    view = LiveView()
    _pending.view = view
    return view


def _answer_unanswered(view: LiveView, step: ConversationStep) -> None:
    request = step.request
    if not isinstance(request, ServerRequestView) or request.answered:
        return
    if isinstance(request, ApprovalRequest):
        request.decline()
        view.note(f"declined {request.describe()}: show() cannot ask; pass approval_handler= "
                  "(codex_sync.approve_all, your own function) or answer in a chat() loop")
    else:
        request.answer_error(-32603, "codex_sync.notebook.show cannot answer this request")
        view.note(f"did not answer {request.method}: pass user_input_handler= to answer questions")


def show(what: Any, view: Optional[LiveView] = None) -> LiveView:
    """Draw a turn in one output area, updated in place; return its :class:`LiveView`.

    ``what`` is a ``ChatStream`` (what ``chat()`` returns: iterated to its
    end here, blocking, each step drawn as it completes), a ``ChatResult``
    or ``CancelResult``, a ``ConversationStep`` or a list of steps. ``view``
    defaults to the last :func:`live` view of this thread not finished yet,
    else a new one.

    An error of the turn (failed, interrupted, Ctrl-C, inactivity timeout)
    is drawn, then raised again. A request arriving as an ``approval`` step
    (``codex_sync.MANUAL``) cannot be answered here: it is declined, and said
    so. Call it from the thread that runs the turn.
    """
    if view is None:
        pending = getattr(_pending, "view", None)
        view = pending if isinstance(pending, LiveView) else LiveView()
    elif not isinstance(view, LiveView):
        raise TypeError(f"view must be a LiveView (from live()), not {type(view).__name__}")
    if isinstance(what, ChatStream):
        _show_stream(what, view)
    elif isinstance(what, (ChatResult, CancelResult)):
        view.thread_id, view.turn_id = what.thread_id, what.turn_id
        if isinstance(what, ChatResult):
            view.usage = what.usage
        known = {step.item_id for step in view.steps if step.item_id}
        for step in what.steps:
            if step.item_id not in known or not step.item_id:
                view._add(step)
        if isinstance(what, ChatResult):
            view.final_text = what.final_text
            view.finish("completed")
        else:
            view.finish("interrupted" if what.was_interrupted else "cancelled")
    elif isinstance(what, ConversationStep):
        view._add(what)
        view.finish("completed")
    elif isinstance(what, Iterable) and not isinstance(what, (str, bytes, dict)):
        for step in what:
            if not isinstance(step, ConversationStep):
                raise TypeError(f"show() takes ConversationStep items, not {type(step).__name__}")
            view._add(step)
        view.finish("completed")
    else:
        raise TypeError("show() takes what chat() or chat_once() returns (a ChatStream or a ChatResult), "
                        f"a CancelResult, a step or a list of steps; not {type(what).__name__}")
    return view


def _show_stream(stream: ChatStream, view: LiveView) -> None:
    view.thread_id, view.turn_id = stream.thread_id, stream.turn_id
    view.status = "running"
    view._watched = True
    if view._handle is None and view._plain is None:
        view._open()
    try:
        for step in stream:
            view._add(step)
            if step.step_type == "approval":
                _answer_unanswered(view, step)
            view.usage = stream.usage
    except CodexTurnInactiveError as exc:
        view.status = "waiting"
        _pending.view = view  # show(client.chat(continuation=...)) goes on in this view
        view.note(f"no news for {exc.idle_seconds or 0:.1f} s; the turn goes on. Resume with "
                  "show(client.chat(continuation=error.continuation)) (it continues this view)")
        view._draw()
        raise
    except KeyboardInterrupt as exc:
        view.finish("interrupted", exc)
        raise
    except BaseException as exc:
        kind = type(exc).__name__
        view.finish("interrupted" if "Interrupted" in kind else "failed", exc)
        raise
    view.usage = stream.usage
    view.finish("completed")
