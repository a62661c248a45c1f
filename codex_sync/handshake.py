"""The ``initialize`` handshake's params: the defaults and how a caller's params merge into them (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, Optional

from ._version import __version__

__all__ = ["DEFAULT_INITIALIZE_PARAMS", "merge_initialize_params"]

DEFAULT_INITIALIZE_PARAMS: Dict[str, Any] = {
    "protocolVersion": "1",
    "clientInfo": {"name": "codex-sync", "version": __version__},
    "capabilities": {
        "optOutNotificationMethods": [
            "codex/event/agent_message_content_delta",
            "codex/event/reasoning_content_delta",
            "codex/event/item_started",
            "codex/event/item_completed",
            "codex/event/task_started",
            "codex/event/task_complete",
        ]
    },
}


def merge_initialize_params(params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The ``initialize`` params: defaults, then the caller's keys (the seed's rules).

    Top-level keys are shallow-merged. If the caller's ``capabilities`` is a
    dict without ``optOutNotificationMethods``, the default list is added; a
    caller's list is kept; a ``capabilities`` that is ``None`` or not a dict
    is sent as given.
    """
    merged: Dict[str, Any] = {
        key: (dict(value) if isinstance(value, dict) else value)
        for key, value in DEFAULT_INITIALIZE_PARAMS.items()
    }
    if params is None:
        return merged
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict or None, not {type(params).__name__}")
    merged.update(params)
    caps = merged.get("capabilities")
    if isinstance(caps, dict) and "optOutNotificationMethods" not in caps:
        caps = dict(caps)
        caps["optOutNotificationMethods"] = list(
            DEFAULT_INITIALIZE_PARAMS["capabilities"]["optOutNotificationMethods"]
        )
        merged["capabilities"] = caps
    return merged
