"""Start-up of one client in a fresh process: import, then connect to the first ``chat_once`` answer.

    PYTHON startup_worker.py --client codex_sync|openai_codex|codex_app_server_sdk \\
        --command '["/path/to/codex", "app-server"]' --env '{"CODEX_HOME": ...}'

Standalone on purpose (it imports nothing from this folder): ``scale.py`` runs
it with this venv's Python for ``codex_sync`` and ``openai_codex``, and with
the ``--async-sdk-python`` interpreter (Python >= 3.12) for
``codex_app_server_sdk``. The server's environment (the throw-away
``CODEX_HOME``, ``HOME``, ``PATH``) is put in ``os.environ`` before the clock
starts. Prints one JSON line: ``import_s`` (``import`` of the package, in this
process), ``first_answer_s`` (from making the client to the first answer:
spawning ``codex app-server``, ``initialize``, ``thread/start``, the turn),
``answer``, and for codex_sync ``start_s`` (spawn + reader, before ``initialize``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List

PROMPT = "hello"


def run_codex_sync(command: List[str]) -> Dict[str, Any]:
    t0 = time.perf_counter()
    from codex_sync import CodexClient

    t1 = time.perf_counter()
    client = CodexClient.connect_stdio(command)
    client.start()
    t2 = time.perf_counter()
    answer = client.chat_once(PROMPT).final_text
    t3 = time.perf_counter()
    client.close()
    return {"import_s": t1 - t0, "start_s": t2 - t1, "first_answer_s": t3 - t1, "answer": answer}


def run_openai_codex(command: List[str]) -> Dict[str, Any]:
    t0 = time.perf_counter()
    import openai_codex
    from openai_codex import Codex, CodexConfig

    t1 = time.perf_counter()
    codex = Codex(config=CodexConfig(launch_args_override=tuple(command)))
    try:
        answer = codex.thread_start().run(PROMPT).final_response
        t3 = time.perf_counter()
    finally:
        codex.close()
    return {"import_s": t1 - t0, "first_answer_s": t3 - t1, "answer": answer,
            "version": getattr(openai_codex, "__version__", "?")}


def run_async_sdk(command: List[str]) -> Dict[str, Any]:
    import asyncio

    t0 = time.perf_counter()
    import codex_app_server_sdk
    from codex_app_server_sdk import CodexClient

    t1 = time.perf_counter()

    async def first() -> Any:
        client = CodexClient.connect_stdio(command=command)
        async with client:
            result = await client.chat_once(PROMPT)
            return result.final_text, time.perf_counter()

    answer, t3 = asyncio.run(first())
    return {"import_s": t1 - t0, "first_answer_s": t3 - t1, "answer": answer,
            "version": codex_app_server_sdk.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", required=True, choices=("codex_sync", "openai_codex", "codex_app_server_sdk"))
    parser.add_argument("--command", required=True, help="the server's argv as a JSON list")
    parser.add_argument("--env", default="{}", help="variables to add to os.environ, as a JSON object")
    args = parser.parse_args()
    os.environ.update(json.loads(args.env))
    command = json.loads(args.command)
    run = {"codex_sync": run_codex_sync, "openai_codex": run_openai_codex,
           "codex_app_server_sdk": run_async_sdk}[args.client]
    result = run(command)
    result["python"] = sys.version.split()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
