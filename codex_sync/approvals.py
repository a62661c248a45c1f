"""Requests from the server (approvals, questions) as objects you can answer.

A handler is a callable taking one request object. An approval handler
returns a decision: ``True`` (approve), ``False``/``None`` (decline), one of
the decision strings (``"accept"``, ``"accept_for_session"`` or
``"acceptForSession"``, ``"decline"``, ``"cancel"``), a
:class:`~codex_sync.answers.CommandApprovalWithExecpolicyAmendment` or a
decision dict; it may also answer itself (``request.approve()``) and return
nothing. A user-input handler returns a
:class:`~codex_sync.answers.UserInputResponse` or ``{question_id: answer}``
(a string or a list of strings). A handler that raises declines (approvals)
or sends an error reply (everything else), and the error is logged.

Pass ``codex_sync.MANUAL`` as a handler to answer in the ``chat()`` loop:
the request arrives as a step with ``step_type == "approval"`` and
``step.request`` is the object to answer.

Answering is thread-safe and happens once; later answers through the
request's own methods are ignored, while :meth:`ServerRequestView.respond_pending`
(what the client's ``respond_approval``/``respond_user_input`` use) raises
:class:`CodexProtocolError` for a request that is no longer pending.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional

from typing_extensions import Protocol

from . import protocol
from .answers import (
    CommandApprovalWithExecpolicyAmendment,
    UserInputQuestion,
    user_input_result,
    wire_decision,
)
from .errors import CodexProtocolError
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


class TurnEvents(Protocol):
    """What a request needs of the turn it arrived in, to know whether it is still pending."""

    finished: bool
    events: List[Any]


class ServerRequestView:
    """A request from the server, waiting for one answer.

    ``method``, ``params``, ``thread_id``, ``turn_id``, ``item_id`` describe
    it (``request_id`` is ``id``, as in the async SDK); :meth:`respond` /
    :meth:`answer_error` answer it (once; thread-safe); :attr:`pending` says
    whether an answer is still awaited.
    """

    handler_kind: Optional[str] = None

    def __init__(self, responder: Responder, message: ServerRequest) -> None:
        self._responder = responder
        self._message = message
        self._lock = threading.Lock()
        self.answered = False
        self._resolved = False  # serverRequest/resolved came: someone else answered, or it was withdrawn
        self._turn: Optional[Callable[[], Optional[TurnEvents]]] = None  # (weak) the turn it arrived in
        self._turn_mark = 0  # that turn's event count when it arrived
        self.method = message.method
        self.params: Dict[str, Any] = message.params
        self.id = message.id
        self.thread_id: Optional[str] = message.params.get("threadId")
        self.turn_id: Optional[str] = message.params.get("turnId")
        self.item_id: Optional[str] = message.params.get("itemId")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} id={self.id} {self.describe()!r}>"

    @property
    def request_id(self) -> RequestId:
        """The server's id of this request (the async SDK's name for :attr:`id`)."""
        return self.id

    def describe(self) -> str:
        """One line for a person: what is asked."""
        return self.method

    def attach_turn(self, turn: TurnEvents) -> None:
        """Note the running turn this request arrived in (the dispatcher does, on the reader)."""
        self._turn = weakref.ref(turn)  # a request kept for approval_requests() must not keep its turn
        self._turn_mark = len(turn.events)

    def mark_resolved(self) -> None:
        """The server said ``serverRequest/resolved`` for this request: it awaits no answer."""
        self._resolved = True

    @property
    def pending(self) -> bool:
        """``True`` while the server still waits for an answer to this request.

        ``False`` once it was answered, once the server said it was resolved
        (another client answered, or it was withdrawn), or once the turn it
        arrived in ended. Any thread; does not block.
        """
        if self.answered or self._resolved:
            return False
        if self._turn is None:
            return True
        turn = self._turn()
        if turn is None or turn.finished:
            return False
        for event in turn.events[self._turn_mark:]:
            if event.method == protocol.SERVER_REQUEST_RESOLVED and event.params.get("requestId") == self.id:
                self._resolved = True
                return False
        return True

    def _send(self, send: Callable[[], None], *, strict: bool = False) -> None:
        """Send one answer, once: the request counts as answered only once it went out.

        If sending raises (an answer JSON cannot encode, a dead connection),
        the request is still unanswered and a later answer is sent. With
        ``strict``, a request that is no longer :attr:`pending` raises
        :class:`CodexProtocolError` instead of being ignored.
        """
        with self._lock:
            if self.answered or (strict and not self.pending):
                if strict:
                    raise CodexProtocolError(
                        f"{self.method} request {self.id!r} is no longer pending (it was answered, the "
                        "server resolved it, or its turn ended)"
                    )
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

    def respond_pending(self, result: Any) -> None:
        """Send ``result`` as the answer, or raise :class:`CodexProtocolError` if it is not :attr:`pending`.

        What the client's ``respond_approval`` and ``respond_user_input`` use
        (the async SDK's rule: an answer to a request that no longer waits is
        an error). Any thread; blocks only to send.
        """
        self._send(lambda: self._responder.respond(self.id, result), strict=True)

    def result_for(self, answer: Any) -> Any:
        """The result that answers this request with ``answer`` (what a handler returned).

        Raises :class:`TypeError`/:class:`ValueError` for an answer of the wrong shape.
        """
        if answer is None:
            raise ValueError(f"no answer for {self.method}")
        return answer

    def answer_error(self, code: int, message: str) -> None:
        """Answer with a JSON-RPC error (once). Any thread."""
        self._send(lambda: self._responder.respond_error(self.id, code, message))

    def _repr_markdown_(self) -> str:
        return f"**{type(self).__name__}** `{self.method}`\n\n{self.describe()}"


class ApprovalRequest(ServerRequestView):
    """An approval request: :meth:`approve`, :meth:`approve_for_session`, :meth:`decline`, :meth:`cancel`."""

    handler_kind = "approval"

    @property
    def reason(self) -> Optional[str]:
        """Why the agent asks (its justification), if given."""
        return self.params.get("reason")

    def result_for(self, answer: Any) -> Any:
        """``{"decision": ...}`` for ``True``/``False``/``None``, a decision string (either spelling),
        an amendment or a decision dict. Raises :class:`ValueError`/:class:`TypeError` otherwise."""
        if answer is True:
            answer = "accept"
        elif answer is False or answer is None:
            answer = "decline"
        return {"decision": wire_decision(answer)}

    def decide(self, decision: Any) -> None:
        """Answer with a decision (see :meth:`result_for`); once, any thread."""
        self.respond(self.result_for(decision))

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

    @property
    def approval_id(self) -> Optional[str]:
        """The server's approval id, when it gives one."""
        return self.params.get("approvalId")

    @property
    def command_actions(self) -> Optional[List[Dict[str, Any]]]:
        """What the server parsed the command into (reads, searches, ...), when it says."""
        actions = self.params.get("commandActions")
        return [dict(a) for a in actions if isinstance(a, Mapping)] if isinstance(actions, list) else None

    def approve_with_execpolicy_amendment(self, amendment: Optional[List[str]] = None) -> None:
        """Run it and allow commands starting with ``amendment`` (default: the proposed one) from now on."""
        prefix = amendment if amendment is not None else self.proposed_execpolicy_amendment
        if not prefix:
            raise ValueError("no execpolicy amendment was proposed; pass one")
        self.decide(CommandApprovalWithExecpolicyAmendment(list(prefix)))

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

    def result_for(self, answer: Any) -> Any:
        """As :meth:`ApprovalRequest.result_for`; an execpolicy amendment raises :class:`ValueError`."""
        if isinstance(answer, CommandApprovalWithExecpolicyAmendment):
            raise ValueError("an execpolicy amendment is a decision for command approvals, not file changes")
        return super().result_for(answer)

    def describe(self) -> str:
        return "change files" + (f" — {self.reason}" if self.reason else "")


class PermissionsRequest(ApprovalRequest):
    """The agent asks for more permissions (``permissions``: file system, network)."""

    @property
    def permissions(self) -> Dict[str, Any]:
        """What is asked for."""
        return dict(self.params.get("permissions") or {})

    def result_for(self, answer: Any) -> Any:
        """All asked for the turn (accept) or the session (accept for session); nothing on decline/cancel."""
        if isinstance(answer, Mapping):
            return dict(answer)
        decision = ApprovalRequest.result_for(self, answer)["decision"]
        if decision in ("accept", "acceptForSession"):
            return {"permissions": self.permissions, "scope": "session" if decision == "acceptForSession" else "turn"}
        if decision in ("decline", "cancel"):
            return {"permissions": {}, "scope": "turn"}
        raise ValueError(f"unknown decision {answer!r}")

    def grant(self, permissions: Mapping[str, Any], scope: str = "turn") -> None:
        """Grant a subset of what was asked, for the ``turn`` or the ``session``."""
        self.respond({"permissions": dict(permissions), "scope": scope})

    def describe(self) -> str:
        return f"grant permissions {self.permissions}" + (f" — {self.reason}" if self.reason else "")


class LegacyApprovalRequest(ApprovalRequest):
    """``execCommandApproval`` / ``applyPatchApproval`` of the older protocol."""

    _LEGACY = {"accept": "approved", "acceptForSession": "approved_for_session", "decline": "denied", "cancel": "abort"}

    def result_for(self, answer: Any) -> Any:
        """The older protocol's decision words."""
        decision = super().result_for(answer)["decision"]
        return {"decision": self._LEGACY.get(decision, decision) if isinstance(decision, str) else decision}


class UserInputRequest(ServerRequestView):
    """The agent asks the user ``questions`` (:class:`UserInputQuestion`: ``id``, ``question``, ``options``...)."""

    handler_kind = "user_input"

    @property
    def questions(self) -> List[UserInputQuestion]:
        """The questions: the server's dicts, with attributes (``q.id`` or ``q["id"]``)."""
        return [UserInputQuestion(q) for q in self.params.get("questions") or [] if isinstance(q, Mapping)]

    def result_for(self, answer: Any) -> Any:
        """The result for a :class:`UserInputResponse` or ``{question_id: answer or [answers]}``."""
        if answer is None:
            raise ValueError("no answer")
        return user_input_result(answer)

    def answer(self, answers: Any) -> None:
        """Answer with a :class:`UserInputResponse` or ``{question_id: answer or [answers]}``; once, any thread."""
        self.respond(self.result_for(answers))

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

    def result_for(self, answer: Any) -> Any:
        """Accept, with ``answer`` as the content."""
        return {"action": "accept", "content": answer, "_meta": None}

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
    if outcome is None and not isinstance(view, ApprovalRequest):
        if view.handler_kind == "user_input":
            view.answer_error(protocol.INTERNAL_ERROR, "handler gave no answer")
        else:
            default_answer(view)
        return
    try:
        view.respond(view.result_for(outcome))
    except (TypeError, ValueError) as exc:
        log.error("%s handler returned an unusable answer %r: %s", view.method, outcome, exc)
        _refuse(view, f"handler returned an unusable answer: {exc}")


def _refuse(view: ServerRequestView, reason: str) -> None:
    """Fail closed after a broken handler: decline an approval, answer anything else with an error."""
    if isinstance(view, ApprovalRequest):
        view.decline()
    else:
        view.answer_error(protocol.INTERNAL_ERROR, reason)
