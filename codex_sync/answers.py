"""What you answer a server request with, and the questions a user-input request carries.

Pure values, no I/O: approval decisions (the async SDK's snake_case literals
and the wire's camelCase ones), :class:`CommandApprovalWithExecpolicyAmendment`,
:class:`UserInputResponse`/:class:`UserInputAnswer`, and
:class:`UserInputQuestion`/:class:`UserInputOption`, which are the server's
question dicts with attributes (``question.id``, ``question["id"]``: both work).
All are plain values: nothing here blocks, and any thread may use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from typing_extensions import Literal

# Decision strings a caller may give, and what goes on the wire for each.
WIRE_DECISIONS = {
    "accept": "accept",
    "accept_for_session": "acceptForSession",
    "acceptForSession": "acceptForSession",
    "decline": "decline",
    "cancel": "cancel",
}


@dataclass
class CommandApprovalWithExecpolicyAmendment:
    """Approve a command and allow every command starting with ``execpolicy_amendment`` from now on.

    A decision for command approvals only (a file-change approval refuses it
    with :class:`ValueError`). A plain value; any thread.
    """

    execpolicy_amendment: List[str]

    def to_wire(self) -> Dict[str, Any]:
        """The decision object the server takes."""
        return {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": list(self.execpolicy_amendment)}}


SimpleDecision = Literal["accept", "accept_for_session", "acceptForSession", "decline", "cancel"]
CommandApprovalDecision = Union[SimpleDecision, CommandApprovalWithExecpolicyAmendment]
"""A command approval's answer: a decision string or an execpolicy amendment."""
FileChangeApprovalDecision = SimpleDecision
"""A file-change approval's answer: a decision string."""


def wire_decision(decision: Any) -> Union[str, Dict[str, Any]]:
    """The wire form of a decision: a known string (either spelling), an amendment, or a dict as it is.

    Raises :class:`ValueError` for an unknown string, :class:`TypeError` for
    anything else.
    """
    if isinstance(decision, str):
        if decision not in WIRE_DECISIONS:
            raise ValueError(f"unknown decision {decision!r}; expected one of {sorted(WIRE_DECISIONS)}")
        return WIRE_DECISIONS[decision]
    if isinstance(decision, CommandApprovalWithExecpolicyAmendment):
        return decision.to_wire()
    if isinstance(decision, Mapping):
        return dict(decision)
    raise TypeError(f"decision must be a string, a dict or an amendment, not {type(decision).__name__}")


@dataclass
class UserInputAnswer:
    """The answer to one question: the chosen option labels, or one free-form text. A plain value; any thread."""

    answers: List[str]


@dataclass
class UserInputResponse:
    """The answer to a user-input request: ``{question_id: UserInputAnswer}``. A plain value; any thread."""

    answers: Dict[str, UserInputAnswer] = field(default_factory=dict)

    def to_wire(self) -> Dict[str, Any]:
        """The result the server takes: ``{"answers": {id: {"answers": [...]}}}``."""
        return {"answers": {qid: {"answers": list(answer.answers)} for qid, answer in self.answers.items()}}


def user_input_result(answers: Any) -> Dict[str, Any]:
    """The wire result for a :class:`UserInputResponse` or a ``{question_id: answer or [answers]}`` dict.

    Raises :class:`TypeError` for anything else.
    """
    if isinstance(answers, UserInputResponse):
        return answers.to_wire()
    if not isinstance(answers, Mapping):
        raise TypeError("answers must be a UserInputResponse or a dict of question id -> answer")
    out: Dict[str, Any] = {}
    for qid, value in answers.items():
        if isinstance(value, UserInputAnswer):
            out[qid] = {"answers": list(value.answers)}
        elif isinstance(value, str):
            out[qid] = {"answers": [value]}
        else:
            out[qid] = {"answers": list(value)}
    return {"answers": out}


class UserInputOption(Dict[str, Any]):
    """One option of a question: the server's dict, with ``label`` and ``description`` attributes (any thread)."""

    @property
    def label(self) -> str:
        """What the user picks (and what is sent back as the answer)."""
        return str(self.get("label") or "")

    @property
    def description(self) -> str:
        """What the option means."""
        return str(self.get("description") or "")


class UserInputQuestion(Dict[str, Any]):
    """One question of a user-input request: the server's dict, with attributes.

    ``id``, ``header``, ``question``, ``is_other`` (a free-form answer is
    allowed), ``is_secret``, ``options`` (a list of :class:`UserInputOption`,
    or ``None``). Dict access (``question["id"]``) works as before. A plain
    value; any thread.
    """

    @property
    def id(self) -> str:
        """The id to answer under."""
        return str(self.get("id") or "")

    @property
    def header(self) -> str:
        """A short title."""
        return str(self.get("header") or "")

    @property
    def question(self) -> str:
        """The question itself."""
        return str(self.get("question") or "")

    @property
    def is_other(self) -> bool:
        """Whether a free-form answer is accepted besides the options."""
        return bool(self.get("isOther", False))

    @property
    def is_secret(self) -> bool:
        """Whether the answer should not be echoed."""
        return bool(self.get("isSecret", False))

    @property
    def options(self) -> Optional[List[UserInputOption]]:
        """The options to pick from, if any."""
        raw = self.get("options")
        if not isinstance(raw, list):
            return None
        return [UserInputOption(o) for o in raw if isinstance(o, Mapping)]
