"""Logging in through the client: the key reaches the model; browser logins wait and cancel."""

from __future__ import annotations

import threading

import pytest

from codex_sync import CodexClient, CodexTimeoutError
from codex_sync.account_ops import CodexLoginError
from codex_sync.testing import AppServer, ScriptedModel

pytestmark = pytest.mark.real_server


@pytest.mark.codex_app_server(provider_config={"requires_openai_auth": True})
def test_an_api_key_set_through_the_client_reaches_the_model(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    assert codex_client.account()["account"] is None
    codex_client.login_api_key("sk-test-from-codex-sync")
    assert codex_client.account()["account"] == {"type": "apiKey"}
    assert codex_client.chat_once("hi").final_text == "echo: hi"
    assert scripted_model.requests[-1].headers.get("authorization") == "Bearer sk-test-from-codex-sync"
    codex_client.logout()
    assert codex_client.account()["account"] is None


def test_login_api_key_refuses_an_empty_key(codex_client: CodexClient) -> None:
    with pytest.raises(ValueError, match="api_key"):
        codex_client.login_api_key("  ")


def test_a_browser_login_gives_its_url_waits_with_a_deadline_and_says_why_it_ended(
    codex_client: CodexClient,
) -> None:
    login = codex_client.login_chatgpt()
    assert login.auth_url is not None and login.auth_url.startswith("https://auth.openai.com/")
    assert login.login_id
    with pytest.raises(CodexTimeoutError):
        login.wait(timeout=0.3)  # nobody opens the browser here
    timer = threading.Timer(0.3, login.cancel)
    timer.start()
    with pytest.raises(CodexLoginError, match="not completed|cancelled"):
        login.wait(timeout=10)  # the server's own reason comes through


@pytest.mark.codex_app_server(provider_config={"requires_openai_auth": True})
def test_the_cli_logs_in_with_a_key_from_the_environment_and_shows_and_forgets_it(
    stdio_app_server: AppServer, scripted_model: ScriptedModel,
) -> None:
    import os
    import shlex
    import subprocess
    import sys

    def cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **stdio_app_server.env, **(env_extra or {})}
        command = ["--cmd", shlex.join(stdio_app_server.command)]
        return subprocess.run([sys.executable, "-m", "codex_sync", "login", *args, *command],
                              env=env, capture_output=True, text=True, timeout=60)

    assert cli("--status").stdout.strip().startswith("not logged in")
    done = cli(env_extra={"OPENAI_API_KEY": "sk-from-the-env"})
    assert done.returncode == 0 and done.stdout.strip() == "logged in with apiKey", done.stderr
    assert cli("--status").stdout.strip() == "logged in with apiKey"  # kept in the server's CODEX_HOME
    out = cli("--logout")
    assert out.returncode == 0 and out.stdout.strip() == "logged out"
    missing = cli(env_extra={"OPENAI_API_KEY": ""})
    assert missing.returncode == 2 and "--api-key" in missing.stderr
