"""Server-wide methods of :class:`CodexClient`: models, commands, config, notifications.

Each blocks for one request (bounded by ``request_timeout`` unless said
otherwise) and may be called from any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .approvals import ServerRequestView
from .protocol import Notification

if TYPE_CHECKING:  # pragma: no cover
    from .server_requests import ServerRequestDispatcher


class ServerOpsMixin:
    """``model/list``, ``command/exec``, ``config/*`` and notification listeners."""

    if TYPE_CHECKING:  # what the mixin uses of CodexClient
        request_timeout: Optional[float]
        _requests: ServerRequestDispatcher

        def _call(self, method: str, params: Dict[str, Any], timeout: Optional[float] = None) -> Any: ...

    def list_models(
        self, *, limit: Optional[int] = None, cursor: Optional[str] = None,
        include_hidden: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """``model/list``: ``{"data": [...models], "nextCursor": ...}``."""
        params: Dict[str, Any] = {}
        for key, value in (("limit", limit), ("cursor", cursor), ("includeHidden", include_hidden)):
            if value is not None:
                params[key] = value
        result: Dict[str, Any] = self._call("model/list", params)
        return result

    def exec_command(
        self,
        command: Union[str, Sequence[str]],
        *,
        cwd: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        sandbox_policy: Optional[Mapping[str, Any]] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> Dict[str, Any]:
        """Run one command on the server's machine (``command/exec``), outside any thread.

        ``command`` is an argv list (a string runs through ``/bin/sh -c``).
        Returns ``{"exitCode", "stdout", "stderr"}``. Blocks until the command
        ends (our deadline is ``timeout_ms`` plus the request timeout).
        """
        if isinstance(command, str):
            argv: List[str] = ["/bin/sh", "-c", command]
        elif isinstance(command, (list, tuple)) and command and all(isinstance(a, str) for a in command):
            argv = list(command)
        else:
            raise TypeError("command must be a string or a non-empty list of strings")
        params: Dict[str, Any] = {"command": argv}
        if cwd is not None:
            params["cwd"] = cwd
        if timeout_ms is not None:
            params["timeoutMs"] = int(timeout_ms)
        if sandbox_policy is not None:
            params["sandboxPolicy"] = dict(sandbox_policy)
        if env is not None:
            params["env"] = dict(env)
        wait = None
        if self.request_timeout is not None and timeout_ms is not None:
            wait = self.request_timeout + timeout_ms / 1000.0
        result: Dict[str, Any] = self._call("command/exec", params, wait)
        return result

    def read_config(
        self, *, include_layers: bool = False, cwd: Optional[str] = None
    ) -> Dict[str, Any]:
        """``config/read``: the effective config (and its layers when ``include_layers``)."""
        params: Dict[str, Any] = {"includeLayers": bool(include_layers)}
        if cwd is not None:
            params["cwd"] = cwd
        result: Dict[str, Any] = self._call("config/read", params)
        return result

    def read_config_requirements(self) -> Dict[str, Any]:
        """``configRequirements/read``: constraints an administrator placed on the config."""
        result: Dict[str, Any] = self._call("configRequirements/read", {})
        return result

    def write_config_value(
        self,
        key_path: str,
        value: Any,
        *,
        merge_strategy: str = "replace",
        file_path: Optional[str] = None,
        expected_version: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``config/value/write``: set one key (dotted path) in the user's ``config.toml``."""
        if not isinstance(key_path, str) or not key_path:
            raise TypeError("key_path must be a non-empty string such as 'model' or 'features.x'")
        params: Dict[str, Any] = {"keyPath": key_path, "value": value, "mergeStrategy": merge_strategy}
        if file_path is not None:
            params["filePath"] = file_path
        if expected_version is not None:
            params["expectedVersion"] = expected_version
        result: Dict[str, Any] = self._call("config/value/write", params)
        return result

    def batch_write_config(
        self,
        edits: Sequence[Mapping[str, Any]],
        *,
        file_path: Optional[str] = None,
        expected_version: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``config/batchWrite``: several edits (``{"keyPath", "value", "mergeStrategy"}``) at once."""
        if not isinstance(edits, (list, tuple)) or not all(isinstance(e, Mapping) for e in edits):
            raise TypeError("edits must be a list of dicts with keyPath, value and mergeStrategy")
        params: Dict[str, Any] = {"edits": [dict(e) for e in edits]}
        if file_path is not None:
            params["filePath"] = file_path
        if expected_version is not None:
            params["expectedVersion"] = expected_version
        result: Dict[str, Any] = self._call("config/batchWrite", params)
        return result

    def on_notification(
        self, method: Optional[str], callback: Callable[[Notification], None]
    ) -> Callable[[], None]:
        """Call ``callback(notification)`` for notifications outside any turn of ours.

        ``method=None`` means every method. Callbacks run in order on one
        worker thread, never the reader; one that raises is logged. If they
        fall far behind, the oldest are dropped with a warning (nothing piles
        up without bound). Returns a function that unsubscribes.
        Notifications of running turns go to their ``chat()`` readers.
        """
        if method is not None and not isinstance(method, str):
            raise TypeError("method must be a string or None")
        if not callable(callback):
            raise TypeError("callback must be callable")
        return self._requests.add_listener(method, callback)

    def respond_approval(self, request: ServerRequestView, decision: Any) -> None:
        """Answer a request received as a manual ``approval`` step.

        ``decision`` is what a handler would return (``True``, ``"accept"``,
        ``{"question_id": "answer"}`` for questions, ...). Thread-safe; a
        second answer is ignored.
        """
        from .approvals import run_handler

        if not isinstance(request, ServerRequestView):
            raise TypeError("request must be the step.request of an approval step")
        run_handler(request, lambda _request: decision)
