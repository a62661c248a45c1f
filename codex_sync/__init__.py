"""codex_sync: a synchronous, thread-based client for OpenAI's ``codex app-server``.

```python
from codex_sync import CodexClient

with CodexClient.connect_stdio() as client:
    print(client.chat_once("Hello").final_text)
```
"""

from ._version import __version__
from .account_ops import CodexLoginError, PendingLogin
from .answers import (
    CommandApprovalDecision,
    CommandApprovalWithExecpolicyAmendment,
    FileChangeApprovalDecision,
    UserInputAnswer,
    UserInputOption,
    UserInputQuestion,
    UserInputResponse,
)
from .approvals import (
    MANUAL,
    ApprovalRequest,
    CommandApprovalRequest,
    ElicitationRequest,
    FileChangeApprovalRequest,
    PermissionsRequest,
    ServerRequestView,
    UserInputRequest,
)
from .chat import ChatStream
from .client import CodexClient
from .config import (
    NO_TIMEOUT,
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
from .errors import (
    CodexEmptyAnswerError,
    CodexError,
    CodexForkError,
    CodexOverloadedError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
    CodexTurnFailedError,
    CodexTurnInactiveError,
    CodexTurnInterruptedError,
    CodexUnknownContinuationError,
)
from .handlers import approve_all, ask_in_terminal, decline_all
from .process import PerProcessClient, per_process_client
from .thread import ThreadHandle
from .transport import SeedTransportAdapter
from .values import (
    CancelResult,
    ChatContinuation,
    ChatResult,
    ConversationStep,
    InitializeResult,
    TextDelta,
    TokenUsage,
)

__all__ = [
    "__version__",
    "CodexClient",
    "per_process_client",
    "PerProcessClient",
    "ChatStream",
    "ThreadHandle",
    "ThreadConfig",
    "SandboxMode",
    "SandboxPolicy",
    "TurnOverrides",
    "UNSET",
    "NO_TIMEOUT",
    "ApprovalPolicy",
    "ReasoningEffort",
    "ReasoningSummary",
    "CollaborationMode",
    "CollaborationSettings",
    "ModeKind",
    "SeedTransportAdapter",
    "MANUAL",
    "ServerRequestView",
    "ApprovalRequest",
    "CommandApprovalRequest",
    "FileChangeApprovalRequest",
    "PermissionsRequest",
    "UserInputRequest",
    "UserInputQuestion",
    "UserInputOption",
    "UserInputResponse",
    "UserInputAnswer",
    "CommandApprovalWithExecpolicyAmendment",
    "CommandApprovalDecision",
    "FileChangeApprovalDecision",
    "ElicitationRequest",
    "approve_all",
    "decline_all",
    "ask_in_terminal",
    "InitializeResult",
    "ConversationStep",
    "ChatResult",
    "ChatContinuation",
    "CancelResult",
    "TextDelta",
    "TokenUsage",
    "CodexError",
    "CodexTransportError",
    "CodexTimeoutError",
    "CodexTurnInactiveError",
    "CodexProtocolError",
    "CodexOverloadedError",
    "CodexTurnFailedError",
    "CodexTurnInterruptedError",
    "CodexEmptyAnswerError",
    "CodexUnknownContinuationError",
    "CodexForkError",
    "CodexLoginError",
    "PendingLogin",
]
