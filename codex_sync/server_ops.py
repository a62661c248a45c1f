"""Server-wide methods of :class:`CodexClient`: models, commands, config (a stateless mixin).

Each checks its arguments and makes one request through the one call the
mixin declares, :meth:`ServerOpsMixin._call`; it holds no state. Each blocks
for that request (bounded by ``request_timeout`` unless said otherwise) and
may be called from any thread.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import protocol


class ServerOpsMixin:
    """``model/list``, ``command/exec``, ``config/*``."""

    def _call(
        self, method: str, params: Dict[str, Any], timeout: Optional[float] = None, *, extra_seconds: float = 0.0
    ) -> Any:
        """Initialize if needed, then send one request.

        ``timeout=None``: the client's ``request_timeout``, plus ``extra_seconds``.
        """
        raise NotImplementedError

    def list_models(
        self, *, limit: Optional[int] = None, cursor: Optional[str] = None,
        include_hidden: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """``model/list``: ``{"data": [...models], "nextCursor": ...}``."""
        params: Dict[str, Any] = {}
        for key, value in (("limit", limit), ("cursor", cursor), ("includeHidden", include_hidden)):
            if value is not None:
                params[key] = value
        result: Dict[str, Any] = self._call(protocol.MODEL_LIST, params)
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
        extra = timeout_ms / 1000.0 if timeout_ms is not None else 0.0
        result: Dict[str, Any] = self._call(protocol.COMMAND_EXEC, params, extra_seconds=extra)
        return result

    def read_config(
        self, *, include_layers: bool = False, cwd: Optional[str] = None
    ) -> Dict[str, Any]:
        """``config/read``: the effective config (and its layers when ``include_layers``)."""
        params: Dict[str, Any] = {"includeLayers": bool(include_layers)}
        if cwd is not None:
            params["cwd"] = cwd
        result: Dict[str, Any] = self._call(protocol.CONFIG_READ, params)
        return result

    def read_config_requirements(self) -> Dict[str, Any]:
        """``configRequirements/read``: constraints an administrator placed on the config."""
        result: Dict[str, Any] = self._call(protocol.CONFIG_REQUIREMENTS_READ, {})
        return result

    def write_config_value(
        self,
        key_path: str,
        value: Any,
        *,
        merge_strategy: str = "upsert",
        file_path: Optional[str] = None,
        expected_version: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``config/value/write``: set one key (dotted path) in the user's ``config.toml``.

        ``merge_strategy`` is ``"upsert"`` (the default, as in the async SDK:
        a table value is merged into the one there) or ``"replace"``.
        """
        if not isinstance(key_path, str) or not key_path:
            raise TypeError("key_path must be a non-empty string such as 'model' or 'features.x'")
        params: Dict[str, Any] = {"keyPath": key_path, "value": value, "mergeStrategy": merge_strategy}
        if file_path is not None:
            params["filePath"] = file_path
        if expected_version is not None:
            params["expectedVersion"] = expected_version
        result: Dict[str, Any] = self._call(protocol.CONFIG_VALUE_WRITE, params)
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
        result: Dict[str, Any] = self._call(protocol.CONFIG_BATCH_WRITE, params)
        return result
