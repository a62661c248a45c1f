"""Requests from the server (approvals, questions) as objects you can answer.

A handler is a callable taking one request object. An approval handler
returns a decision: ``True`` (approve), ``False``/``None`` (decline), one of
the decision strings (``"accept"``, ``"acceptForSession"``, ``"decline"``,
``"cancel"``) or a decision dict; it may also answer itself (``request.approve()``)
and return nothing. A user-input handler returns ``{question_id: answer}``
(a string or a list of strings). A handler that raises declines (approvals)
or sends an error reply (everything else), and the error is logged.

Pass ``codex_sync.MANUAL`` as a handler to answer in the ``chat()`` loop:
the request arrives as a step with ``step_type == "approval"`` and
``step.request`` is the object to answer.

Answering is thread-safe and happens once; later answers are ignored.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Union

from typing_extensions import Protocol

from . import protocol
from .errors import CodexError
from .protocol import RequestId, ServerRequest

log = logging.getLogger("codex_sync.approvals")

MANUAL = "manual"
"""Handler value: deliver the request to the ``chat()`` loop as an ``approval`` step."""

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
PERMISSIONS_APPROVAL = "item/permissions/requestApproval"
USER_INPUT = "item/tool/requestUserInput"
ELICITATION = "mcpServer/elicitation/request"
DYNAMIC_TOOL_CALL = "item/tool/call"
AUTH_REFRESH = "account/chatgptAuthTokens/refresh"
ATTESTATION = "attestation/generate"
LEGACY_PATCH_APPROVAL = "applyPatchApproval"
LEGACY_EXEC_APPROVAL = "execCommandApproval"

_warned_clients: weakref.WeakSet[Any] = weakref.WeakSet()
_warn_lock = threading.Lock()


class Responder(Protocol):
    """Where answers to server requests go (the client's session implements it)."""

    def respond(self, request_id: RequestId, result: Any) -> None:
        """Send ``result`` as the answer to request ``request_id``."""

    def respond_error(self, request_id: RequestId, code: int, message: str) -> None:
        """Answer request ``request_id`` with a JSON-RPC error."""


class ServerRequestView:
    """A request from the server, waiting for one answer.

    ``method``, ``params``, ``thread_id``, ``turn_id``, ``item_id`` describe
    it; :meth:`respond` / :meth:`answer_error` answer it (once; thread-safe).
    """

    handler_kind: Optional[str] = None

    def __init__(self, responder: Responder, message: ServerRequest) -> None:
        self._responder = responder
        self._message = message
        self._lock = threading.Lock()
        self.answered = False
        self.method = message.method
        self.params: Dict[str, Any] = message.params
        self.id = message.id
        self.thread_id: Optional[str] = message.params.get("threadId")
        self.turn_id: Optional[str] = message.params.get("turnId")
        self.item_id: Optional[str] = message.params.get("itemId")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} id={self.id} {self.describe()!r}>"

    def describe(self) -> str:
        """One line for a person: what is asked."""
        return self.method

    def _send(self, send: Callable[[], None]) -> None:
        """Send one answer, once: the request counts as answered only once it went out.

        If sending raises (an answer JSON cannot encode, a dead connection),
        the request is still unanswered and a later answer is sent.
        """
        with self._lock:
            if self.answered:
                return
            self.answered = True
        try:
            send()
        except BaseException:
            with self._lock:
                self.answered = False
            raise

    def respond(self, result: Any) -> None:
        """Send ``result`` as the answer (once; later answers are ignored). Any thread.

        Raises :class:`TypeError` if ``result`` cannot be encoded as JSON (the
        request stays unanswered), :class:`CodexTransportError` if the
        connection is gone.
        """
        self._send(lambda: self._responder.respond(self.id, result))

    def answer_error(self, code: int, message: str) -> None:
        """Answer with a JSON-RPC error (once). Any thread."""
        self._send(lambda: self._responder.respond_error(self.id, code, message))

    def _repr_markdown_(self) -> str:
        return f"**{type(self).__name__}** `{self.method}`\n\n{self.describe()}"


class ApprovalRequest(ServerRequestView):
    """An approval request: :meth:`approve`, :meth:`approve_for_session`, :meth:`decline`, :meth:`cancel`."""

    handler_kind = "approval"
    _decisions = {"accept": "accept", "acceptForSession": "acceptForSession", "decline": "decline", "cancel": "cancel"}

    @property
    def reason(self) -> Optional[str]:
        """Why the agent asks (its justification), if given."""
        return self.params.get("reason")

    def decide(self, decision: Union[str, Mapping[str, Any]]) -> None:
        """Answer with a decision string or dict (see the module docstring)."""
        if isinstance(decision, str):
            if decision not in self._decisions:
                raise ValueError(f"unknown decision {decision!r}; expected one of {sorted(self._decisions)}")
            self.respond({"decision": self._decisions[decision]})
        elif isinstance(decision, Mapping):
            self.respond({"decision": dict(decision)})
        else:
            raise TypeError(f"decision must be a string or a dict, not {type(decision).__name__}")

    def approve(self) -> None:
        """Let the action run once."""
        self.decide("accept")

    def approve_for_session(self) -> None:
        """Let it run, and similar ones for the rest of the session."""
        self.decide("acceptForSession")

    def decline(self) -> None:
        """Refuse; the model is told and the turn goes on."""
        self.decide("decline")

    def cancel(self) -> None:
        """Refuse and interrupt the turn."""
        self.decide("cancel")


class CommandApprovalRequest(ApprovalRequest):
    """The agent wants to run ``command`` in ``cwd``."""

    @property
    def command(self) -> Optional[str]:
        """The command line, when the server says it."""
        return self.params.get("command")

    @property
    def cwd(self) -> Optional[str]:
        """Where the command would run."""
        return self.params.get("cwd")

    @property
    def available_decisions(self) -> List[Any]:
        """The decisions the server offers (may be empty)."""
        return list(self.params.get("availableDecisions") or [])

    @property
    def proposed_execpolicy_amendment(self) -> Optional[List[str]]:
        """The command prefix the server proposes to allow from now on."""
        return self.params.get("proposedExecpolicyAmendment")

    def approve_with_execpolicy_amendment(self, amendment: Optional[List[str]] = None) -> None:
        """Run it and allow commands starting with ``amendment`` (default: the proposed one) from now on."""
        prefix = amendment if amendment is not None else self.proposed_execpolicy_amendment
        if not prefix:
            raise ValueError("no execpolicy amendment was proposed; pass one")
        self.decide({"acceptWithExecpolicyAmendment": {"execpolicy_amendment": list(prefix)}})

    def apply_network_policy_amendment(self, host: str, action: str = "allow") -> None:
        """Answer with a network policy amendment for ``host`` (``allow`` or ``deny``)."""
        self.decide({"applyNetworkPolicyAmendment": {"network_policy_amendment": {"host": host, "action": action}}})

    def describe(self) -> str:
        text = f"run `{self.command or '?'}`"
        if self.cwd:
            text += f" in {self.cwd}"
        if self.reason:
            text += f" — {self.reason}"
        return text


class FileChangeApprovalRequest(ApprovalRequest):
    """The agent wants to change files (see the turn's ``fileChange`` item)."""

    @property
    def grant_root(self) -> Optional[str]:
        """A folder the agent asks write access to, if any."""
        return self.params.get("grantRoot")

    def describe(self) -> str:
        return "change files" + (f" — {self.reason}" if self.reason else "")


class PermissionsRequest(ApprovalRequest):
    """The agent asks for more permissions (``permissions``: file system, network)."""

    @property
    def permissions(self) -> Dict[str, Any]:
        """What is asked for."""
        return dict(self.params.get("permissions") or {})

    def decide(self, decision: Union[str, Mapping[str, Any]]) -> None:
        if decision in ("accept", "acceptForSession"):
            scope = "session" if decision == "acceptForSession" else "turn"
            self.respond({"permissions": self.permissions, "scope": scope})
        elif decision in ("decline", "cancel"):
            self.respond({"permissions": {}, "scope": "turn"})
        elif isinstance(decision, Mapping):
            self.respond(dict(decision))
        else:
            raise ValueError(f"unknown decision {decision!r}")

    def grant(self, permissions: Mapping[str, Any], scope: str = "turn") -> None:
        """Grant a subset of what was asked, for the ``turn`` or the ``session``."""
        self.respond({"permissions": dict(permissions), "scope": scope})

    def describe(self) -> str:
        return f"grant permissions {self.permissions}" + (f" — {self.reason}" if self.reason else "")


class LegacyApprovalRequest(ApprovalRequest):
    """``execCommandApproval`` / ``applyPatchApproval`` of the older protocol."""

    _decisions = {"accept": "approved", "acceptForSession": "approved_for_session", "decline": "denied", "cancel": "abort"}


class UserInputRequest(ServerRequestView):
    """The agent asks the user ``questions`` (each with ``id``, ``question``, ``options``)."""

    handler_kind = "user_input"

    @property
    def questions(self) -> List[Dict[str, Any]]:
        """The questions, as the server sent them."""
        return list(self.params.get("questions") or [])

    def answer(self, answers: Mapping[str, Union[str, List[str]]]) -> None:
        """Answer with ``{question_id: answer or [answers]}``."""
        if not isinstance(answers, Mapping):
            raise TypeError("answers must be a dict of question id -> answer")
        self.respond({
            "answers": {
                qid: {"answers": [value] if isinstance(value, str) else list(value)}
                for qid, value in answers.items()
            }
        })

    def describe(self) -> str:
        return "; ".join(str(q.get("question", "")) for q in self.questions) or "user input"


class ElicitationRequest(ServerRequestView):
    """An MCP server asks the user for something (``message``)."""

    handler_kind = "user_input"

    def accept(self, content: Any = None) -> None:
        """Accept, with the form's ``content``."""
        self.respond({"action": "accept", "content": content, "_meta": None})

    def decline(self) -> None:
        """Decline."""
        self.respond({"action": "decline", "content": None, "_meta": None})

    def cancel(self) -> None:
        """Cancel."""
        self.respond({"action": "cancel", "content": None, "_meta": None})

    def answer(self, answers: Any) -> None:
        """Handler convenience: accept with ``answers`` as the content."""
        self.accept(answers)

    def describe(self) -> str:
        return str(self.params.get("message") or "MCP elicitation")


_VIEW_TYPES = {
    COMMAND_APPROVAL: CommandApprovalRequest,
    FILE_CHANGE_APPROVAL: FileChangeApprovalRequest,
    PERMISSIONS_APPROVAL: PermissionsRequest,
    LEGACY_EXEC_APPROVAL: LegacyApprovalRequest,
    LEGACY_PATCH_APPROVAL: LegacyApprovalRequest,
    USER_INPUT: UserInputRequest,
    ELICITATION: ElicitationRequest,
}
_KNOWN_WITHOUT_HANDLER = {DYNAMIC_TOOL_CALL, AUTH_REFRESH, ATTESTATION}


def check_handler(value: Any, name: str) -> None:
    """Raise :class:`TypeError` unless ``value`` is a callable, :data:`MANUAL` or ``None``."""
    if value is not None and value != MANUAL and not callable(value):
        raise TypeError(f"{name} must be callable, codex_sync.MANUAL or None")


def make_request_view(responder: Responder, message: ServerRequest) -> ServerRequestView:
    """The typed object for a server request, answering through ``responder``."""
    return _VIEW_TYPES.get(message.method, ServerRequestView)(responder, message)


def default_answer(view: ServerRequestView) -> None:
    """What the client answers when nobody handles ``view`` (one warning per client)."""
    if isinstance(view, ApprovalRequest):
        with _warn_lock:
            first = view._responder not in _warned_clients
            _warned_clients.add(view._responder)
        if first:
            log.warning(
                "declined %s (%s): codex_sync declines approvals by default. To allow them, pass "
                "approval_handler=codex_sync.approve_all (or your own function, or codex_sync.MANUAL "
                "to answer in the chat() loop) to CodexClient, a thread or a turn",
                view.method, view.describe(),
            )
        view.decline()
    elif view.method in _KNOWN_WITHOUT_HANDLER or view.handler_kind == "user_input":
        view.answer_error(
            protocol.INTERNAL_ERROR,
            f"codex_sync has no handler for {view.method}; pass user_input_handler= to answer questions",
        )
    else:
        view.answer_error(protocol.METHOD_NOT_FOUND, f"method not supported by this client: {view.method}")


def run_handler(view: ServerRequestView, handler: Callable[[Any], Any]) -> None:
    """Call ``handler`` and send what it decided; a raising handler declines or errors."""
    try:
        outcome = handler(view)
    except Exception as exc:
        log.exception("%s handler raised", view.method)
        _refuse(view, f"handler raised {type(exc).__name__}: {exc}")
        return
    if view.answered:
        return
    try:
        if isinstance(view, ApprovalRequest):
            if outcome is True:
                view.approve()
            elif outcome is False or outcome is None:
                view.decline()
            else:
                view.decide(outcome)
        elif isinstance(view, (UserInputRequest, ElicitationRequest)):
            if outcome is None:
                view.answer_error(protocol.INTERNAL_ERROR, "handler gave no answer")
            else:
                view.answer(outcome)
        elif outcome is not None:
            view.respond(outcome)
        else:
            default_answer(view)
    except (TypeError, ValueError) as exc:
        log.error("%s handler returned an unusable answer %r: %s", view.method, outcome, exc)
        _refuse(view, f"handler returned an unusable answer: {exc}")


def _refuse(view: ServerRequestView, reason: str) -> None:
    """Fail closed after a broken handler: decline an approval, answer anything else with an error."""
    if isinstance(view, ApprovalRequest):
        view.decline()
    else:
        view.answer_error(protocol.INTERNAL_ERROR, reason)


# -- ready handlers -------------------------------------------------------------
def approve_all(request: ServerRequestView) -> bool:
    """Approve every approval request (only where you trust the agent fully)."""
    return True


def decline_all(request: ServerRequestView) -> bool:
    """Decline every approval request, without the default's warning."""
    return False


def ask_in_terminal(request: ServerRequestView) -> Any:
    """Ask on the terminal (stdin/stderr). Blocks this handler's thread only.

    Approvals: ``y`` approve, ``s`` for the session, ``n`` decline, ``c``
    cancel the turn. Questions: type the answer, or the number of an option.
    """
    out = sys.stderr
    if isinstance(request, ApprovalRequest):
        out.write(f"\n[codex] approve {request.describe()}? [y]es/[s]ession/[n]o/[c]ancel: ")
        out.flush()
        reply = sys.stdin.readline().strip().lower()[:1]
        return {"y": "accept", "s": "acceptForSession", "c": "cancel"}.get(reply, "decline")
    if isinstance(request, UserInputRequest):
        answers: Dict[str, List[str]] = {}
        for q in request.questions:
            options = q.get("options") or []
            out.write(f"\n[codex] {q.get('question', '')}\n")
            for n, option in enumerate(options, 1):
                out.write(f"  {n}. {option.get('label', '')}\n")
            out.write("> ")
            out.flush()
            reply = sys.stdin.readline().strip()
            if reply.isdigit() and 1 <= int(reply) <= len(options):
                reply = str(options[int(reply) - 1].get("label", reply))
            answers[str(q.get("id"))] = [reply]
        return answers
    raise CodexError(f"ask_in_terminal cannot answer {request.method}")
