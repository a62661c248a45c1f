"""``codex-sync login``: log the app-server in (API key, ChatGPT in a browser, device code), show it, forget it."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict

from .cli_connect import UsageError
from .client import CodexClient

ENV_API_KEY = "OPENAI_API_KEY"


def add_login_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of ``codex-sync login`` (one way at a time)."""
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--api-key", metavar="KEY", help=f"an OpenAI API key (default: ${ENV_API_KEY})")
    how.add_argument("--chatgpt", action="store_true",
                     help="log in with ChatGPT in a browser on the server's machine (prints the URL, then waits)")
    how.add_argument("--device-code", action="store_true",
                     help="log in with ChatGPT by a code entered on another device (prints the URL and code)")
    how.add_argument("--status", action="store_true", help="print who is logged in")
    how.add_argument("--logout", action="store_true", help="forget the stored credentials")
    parser.add_argument("--wait", type=float, default=600.0, metavar="SECONDS",
                        help="how long --chatgpt/--device-code wait for the login to finish (default: 600)")


def _describe(account: Dict[str, Any]) -> str:
    who = account.get("account")
    if not who:
        return "not logged in" + (" (the server needs OpenAI credentials)" if account.get("requiresOpenaiAuth") else "")
    kind = who.get("type", "?")
    email = f" as {who['email']}" if who.get("email") else ""
    return f"logged in with {kind}{email}"


def run_login(client: CodexClient, args: argparse.Namespace) -> int:
    """Do what the flags ask; print one line per outcome. Returns the exit status."""
    if args.status:
        print(_describe(client.account()))
        return 0
    if args.logout:
        client.logout()
        print("logged out")
        return 0
    if args.chatgpt or args.device_code:
        pending = client.login_chatgpt() if args.chatgpt else client.login_device_code()
        if pending.auth_url:
            print(f"open this URL in a browser on the server's machine:\n  {pending.auth_url}", flush=True)
        else:
            print(f"on any device, open {pending.verification_url} and enter the code {pending.user_code}", flush=True)
        try:
            pending.wait(timeout=args.wait)
        except KeyboardInterrupt:
            pending.cancel()
            raise
        print(_describe(client.account()))
        return 0
    key = args.api_key or os.environ.get(ENV_API_KEY, "")
    if not key.strip():
        raise UsageError(f"give --api-key KEY (or set ${ENV_API_KEY}), or --chatgpt, --device-code, --status")
    client.login_api_key(key)
    print(_describe(client.account()), file=sys.stdout)
    return 0
