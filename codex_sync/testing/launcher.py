"""Launch a real ``codex app-server`` against a :class:`ScriptedModel`.

:class:`AppServer` makes a throw-away ``CODEX_HOME`` (and ``HOME``) whose
``config.toml`` points codex at the fake model, and either describes how to
spawn the server over stdio (:attr:`AppServer.command`, :attr:`AppServer.env`)
or runs one websocket server process (:attr:`AppServer.url`,
:attr:`AppServer.token`; see :mod:`~codex_sync.testing.websocket_server`),
which ends with this Python process however it ends (SIGKILL included).
The binary is found by :mod:`~codex_sync.testing.binary`, the home written by
:mod:`~codex_sync.testing.codex_home`; both are re-exported here.

What the binary does with its home, as seen with ``codex-cli 0.163.0``:

- ``CODEX_HOME`` receives sqlite databases, ``sessions/`` rollouts,
  ``skills/.system``, ``installation_id`` and ``tmp/``; all of it goes with the
  temporary directory.
- Outside ``CODEX_HOME`` it reads ``$HOME/.agents`` (user skills, which would
  change the developer message) and, for its shell snapshot, runs a login
  shell that sources ``$HOME/.profile`` (which may write, e.g. ``pyenv
  rehash``). So ``HOME`` is redirected to an empty temporary directory too.
- At start-up it syncs plugins from GitHub and chatgpt.com (``git
  ls-remote``, HTTPS); ``[features] plugins = false`` stops that, leaving no
  connection but the ones to the fake model.
- It warns once on stderr, ``WARNING: proceeding, even though we could not
  create PATH aliases: Refusing to create helper binaries under temporary dir``,
  when ``CODEX_HOME`` is under the temp dir; harmless for these tests.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Set, Union

from .binary import CODEX_ENV_VAR, codex_binary, codex_path_dir
from .codex_home import write_codex_home
from .model import ScriptedModel
from .websocket_server import WebsocketServer

if TYPE_CHECKING:
    from codex_sync import CodexClient

__all__ = [
    "AppServer",
    "codex_binary",
    "codex_path_dir",
    "write_codex_home",
    "CODEX_ENV_VAR",
]

# Servers still alive, closed at interpreter exit so no process survives tests
# (a plain set: one dropped without close() must still be closed then).
_LIVE: Set[AppServer] = set()


def _close_all() -> None:
    for server in list(_LIVE):
        try:
            server.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(_close_all)


class _MockModelWarningFilter(logging.Filter):
    """Drops codex's warning that the kit's ``mock-model`` has no model metadata (true, and harmless here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Model metadata for `mock-model` not found" not in record.getMessage()


_MOCK_WARNING_FILTER = _MockModelWarningFilter()


def hide_mock_model_warning() -> None:
    """Stop logging codex's warning that the kit's ``mock-model`` has no metadata (idempotent; any thread)."""
    logging.getLogger("codex_sync").addFilter(_MOCK_WARNING_FILTER)


class AppServer:
    """A real ``codex app-server`` wired to a fake model, with a throw-away home.

    ``AppServer(model, transport="stdio")`` only prepares the home:
    :attr:`command` and :attr:`env` spawn one server per stdio client (see
    :meth:`client`). ``transport="websocket"`` also starts one server process
    on ``ws://127.0.0.1:<free port>`` with a random capability token
    (:attr:`url`, :attr:`token`), shared by all its clients.

    ``model`` is a started :class:`ScriptedModel` or a base URL.
    ``approval_policy``, ``sandbox_mode``, ``extra_config``, ``features`` and
    ``provider_config`` go to :func:`write_codex_home`. ``codex_home``: use
    (and keep) this directory instead of a temporary one. ``cwd``: working
    directory of the server processes, the websocket one and those of stdio
    clients made by :meth:`client` (default: the current one; threads run
    commands there unless ``thread/start`` names a ``cwd``). ``isolate_home``:
    point ``HOME`` at an empty temporary directory too (default; see the
    module docstring for why), so the real home is neither read nor written.
    ``start_timeout``: how long :meth:`start` waits for a websocket server.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.
    Start and close from one owning thread; the properties and :meth:`client`
    may be read from any thread once started. Servers left open are closed at
    interpreter exit; a websocket server whose Python process dies without
    closing it (signal, crash) is killed by its orphan guard
    (:mod:`~codex_sync.testing.orphan_guard`).
    """

    def __init__(
        self,
        model: Union[ScriptedModel, str],
        *,
        transport: str = "stdio",
        approval_policy: str = "never",
        sandbox_mode: str = "danger-full-access",
        extra_config: str = "",
        features: Optional[Mapping[str, bool]] = None,
        provider_config: Optional[Mapping[str, Union[str, bool, int, float]]] = None,
        codex_home: Optional[Union[str, os.PathLike[str]]] = None,
        cwd: Optional[Union[str, os.PathLike[str]]] = None,
        isolate_home: bool = True,
        start_timeout: float = 30.0,
    ) -> None:
        """Record the settings; nothing is written or started until :meth:`start`.

        Raises ``ValueError`` for an unknown ``transport``.
        """
        if transport not in ("stdio", "websocket"):
            raise ValueError(f"transport must be 'stdio' or 'websocket', not {transport!r}")
        self._model = model
        self._transport = transport
        self._approval_policy = approval_policy
        self._sandbox_mode = sandbox_mode
        self._extra_config = extra_config
        self._features = dict(features or {})
        self._provider_config = dict(provider_config or {})
        self._given_home = None if codex_home is None else Path(codex_home)
        self._cwd = None if cwd is None else str(cwd)
        self._isolate_home = isolate_home
        self._start_timeout = start_timeout
        self._lock = threading.Lock()
        self._root: Optional[Path] = None
        self._codex_home: Optional[Path] = None
        self._env: Optional[Dict[str, str]] = None
        self._command: Optional[List[str]] = None
        self._server: Optional[WebsocketServer] = None
        self._token: Optional[str] = None
        self._started = False
        self._closed = False

    # ---------------------------------------------------------- lifecycle

    def start(self) -> AppServer:
        """Write the home and, for websocket, start the server; return ``self``.

        Blocks until the websocket server answers ``GET /readyz``, at most
        ``start_timeout`` seconds. Raises ``RuntimeError`` if the codex binary
        is missing, if already started or closed, or if the server exits or is
        not ready in time (the message carries its stderr tail); ``ValueError``
        for a config that :func:`write_codex_home` refuses. The process is
        killed and the home removed before raising.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("AppServer is closed; create a new one")
            if self._started:
                raise RuntimeError("AppServer is already started")
            self._started = True
        binary = codex_binary()
        hide_mock_model_warning()
        url = self._model.url if isinstance(self._model, ScriptedModel) else self._model
        self._root = Path(tempfile.mkdtemp(prefix="codex-sync-test-"))
        _LIVE.add(self)
        try:
            home = self._given_home or (self._root / "codex_home")
            write_codex_home(
                home,
                url,
                approval_policy=self._approval_policy,
                sandbox_mode=self._sandbox_mode,
                extra_config=self._extra_config,
                features=self._features,
                provider_config=self._provider_config,
            )
            self._codex_home = home.resolve()
            path = os.environ.get("PATH", os.defpath)
            extra_dir = codex_path_dir()
            if extra_dir:
                path = extra_dir + os.pathsep + path
            self._env = {"CODEX_HOME": str(self._codex_home), "PATH": path}
            if self._isolate_home:
                user_home = self._root / "home"
                user_home.mkdir()
                self._env["HOME"] = str(user_home.resolve())
            self._command = [binary, "app-server"]
            if self._transport == "websocket":
                self._start_websocket()
        except BaseException:
            self.close()
            raise
        return self

    def _start_websocket(self) -> None:
        assert self._root is not None and self._env is not None and self._command is not None
        token = secrets.token_hex(32)  # hex: never starts with "-", safe on command lines
        token_file = self._root / "ws-token"
        token_file.write_text(token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        self._token = token
        env = dict(os.environ)
        env.update(self._env)
        self._server = WebsocketServer(self._command, env=env, cwd=self._cwd, token_file=token_file)
        self._server.start(self._start_timeout)

    def close(self) -> None:
        """Stop the websocket server (terminate, then kill) and remove the temp dirs.

        Idempotent; blocks at most about 12 seconds. A ``codex_home`` given
        to the constructor is kept. Stdio clients made by :meth:`client` own
        their processes and must be closed by their owners first.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._server is not None:
            self._server.stop()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> AppServer:
        """Start the server (see :meth:`start`) and return it."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Close the server (see :meth:`close`)."""
        self.close()

    # --------------------------------------------------------- properties

    def _need(self, value: Optional[Any], what: str) -> Any:
        if value is None:
            raise RuntimeError(f"AppServer.{what} is not available: start() it first")
        return value

    @property
    def transport(self) -> str:
        """``"stdio"`` or ``"websocket"``."""
        return self._transport

    @property
    def codex_home(self) -> Path:
        """The ``CODEX_HOME`` directory (absolute). Raises ``RuntimeError`` before start."""
        home: Path = self._need(self._codex_home, "codex_home")
        return home

    @property
    def env(self) -> Dict[str, str]:
        """Variables to add to ``os.environ`` for the server: ``CODEX_HOME``, ``PATH``, ``HOME``.

        ``PATH`` is the current one with the bundled helper directory (``rg``)
        in front; ``HOME`` is an empty temporary directory (unless
        ``isolate_home=False``). Returns a copy. Raises ``RuntimeError`` before start.
        """
        env: Dict[str, str] = self._need(self._env, "env")
        return dict(env)

    @property
    def command(self) -> List[str]:
        """The stdio server command, ``[<codex>, "app-server"]`` (a copy).

        Raises ``RuntimeError`` before start.
        """
        command: List[str] = self._need(self._command, "command")
        return list(command)

    @property
    def url(self) -> str:
        """The websocket URL, ``"ws://127.0.0.1:PORT"``.

        Raises ``RuntimeError`` for stdio or before start.
        """
        url: str = self._need(None if self._server is None else self._server.url, "url (websocket only)")
        return url

    @property
    def token(self) -> str:
        """The websocket capability token (send ``Authorization: Bearer <token>``).

        Raises ``RuntimeError`` for stdio or before start.
        """
        token: str = self._need(self._token, "token (websocket only)")
        return token

    @property
    def pid(self) -> Optional[int]:
        """The websocket server's process id (``None`` for stdio or before start)."""
        return None if self._server is None else self._server.pid

    @property
    def stderr_tail(self) -> str:
        """The last 200 lines of the websocket server's stderr, ANSI colours removed."""
        return "" if self._server is None else self._server.stderr_tail

    def client(self, **options: Any) -> CodexClient:
        """Return a new, unstarted ``codex_sync.CodexClient`` for this server.

        stdio: ``CodexClient.connect_stdio(command=self.command,
        env={**os.environ, **self.env}, **options)`` (the whole environment,
        so it holds whether ``env`` adds to ``os.environ`` or replaces it;
        each client spawns its own server process; ``cwd`` defaults to the
        server's ``cwd``); websocket:
        ``CodexClient.connect_websocket(url=self.url, token=self.token,
        **options)``. Start it with ``with`` or ``start()``. Raises
        ``RuntimeError`` before start; otherwise whatever the constructor
        raises. Any thread.
        """
        from codex_sync import CodexClient

        if self._transport == "stdio":
            if self._cwd is not None:
                options.setdefault("cwd", self._cwd)
            return CodexClient.connect_stdio(command=self.command, env={**os.environ, **self.env}, **options)
        return CodexClient.connect_websocket(url=self.url, token=self.token, **options)

    def __repr__(self) -> str:
        """A short description (transport, home, url)."""
        return f"AppServer(transport={self._transport!r}, codex_home={None if self._codex_home is None else str(self._codex_home)!r}, url={None if self._server is None else self._server.url!r})"
