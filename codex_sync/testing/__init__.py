"""Offline test rig for codex_sync: a scripted fake model and a real app-server.

- :class:`ScriptedModel` fakes the OpenAI Responses API on 127.0.0.1 and
  answers each request from a script of replies (:func:`text`,
  :func:`exec_command`, :func:`apply_patch`, :func:`failed`, ...).
- :class:`AppServer` runs the real ``codex app-server`` (from
  ``openai-codex-cli-bin``, or ``$CODEX_SYNC_TEST_CODEX``) against it with a
  throw-away ``CODEX_HOME``, over stdio or websocket.
- ``pytest_plugins = ["codex_sync.testing.pytest_plugin"]`` gives fixtures
  (``scripted_model``, ``app_server``, ``codex_client``, ...).

Example::

    with ScriptedModel() as model, AppServer(model) as server:
        model.on("list files", exec_command("ls"), text("two files"))
        with server.client() as client:
            ...
"""

from __future__ import annotations

from .launcher import CODEX_ENV_VAR, AppServer, codex_binary, codex_path_dir, write_codex_home
from .model import Fallback, ModelRequest, ScriptedModel
from .replies import (
    Reasoning,
    Reply,
    ReplyStream,
    apply_patch,
    echo,
    events,
    exec_command,
    failed,
    function_call,
    hang,
    http_error,
    reasoning,
    request_user_input,
    text,
    truncated,
)

__all__ = [
    "AppServer",
    "CODEX_ENV_VAR",
    "Fallback",
    "ModelRequest",
    "Reasoning",
    "Reply",
    "ReplyStream",
    "ScriptedModel",
    "apply_patch",
    "codex_binary",
    "codex_path_dir",
    "echo",
    "events",
    "exec_command",
    "failed",
    "function_call",
    "hang",
    "http_error",
    "reasoning",
    "request_user_input",
    "text",
    "truncated",
    "write_codex_home",
]
