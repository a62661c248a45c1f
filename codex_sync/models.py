"""The async SDK's ``models`` module, for code ported from it: every value and setting type by that name.

codex_sync keeps them where they belong (``values``, ``config``,
``approvals``, ``answers``); this module only gathers them. Import from
``codex_sync`` in new code.
"""

from __future__ import annotations

from .answers import (
    CommandApprovalDecision,
    CommandApprovalWithExecpolicyAmendment,
    FileChangeApprovalDecision,
    UserInputAnswer,
    UserInputOption,
    UserInputQuestion,
    UserInputResponse,
)
from .approvals import ApprovalRequest, CommandApprovalRequest, FileChangeApprovalRequest, UserInputRequest
from .config import (
    UNSET,
    ApprovalPolicy,
    CollaborationMode,
    CollaborationSettings,
    ModeKind,
    ReasoningEffort,
    ReasoningSummary,
    SandboxMode,
    SandboxPolicy,
    ThreadConfig,
    TurnOverrides,
)
from .config import _Unset as UnsetType
from .protocol import RequestId
from .values import CancelResult, ChatContinuation, ChatResult, ConversationStep, InitializeResult

__all__ = [
    "ApprovalPolicy", "ApprovalRequest", "CancelResult", "ChatContinuation", "ChatResult", "CollaborationMode",
    "CollaborationSettings", "CommandApprovalDecision", "CommandApprovalRequest",
    "CommandApprovalWithExecpolicyAmendment", "ConversationStep", "FileChangeApprovalDecision",
    "FileChangeApprovalRequest", "InitializeResult", "ModeKind", "ReasoningEffort", "ReasoningSummary",
    "RequestId", "SandboxMode", "SandboxPolicy", "ThreadConfig", "TurnOverrides", "UNSET", "UnsetType",
    "UserInputAnswer", "UserInputOption", "UserInputQuestion", "UserInputRequest", "UserInputResponse",
]
