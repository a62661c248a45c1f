"""``python -m codex_sync`` / ``codex-sync``: chat with a server, or run the offline demo.

``codex-sync chat PROMPT...`` runs each prompt as a turn of one thread and
prints its steps; ``codex-sync demo`` does the same against a real
``codex app-server`` bound to a scripted fake model (no account, no network).

Exit status: 0 ok, 1 error, 2 usage (a bad flag or value), 3 a turn failed,
4 a turn or request timed out or was cancelled, 130 interrupted (Ctrl-C).

Everything here runs in the caller's thread except the waiting indicator, a
daemon thread that draws on stderr while a turn is silent, and only on a
terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
import tempfile
from contextlib import ExitStack
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

from ._version import __version__
from .approvals import MANUAL
from .chat import ChatStream
from .cli_connect import UsageError, _check_command, cli_message, connect
from .cli_login import add_login_flags, run_login
from .cli_output import (
    Approver,
    Output,
    make_output,
)
from .client import CodexClient
from .config import ThreadConfig
from .errors import (
    CodexError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
    CodexTurnFailedError,
    CodexTurnInactiveError,
    CodexTurnInterruptedError,
)
from .values import ConversationStep

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TURN_FAILED = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """exit status:
  0    every turn completed
  1    error (the server could not be started or reached, or it answered an error)
  2    usage: a bad flag or value (a one-line error with a hint)
  3    a turn failed (the model or the server reported an error)
  4    a turn or a request timed out, or the turn was cancelled or interrupted
  130  interrupted (Ctrl-C); the running turn is interrupted first"""




# -- parsing ------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (``codex-sync: error: ... (see --help)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"codex-sync: error: {message} (see `{self.prog} --help`)\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("output")
    out.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                     help="print the model's text as it is written (default: on when stdout is a terminal)")
    out.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a waiting indicator with the elapsed time on stderr while a turn is silent "
                          "(default: on when stderr is a terminal)")
    mode = out.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true",
                      help="print one JSON object per line: turn, step, approval, result (and delta with --stream)")
    mode.add_argument("--quiet", "-q", action="store_true", help="print only each turn's final answer")
    out.add_argument("--show-data", action="store_true", help="print each step's raw item too")
    out.add_argument("--verbose", "-v", action="store_true", help="log the client's debug messages; show tracebacks")


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    conn = parser.add_argument_group("server (stdio: a child process; websocket: a running server)")
    conn.add_argument("--transport", choices=["stdio", "websocket"], default=None,
                      help="default: websocket when --url or --token is given, else stdio")
    conn.add_argument("--cmd", help="app-server command for stdio (default: $CODEX_APP_SERVER_CMD, "
                                    "`codex app-server` on PATH, or the openai-codex-cli-bin binary)")
    conn.add_argument("--url", help="websocket URL, ws://HOST:PORT (default: $CODEX_APP_SERVER_WS_URL "
                                    "or ws://127.0.0.1:8765)")
    conn.add_argument("--token", help="websocket bearer token (default: $CODEX_APP_SERVER_TOKEN); "
                                      "write --token=VALUE if it starts with -")
    conn.add_argument("--request-timeout", type=_seconds, default=60.0, metavar="SECONDS",
                      help="how long each request may take (default: 60)")


def _add_approval_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--approve", choices=["never", "all", "ask"], default="never",
        help="answer the server's approval requests: never (decline; the default), all (approve every "
             "one: only where you trust the agent), ask (prompt on the terminal; also answers its questions)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = _Parser(
        prog="codex-sync",
        description="A synchronous client for codex app-server: chat with it, or run the offline demo.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"codex-sync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{chat,demo,login}", parser_class=_Parser)
    sub.required = True

    chat = sub.add_parser(
        "chat", help="run prompts as turns of one thread and print their steps",
        description="Run each PROMPT as one turn of one thread and print the steps as they complete.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("prompt", nargs="+", help="the prompt(s); several run as turns of one thread")
    _add_connection_flags(chat)
    turn = chat.add_argument_group("thread and turn")
    turn.add_argument("--thread-id", help="continue this thread instead of starting one")
    turn.add_argument("--cwd", help="working directory of the thread (on the server's machine)")
    turn.add_argument("--model", help="model of the thread")
    turn.add_argument("--approval-policy", choices=["untrusted", "on-failure", "on-request", "never"],
                      help="when the server asks before acting (default: the server's config)")
    turn.add_argument("--sandbox", choices=["read-only", "workspace-write", "danger-full-access"],
                      help="sandbox of the thread's commands (default: the server's config)")
    turn.add_argument("--developer-instructions", metavar="TEXT")
    turn.add_argument("--base-instructions", metavar="TEXT")
    turn.add_argument("--inactivity-timeout", type=_seconds, default=None, metavar="SECONDS",
                      help="seconds of silence before saying so and waiting on (default: no limit)")
    turn.add_argument("--cancel-on-timeout", action="store_true",
                      help="cancel the turn after --inactivity-timeout instead (exit status 4)")
    _add_approval_flags(chat)
    _add_output_flags(chat)

    login = sub.add_parser(
        "login", help="log the server in (API key, ChatGPT in a browser, or a device code), or show or forget it",
        description="Log the app-server in: it keeps the credentials in its CODEX_HOME. With no flag, "
                    "an API key from $OPENAI_API_KEY; see docs/index.md, 'Log in first'.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_login_flags(login)
    _add_connection_flags(login)
    login.set_defaults(cwd=None, json=False, show_data=False, verbose=False, stream=None, progress=None, quiet=False)

    demo = sub.add_parser(
        "demo", help="run a real app-server against a scripted fake model (no account needed)",
        description="Start a real codex app-server bound to a scripted fake model on 127.0.0.1, with a "
                    "throw-away home, and show one turn. The server command is --cmd, else "
                    "$CODEX_APP_SERVER_CMD, else `codex` on PATH, else the openai-codex-cli-bin binary.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--cmd", help="app-server command (see above)")
    _add_approval_flags(demo)
    _add_output_flags(demo)
    return parser


# -- steps --------------------------------------------------------------------
def _thread_config(args: argparse.Namespace) -> Optional[ThreadConfig]:
    fields = {
        "cwd": getattr(args, "cwd", None),
        "model": getattr(args, "model", None),
        "approval_policy": getattr(args, "approval_policy", None),
        "sandbox": getattr(args, "sandbox", None),
        "developer_instructions": getattr(args, "developer_instructions", None),
        "base_instructions": getattr(args, "base_instructions", None),
    }
    given = {k: v for k, v in fields.items() if v is not None}
    return ThreadConfig(**given) if given else None


def _steps(stream: ChatStream, output: Output) -> Iterator[ConversationStep]:
    """The stream's steps, telling ``output`` when we block (for the waiting indicator)."""
    while True:
        output.waiting(True)
        try:
            step = next(stream)
        except StopIteration:
            return
        finally:
            output.waiting(False)
        yield step


def run_turns(client: CodexClient, prompts: Sequence[str], args: argparse.Namespace, output: Output) -> int:
    """Run each prompt as a turn of one thread; return the exit status.

    A turn that fails stops the run (status 3); one cancelled after
    ``--inactivity-timeout`` with ``--cancel-on-timeout``, or interrupted,
    stops it with status 4. Without ``--cancel-on-timeout`` a silent turn is
    reported and waited on (resumed from its continuation).
    """
    thread_id: Optional[str] = getattr(args, "thread_id", None)
    config = _thread_config(args)
    approver = Approver(args.approve, output)
    on_delta = output.delta if output.wants_deltas else None
    for number, prompt in enumerate(prompts):
        try:
            stream = client.chat(prompt, thread_id=thread_id, thread_config=config if number == 0 else None,
                                 on_delta=on_delta, approval_handler=MANUAL,
                                 user_input_handler=approver.user_input_handler)
        except CodexProtocolError as exc:
            if number == 0 and thread_id is not None:
                raise UsageError(f"--thread-id {thread_id}: {cli_message(exc)}") from exc
            raise
        except ValueError as exc:
            raise UsageError(cli_message(exc).replace("thread_id", "--thread-id")) from exc
        thread_id = stream.thread_id
        output.turn_started(stream, prompt)
        final = ""
        while True:
            try:
                with stream:
                    for step in _steps(stream, output):
                        if step.step_type == "approval":
                            approver.answer(client, step)
                            continue
                        if step.step_type == "codex" and step.text:
                            final = step.text
                        output.step(step)
                break
            except CodexTurnInactiveError as exc:
                idle = f"{exc.idle_seconds:.1f}s" if exc.idle_seconds is not None else "a while"
                if getattr(args, "cancel_on_timeout", False):
                    cancelled = client.cancel(exc.continuation)
                    for step in cancelled.steps:
                        output.step(step)
                    output.note(f"[cancelled] turn {cancelled.turn_id} after {idle} without news "
                                f"(--inactivity-timeout {args.inactivity_timeout:g})")
                    output.result(stream, "cancelled", final, "inactivity timeout")
                    return EXIT_TIMEOUT
                output.note(f"[waiting] turn {exc.continuation.turn_id} quiet for {idle}; still waiting "
                            "(--cancel-on-timeout stops instead)")
                stream = client.chat(continuation=exc.continuation, on_delta=on_delta)
            except CodexTurnFailedError as exc:
                output.result(stream, "failed", final, cli_message(exc))
                raise
            except CodexTurnInterruptedError as exc:
                output.result(stream, "interrupted", final, cli_message(exc))
                raise
        output.result(stream, "completed", final)
    return EXIT_OK


# -- the demo -----------------------------------------------------------------
def demo_command(cmd: Optional[str]) -> Tuple[List[str], str, Optional[str]]:
    """The demo's server command, where it came from, and a folder to put first on ``PATH``.

    ``--cmd``, else ``$CODEX_APP_SERVER_CMD``, else ``codex app-server`` with
    ``codex`` found on ``PATH``, else the test kit's binary
    (``$CODEX_SYNC_TEST_CODEX`` or openai-codex-cli-bin's). Raises
    :class:`UsageError` for a bad ``--cmd`` or variable, ``RuntimeError``
    when no binary is found.
    """
    if cmd is not None:
        return _check_command(cmd, "--cmd"), "--cmd", None
    env_cmd = os.environ.get("CODEX_APP_SERVER_CMD", "").strip()
    if env_cmd:
        return _check_command(env_cmd, "$CODEX_APP_SERVER_CMD"), "$CODEX_APP_SERVER_CMD", None
    on_path = shutil.which("codex")
    if on_path:
        return [on_path, "app-server"], "codex on PATH", None
    from .testing import codex_binary, codex_path_dir

    try:
        binary = codex_binary()
    except RuntimeError:
        raise RuntimeError(
            "no codex binary for the demo: pass --cmd 'PATH/TO/codex app-server', set "
            "$CODEX_APP_SERVER_CMD, put `codex` on PATH, or pip install 'codex-sync[runtime]'"
        ) from None
    source = "$CODEX_SYNC_TEST_CODEX" if os.environ.get("CODEX_SYNC_TEST_CODEX") else "openai-codex-cli-bin"
    return [binary, "app-server"], source, codex_path_dir()


def run_demo(args: argparse.Namespace, output: Output) -> int:
    """Start a real app-server on a scripted model, with a throw-away home, and show one rich turn."""
    from .testing import ScriptedModel, exec_command, reasoning, text, write_codex_home
    from .testing.launcher import hide_mock_model_warning

    hide_mock_model_warning()  # the scripted model has no model metadata; codex says so for every thread
    command, source, path_dir = demo_command(args.cmd)
    with ExitStack() as stack:
        model = stack.enter_context(ScriptedModel())
        root = stack.enter_context(tempfile.TemporaryDirectory(prefix="codex-sync-demo-"))
        home = write_codex_home(os.path.join(root, "codex_home"), model.url)
        user_home = os.path.join(root, "home")
        workspace = os.path.join(root, "workspace")
        os.mkdir(user_home)
        os.mkdir(workspace)
        env = {"CODEX_HOME": str(home), "HOME": user_home}
        if path_dir:
            env["PATH"] = path_dir + os.pathsep + os.environ.get("PATH", os.defpath)
        model.on(
            "Show me",
            exec_command("echo hello from a real codex app-server"),
            text(
                "The command printed a greeting: the whole turn ran offline.",
                reasoning=reasoning("I should run a command, then report what it printed."),
                delay=0.02,
            ),
        )
        client = stack.enter_context(
            CodexClient.connect_stdio(command, cwd=workspace, env=env, request_timeout=30)
        )
        init = client.initialize()
        output.info(f"codex app-server {init.server_version} ({init.platform_os}) from {source}: "
                    f"{shlex.join(command)}")
        output.info(f"scripted model at {model.url}")
        return run_turns(client, ["Show me what you can do."], args, output)
    return EXIT_OK  # pragma: no cover - the with block returns


# -- main ---------------------------------------------------------------------
def check_args(args: argparse.Namespace) -> None:
    """Refuse flag combinations argparse cannot see, before anything starts (:class:`UsageError`)."""
    for number, prompt in enumerate(getattr(args, "prompt", None) or []):
        if not prompt.strip():
            raise UsageError(f"prompt {number + 1} is empty")
    if getattr(args, "cancel_on_timeout", False) and getattr(args, "inactivity_timeout", None) is None:
        raise UsageError("--cancel-on-timeout needs --inactivity-timeout SECONDS")
    if args.json and args.show_data:
        raise UsageError("--show-data is for the text output (--json lines carry the item already)")


def _fail(output: Optional[Output], code: int, message: str) -> int:
    if output is not None:
        output.close()
    print(f"codex-sync: error: {message}", file=sys.stderr, flush=True)
    return code


def _setup_logging(verbose: bool) -> None:
    logger = logging.getLogger("codex_sync")
    if any(getattr(h, "_codex_sync_cli", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s" if verbose
                                           else "codex-sync: %(levelname)s: %(message)s"))
    handler._codex_sync_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status (see the module docstring). Errors print one line."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    _setup_logging(args.verbose)
    output: Optional[Output] = None
    try:
        check_args(args)
        output = make_output(args)
        if args.command == "demo":
            code = run_demo(args, output)
        elif args.command == "login":
            with connect(args, request_timeout=args.request_timeout) as client:
                code = run_login(client, args)
        else:
            options: Dict[str, Any] = {"inactivity_timeout": args.inactivity_timeout,
                                       "request_timeout": args.request_timeout}
            with connect(args, **options) as client:
                code = run_turns(client, args.prompt, args, output)
        output.close()
        return code
    except UsageError as exc:
        return _fail(output, EXIT_USAGE, str(exc))
    except KeyboardInterrupt:
        if output is not None:
            output.close()
        print("codex-sync: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (`| head`)
        try:
            sys.stdout = open(os.devnull, "w")  # the flush at exit would fail again
        except OSError:
            pass
        return EXIT_ERROR
    except CodexTurnFailedError as exc:
        return _fail(output, EXIT_TURN_FAILED, cli_message(exc))
    except CodexTurnInterruptedError as exc:
        return _fail(output, EXIT_TIMEOUT, cli_message(exc))
    except CodexTimeoutError as exc:
        return _fail(output, EXIT_TIMEOUT, f"timed out: {cli_message(exc)}")
    except CodexError as exc:
        if args.verbose:
            logging.getLogger("codex_sync").exception("error")
        code = EXIT_USAGE if isinstance(exc, CodexTransportError) and "401" in str(exc) else EXIT_ERROR
        return _fail(output, code, cli_message(exc))
    except (ValueError, TypeError) as exc:  # the library refused a value we passed on
        if args.verbose:
            raise
        return _fail(output, EXIT_USAGE, f"{cli_message(exc)} (see `codex-sync {args.command} --help`)")
    except (RuntimeError, OSError) as exc:
        if args.verbose:
            raise
        return _fail(output, EXIT_ERROR, cli_message(exc))
    except Exception as exc:  # a bug: still one line, unless --verbose
        if args.verbose:
            raise
        return _fail(output, EXIT_ERROR, f"internal error: {type(exc).__name__}: {cli_message(exc)} "
                                         "(--verbose shows the traceback)")
