"""The approval and user-input methods of :class:`CodexClient` (a stateless mixin): the async SDK's API.

Handlers are set with :meth:`ApprovalOpsMixin.set_approval_handler` /
:meth:`ApprovalOpsMixin.set_user_input_handler`; every approval and question
the server sends can be taken from :meth:`ApprovalOpsMixin.approval_requests`
/ :meth:`ApprovalOpsMixin.user_input_requests` and answered with the
``respond_*``/``approve_*`` methods, which raise :class:`CodexProtocolError`
for a request that is no longer pending. With ``approval_mode="manual"`` an
approval no handler takes waits for such an answer; a question no handler
takes waits ``user_input_response_timeout`` seconds.

Every method may be called from any thread; the answers block only to send.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from .answers import CommandApprovalWithExecpolicyAmendment, UserInputAnswer, UserInputResponse
from .approvals import (
    ApprovalRequest,
    FileChangeApprovalRequest,
    ServerRequestView,
    UserInputRequest,
    check_handler,
)
from .server_requests import ServerRequestDispatcher


class ApprovalOpsMixin:
    """Approvals and questions: handlers, the request iterators, answers by hand."""

    _requests: ServerRequestDispatcher

    # -- handlers -----------------------------------------------------------------
    def set_approval_handler(self, handler: Any) -> None:
        """Set (or clear, with ``None``) the client's approval handler.

        ``handler(request)`` returns a decision (``True``/``False``,
        ``"accept"``, ``"accept_for_session"``/``"acceptForSession"``,
        ``"decline"``, ``"cancel"``, a :class:`CommandApprovalWithExecpolicyAmendment`
        or a decision dict) or answers the request itself; it runs on a
        server-request worker thread. ``codex_sync.MANUAL`` yields approvals
        as steps of ``chat()``. Handlers given to a thread or a turn win over
        it. Without one, approvals are declined (``approval_mode="auto"``) or
        wait for :meth:`respond_approval` (``"manual"``). Raises
        :class:`TypeError` for a value that is not callable. Any thread; does
        not block.
        """
        check_handler(handler, "handler")
        self._requests.approval_handler = handler

    def set_user_input_handler(self, handler: Any) -> None:
        """Set (or clear, with ``None``) the client's handler for the agent's questions.

        ``handler(request)`` returns a :class:`UserInputResponse` or
        ``{question_id: answer or [answers]}``; it runs on a server-request
        worker thread. Without one, a question waits
        ``user_input_response_timeout`` seconds for :meth:`respond_user_input`,
        then gets an error reply. Raises :class:`TypeError` for a value that is
        not callable. Any thread; does not block.
        """
        check_handler(handler, "handler")
        self._requests.user_input_handler = handler

    # -- the request iterators ----------------------------------------------------
    def approval_requests(self) -> Iterator[ApprovalRequest]:
        """Iterate over the approval requests the server sends, from the client's start on.

        Every approval is listed, whoever answers it (a handler, a ``chat()``
        loop, the default); those still :attr:`~ServerRequestView.pending`
        can be answered with :meth:`respond_approval`, :meth:`approve_approval`,
        :meth:`decline_approval`, :meth:`cancel_approval`. Each request goes
        to one iterator (several iterators share the requests, as workers
        share a queue). ``next()`` blocks until a request arrives; the
        iteration ends once the client is closed. Any thread (also several at
        once); Ctrl-C interrupts a blocked ``next()``.
        """
        return self._requests.approvals.iterate()

    def user_input_requests(self) -> Iterator[UserInputRequest]:
        """Iterate over the questions (``item/tool/requestUserInput``) the server sends.

        As :meth:`approval_requests`: every question is listed, whoever
        answers it; answer a pending one with :meth:`respond_user_input`,
        :meth:`respond_user_input_choice` or :meth:`respond_user_input_other`.
        ``next()`` blocks; the iteration ends once the client is closed. Any
        thread.
        """
        return self._requests.user_inputs.iterate()

    # -- answering approvals --------------------------------------------------------
    def respond_approval(self, request: ServerRequestView, decision: Any) -> None:
        """Answer a pending request with ``decision``: what a handler would return.

        For approvals: ``True``/``False``, ``"accept"``, ``"accept_for_session"``
        (or ``"acceptForSession"``), ``"decline"``, ``"cancel"``, a
        :class:`CommandApprovalWithExecpolicyAmendment` or a decision dict;
        for a question, its answers. Raises :class:`CodexProtocolError` if the
        request is no longer pending (answered, resolved by the server, or its
        turn ended), :class:`ValueError`/:class:`TypeError` for a decision it
        cannot take, :class:`CodexTransportError` if the connection is gone.
        Any thread; blocks only to send.
        """
        if not isinstance(request, ServerRequestView):
            raise TypeError("request must come from approval_requests(), a handler or an approval step")
        request.respond_pending(request.result_for(decision))

    def approve_approval(
        self,
        request: ApprovalRequest,
        *,
        for_session: bool = False,
        execpolicy_amendment: Optional[Sequence[str]] = None,
    ) -> None:
        """Approve a pending approval: once, for the session (``for_session``), or with an execpolicy amendment.

        ``execpolicy_amendment`` (command approvals only: :class:`ValueError`
        for a file change) also allows every command starting with that
        prefix from now on. Raises as :meth:`respond_approval`. Any thread.
        """
        if execpolicy_amendment is not None:
            if isinstance(request, FileChangeApprovalRequest):
                raise ValueError("execpolicy_amendment is for command approvals, not file changes")
            decision: Any = CommandApprovalWithExecpolicyAmendment(list(execpolicy_amendment))
        else:
            decision = "accept_for_session" if for_session else "accept"
        self.respond_approval(request, decision)

    def decline_approval(self, request: ApprovalRequest) -> None:
        """Decline a pending approval; the turn goes on. Raises as :meth:`respond_approval`. Any thread."""
        self.respond_approval(request, "decline")

    def cancel_approval(self, request: ApprovalRequest) -> None:
        """Decline a pending approval and interrupt its turn. Raises as :meth:`respond_approval`. Any thread."""
        self.respond_approval(request, "cancel")

    # -- answering questions ----------------------------------------------------------
    def respond_user_input(self, request: UserInputRequest, response: Any) -> None:
        """Answer a pending question with a :class:`UserInputResponse` (or ``{question_id: answers}``).

        Raises :class:`CodexProtocolError` if it is no longer pending (answered,
        resolved, timed out, its turn ended), :class:`TypeError` for another
        kind of request or answer, :class:`CodexTransportError` if the
        connection is gone. Any thread; blocks only to send.
        """
        if not isinstance(request, UserInputRequest):
            raise TypeError("request must be a UserInputRequest (from user_input_requests() or a handler)")
        request.respond_pending(request.result_for(response))

    def respond_user_input_choice(
        self, request: UserInputRequest, *, question_id: str, selections: Sequence[str]
    ) -> None:
        """Answer one question with the labels of the options picked. Raises as :meth:`respond_user_input`."""
        if isinstance(selections, str):
            raise TypeError("selections must be a list of option labels, not a string")
        self.respond_user_input(request, UserInputResponse({question_id: UserInputAnswer(list(selections))}))

    def respond_user_input_other(self, request: UserInputRequest, *, question_id: str, freeform: str) -> None:
        """Answer one question with free text. Raises as :meth:`respond_user_input`."""
        if not isinstance(freeform, str):
            raise TypeError("freeform must be a string")
        self.respond_user_input(request, UserInputResponse({question_id: UserInputAnswer([freeform])}))
