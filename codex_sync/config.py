"""Thread- and turn-scoped settings, and the ``UNSET`` sentinel.

Fields are snake_case here and camelCase on the wire. A field left at
``UNSET`` is not sent (the server keeps its default or current value); a
field set to ``None`` is sent as JSON ``null`` (reset). Fields follow the
pinned runtime's schema for ``thread/start``, ``thread/resume``,
``thread/fork`` and ``turn/start``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, FrozenSet, List, Optional, TypeVar, Union

from typing_extensions import Literal


class _Unset:
    """The type of :data:`UNSET`."""

    _instance: Optional[_Unset] = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""Leave a field out of the request (as opposed to ``None``, which sends ``null``)."""

NO_TIMEOUT: float = float("inf")
"""Wait without limit: pass it wherever a timeout is taken (``None`` there means the client's value)."""

ApprovalPolicy = Literal["untrusted", "on-failure", "on-request", "never"]
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
ReasoningSummary = Literal["auto", "concise", "detailed", "none"]
Personality = Literal["none", "friendly", "pragmatic"]
ModeKind = Literal["plan", "default"]
SandboxPolicy = Dict[str, Any]
"""A per-turn sandbox policy object, e.g. ``{"type": "workspaceWrite", "networkAccess": False}``."""


@dataclasses.dataclass
class CollaborationSettings:
    """The settings of a :class:`CollaborationMode` (experimental; needs ``experimental_api=True``). A plain value."""

    model: str
    reasoning_effort: Optional[ReasoningEffort] = None
    developer_instructions: Optional[str] = None


@dataclasses.dataclass
class CollaborationMode:
    """A turn's collaboration mode, for ``TurnOverrides(collaboration_mode=...)`` (a dict works too).

    ``mode`` is ``"plan"`` or ``"default"``. Sent as the wire object
    ``{"mode": ..., "settings": {"model", "reasoning_effort", "developer_instructions"}}``.
    A plain value; :meth:`to_wire` raises :class:`ValueError` without a model.
    """

    mode: ModeKind
    settings: CollaborationSettings

    def to_wire(self) -> Dict[str, Any]:
        """The wire object; :class:`ValueError` without a model."""
        if not isinstance(self.settings.model, str) or not self.settings.model:
            raise ValueError("collaboration_mode.settings.model must be a non-empty string")
        return {
            "mode": self.mode,
            "settings": {
                "model": self.settings.model,
                "reasoning_effort": self.settings.reasoning_effort,
                "developer_instructions": self.settings.developer_instructions,
            },
        }

_T = TypeVar("_T", bound="_Params")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _Params:
    """Shared behaviour: wire conversion and merging."""

    def to_params(self, allowed: Optional[FrozenSet[str]] = None) -> Dict[str, Any]:
        """The camelCase params: ``UNSET`` fields left out, ``None`` kept as ``null``.

        ``allowed`` restricts the keys to those a method accepts.
        """
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is UNSET:
                continue
            key = _camel(f.name)
            if allowed is None or key in allowed:
                out[key] = value.to_wire() if isinstance(value, CollaborationMode) else value
        return out

    def merged(self: _T, overrides: Optional[_T]) -> _T:
        """A copy where every field of ``overrides`` that is not ``UNSET`` wins."""
        if overrides is None:
            return self
        if not isinstance(overrides, type(self)):
            raise TypeError(f"overrides must be a {type(self).__name__}, not {type(overrides).__name__}")
        changes = {
            f.name: getattr(overrides, f.name)
            for f in dataclasses.fields(overrides)  # type: ignore[arg-type]
            if getattr(overrides, f.name) is not UNSET
        }
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def is_empty(self) -> bool:
        """``True`` when every field is ``UNSET``."""
        return all(getattr(self, f.name) is UNSET for f in dataclasses.fields(self))  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class ThreadConfig(_Params):
    """Settings of a thread, for ``thread/start``, ``thread/resume`` and ``thread/fork``.

    ``sandbox`` is the sandbox mode; ``config`` a dict of ``config.toml``
    overrides (dotted keys allowed). Fields a method does not take are left
    out of that method's request (``ephemeral`` is not sent on resume, for
    instance).
    """

    cwd: Union[str, None, Any] = UNSET
    model: Union[str, None, Any] = UNSET
    model_provider: Union[str, None, Any] = UNSET
    service_tier: Union[str, None, Any] = UNSET
    approval_policy: Union[ApprovalPolicy, Dict[str, Any], None, Any] = UNSET
    approvals_reviewer: Union[str, None, Any] = UNSET
    sandbox: Union[SandboxMode, None, Any] = UNSET
    config: Union[Dict[str, Any], None, Any] = UNSET
    base_instructions: Union[str, None, Any] = UNSET
    developer_instructions: Union[str, None, Any] = UNSET
    personality: Union[Personality, None, Any] = UNSET
    ephemeral: Union[bool, None, Any] = UNSET
    service_name: Union[str, None, Any] = UNSET
    session_start_source: Union[str, None, Any] = UNSET
    thread_source: Union[str, None, Any] = UNSET


@dataclasses.dataclass(frozen=True)
class TurnOverrides(_Params):
    """Per-turn settings for ``turn/start``. The server keeps most of them for later turns.

    ``sandbox_policy`` is an object such as ``{"type": "readOnly"}``;
    ``output_schema`` a JSON Schema for the final message;
    ``collaboration_mode`` (a :class:`CollaborationMode` or its wire dict) is
    experimental (needs ``experimental_api=True``).
    """

    cwd: Union[str, None, Any] = UNSET
    model: Union[str, None, Any] = UNSET
    effort: Union[ReasoningEffort, str, None, Any] = UNSET
    summary: Union[ReasoningSummary, None, Any] = UNSET
    approval_policy: Union[ApprovalPolicy, Dict[str, Any], None, Any] = UNSET
    approvals_reviewer: Union[str, None, Any] = UNSET
    sandbox_policy: Union[Dict[str, Any], None, Any] = UNSET
    service_tier: Union[str, None, Any] = UNSET
    service_tier_for_turn: Union[str, None, Any] = UNSET
    personality: Union[Personality, None, Any] = UNSET
    output_schema: Union[Dict[str, Any], None, Any] = UNSET
    client_user_message_id: Union[str, None, Any] = UNSET
    disabled_plugin_ids: Union[List[str], None, Any] = UNSET
    parent_turn_id: Union[str, None, Any] = UNSET
    root_turn_id: Union[str, None, Any] = UNSET
    collaboration_mode: Union[CollaborationMode, Dict[str, Any], None, Any] = UNSET


# The keys each method accepts (from the pinned runtime's schema).
THREAD_START_KEYS = frozenset(
    "approvalPolicy approvalsReviewer baseInstructions config cwd developerInstructions ephemeral "
    "model modelProvider personality sandbox serviceName serviceTier sessionStartSource "
    "threadSource".split()
)
THREAD_RESUME_KEYS = frozenset(
    "approvalPolicy approvalsReviewer baseInstructions config cwd developerInstructions model "
    "modelProvider personality sandbox serviceTier".split()
)
THREAD_FORK_KEYS = frozenset(
    "approvalPolicy approvalsReviewer baseInstructions config cwd developerInstructions ephemeral "
    "model modelProvider sandbox serviceTier threadSource".split()
)


_SANDBOX_POLICIES = {
    "read-only": {"type": "readOnly"},
    "workspace-write": {"type": "workspaceWrite"},
    "danger-full-access": {"type": "dangerFullAccess"},
}
_TURN_LEVEL = ("model", "cwd", "approval_policy", "approvals_reviewer", "service_tier", "personality")


# Settings a fork takes from its parent's history, whatever thread/fork says (codex 0.163).
FORK_KEEPS_PARENTS = ("base_instructions", "developer_instructions")


def turn_overrides_from(config: ThreadConfig) -> tuple[TurnOverrides, list[str]]:
    """Split thread settings into what ``turn/start`` can carry, and the names of the rest."""
    carried: Dict[str, Any] = {}
    rest: List[str] = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if value is UNSET:
            continue
        if f.name in _TURN_LEVEL:
            carried[f.name] = value
        elif f.name == "sandbox" and (value is None or value in _SANDBOX_POLICIES):
            carried["sandbox_policy"] = None if value is None else dict(_SANDBOX_POLICIES[value])
        else:
            rest.append(f.name)
    return TurnOverrides(**carried), rest


def check_timeout(value: Any, name: str) -> Optional[float]:
    """Check a timeout: a positive number of seconds; ``None`` or :data:`NO_TIMEOUT` for no limit.

    Returns ``None`` for no limit. ``NaN`` and numbers <= 0 raise :class:`ValueError`.
    (A call's ``timeout=None`` means the client's value: callers resolve that first.)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, codex_sync.NO_TIMEOUT or None, not {type(value).__name__}")
    if value != value or value <= 0:  # (NaN is not equal to itself)
        raise ValueError(f"{name} must be a positive number of seconds (or codex_sync.NO_TIMEOUT), not {value!r}")
    if value == float("inf"):
        return None
    return float(value)


def check_count(value: Any, name: str, minimum: int = 0) -> int:
    """Check a count argument: an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, not {value!r}")
    return int(value)


def check_id(value: Any, name: str) -> str:
    """Check an id argument (thread, turn, ...): a non-empty string."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string, not {value!r}")
    return value


def check_config(value: Any, cls: type, name: str) -> None:
    """Raise :class:`TypeError` unless ``value`` is ``None`` or a ``cls``."""
    if value is not None and not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__} or None, not {type(value).__name__}")


def resolve_timeout(value: Any, default: Optional[float], name: str = "timeout") -> Optional[float]:
    """A call's timeout: ``None`` (or ``UNSET``) means ``default`` (the client's value).

    Otherwise as :func:`check_timeout`: seconds, or :data:`NO_TIMEOUT` for no limit (``None`` returned).
    """
    if value is None or value is UNSET:
        return default
    return check_timeout(value, name)


def check_wait(value: Any, name: str) -> Optional[float]:
    """Check a wait that may be zero: seconds >= 0; ``None`` or :data:`NO_TIMEOUT` for ever (``None`` returned)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    if value != value or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0 (or None for ever), not {value!r}")
    return None if value == float("inf") else float(value)
