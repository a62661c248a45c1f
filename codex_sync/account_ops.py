"""Logging in and out: the account methods of :class:`CodexClient` (a stateless mixin).

The server keeps the credentials (in its ``CODEX_HOME``, ``auth.json`` or the
keyring); these methods ask it to store, show or forget them. Each blocks for
one request (``request_timeout``) and may be called from any thread. They go
through the calls the mixin declares: :meth:`AccountOpsMixin._call` for the
requests and :meth:`AccountOpsMixin.on_notification` to hear when a browser
or device-code login completes.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional

from .config import check_timeout
from .errors import CodexError, CodexTimeoutError
from .protocol import Notification

LOGIN_START = "account/login/start"
LOGIN_CANCEL = "account/login/cancel"
LOGIN_COMPLETED = "account/login/completed"
ACCOUNT_READ = "account/read"
LOGOUT = "account/logout"


class CodexLoginError(CodexError):
    """A browser or device-code login ended without success (``error`` says why, when the server does)."""


class PendingLogin:
    """A login that finishes in a browser: show ``auth_url`` (or ``verification_url`` and ``user_code``).

    :meth:`wait` blocks until the server says the login completed;
    :meth:`cancel` gives up. Any thread.
    """

    def __init__(self, result: Dict[str, Any], cancel: Callable[[str], None]) -> None:
        self.login_id: str = str(result.get("loginId") or "")
        self.auth_url: Optional[str] = result.get("authUrl")
        self.verification_url: Optional[str] = result.get("verificationUrl")
        self.user_code: Optional[str] = result.get("userCode")
        self._cancel = cancel
        self._done = threading.Event()
        self._outcome: Optional[Dict[str, Any]] = None
        self._stop_listening: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        where = self.auth_url or f"{self.verification_url} code {self.user_code}"
        return f"<PendingLogin {self.login_id} {where}>"

    def _completed(self, message: Notification) -> None:
        if message.params.get("loginId") in (None, self.login_id):
            self._outcome = dict(message.params)
            self._done.set()
            self._stop_listening()

    def wait(self, timeout: Optional[float] = None) -> None:
        """Block until the login completes (``timeout`` seconds; ``None``: no limit). Ctrl-C works.

        Raises :class:`CodexLoginError` if it failed, :class:`CodexTimeoutError` at the deadline.
        """
        wait = check_timeout(timeout, "timeout")
        if wait is None:
            while not self._done.wait(0.25):
                pass
        elif not self._done.wait(wait):
            raise CodexTimeoutError(f"login {self.login_id} did not complete within {wait:g}s")
        outcome = self._outcome or {}
        if not outcome.get("success"):
            raise CodexLoginError(f"login failed: {outcome.get('error') or 'the server gave no reason'}")

    def cancel(self) -> None:
        """Give up this login (``account/login/cancel``); a :meth:`wait` then raises. Blocks for one request."""
        self._cancel(self.login_id)


class AccountOpsMixin:
    """``login_api_key``, ``login_chatgpt``, ``login_device_code``, ``account``, ``logout``."""

    def _call(
        self, method: str, params: Dict[str, Any], timeout: Optional[float] = None, *, extra_seconds: float = 0.0
    ) -> Any:
        """Initialize if needed, then send one request; ``timeout=None``: the client's."""
        raise NotImplementedError

    def on_notification(
        self, method: Optional[str], callback: Callable[[Notification], None]
    ) -> Callable[[], None]:
        """Listen to notifications outside turns (see :meth:`CodexClient.on_notification`)."""
        raise NotImplementedError

    def login_api_key(self, api_key: str) -> None:
        """Log the server in with an OpenAI API key (``account/login/start``, type ``apiKey``).

        The server stores it and sends it with every model request from then
        on. Raises :class:`CodexProtocolError` if it refuses.
        """
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("api_key must be a non-empty string (an OpenAI API key, sk-...)")
        self._call(LOGIN_START, {"type": "apiKey", "apiKey": api_key})

    def login_chatgpt(self) -> PendingLogin:
        """Start a ChatGPT login in a browser: open ``login.auth_url``, then ``login.wait()``.

        The server listens for the browser's redirect on its own machine, so
        the browser must run where the server runs.
        """
        return self._pending_login({"type": "chatgpt"})

    def login_device_code(self) -> PendingLogin:
        """Start a ChatGPT login by device code: show ``verification_url`` and ``user_code``, then ``wait()``.

        For a server on another machine or without a browser.
        """
        return self._pending_login({"type": "chatgptDeviceCode"})

    def _pending_login(self, params: Dict[str, Any]) -> PendingLogin:
        holder: Dict[str, PendingLogin] = {}
        early: List[Notification] = []

        def completed(message: Notification) -> None:
            login = holder.get("login")
            if login is None:
                early.append(message)  # (it cannot finish before we know its id, but be safe)
            else:
                login._completed(message)

        stop = self.on_notification(LOGIN_COMPLETED, completed)  # before the request: nothing is missed
        try:
            result = self._call(LOGIN_START, params)
        except BaseException:
            stop()
            raise
        login = PendingLogin(result or {}, lambda login_id: self._call(LOGIN_CANCEL, {"loginId": login_id}))
        login._stop_listening = stop
        holder["login"] = login
        for message in early:
            login._completed(message)
        return login

    def account(self, refresh_token: bool = False) -> Dict[str, Any]:
        """``account/read``: ``{"account": {...} or None, "requiresOpenaiAuth": bool}``."""
        result: Dict[str, Any] = self._call(ACCOUNT_READ, {"refreshToken": bool(refresh_token)})
        return result

    def logout(self) -> None:
        """``account/logout``: the server forgets its stored credentials."""
        self._call(LOGOUT, {})
