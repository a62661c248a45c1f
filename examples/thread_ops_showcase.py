#!/usr/bin/env python3
"""A tour of the thread, model and config helpers.

Shows ``thread/name/set``, ``thread/read``, ``thread/list``, ``thread/archive``,
``model/list`` and ``config/read``, plus ``thread.update_defaults`` (model),
``thread.rollback`` and ``thread.compact``. Summaries print ``<not-provided>``
for a field the server left out and ``null`` for an explicit null;
``--show-data`` dumps the raw payloads instead. ``config/read`` reports
``origin_entries``: how many config keys carry provenance (which layer or file
set them).

    python examples/thread_ops_showcase.py --prompt "Give a 3-bullet summary." --thread-name showcase-thread
    python examples/thread_ops_showcase.py --transport websocket --url ws://127.0.0.1:8765
    python examples/thread_ops_showcase.py --set-model gpt-5.3-codex --show-data
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any, List

from _common import Checkpoints, connect, main, make_parser

from codex_sync import ThreadConfig, ThreadHandle

MISSING = object()


def field(mapping: Any, *keys: str) -> Any:
    """The first of ``keys`` present in ``mapping`` (``MISSING`` if none is)."""
    if isinstance(mapping, Mapping):
        for key in keys:
            if key in mapping:
                return mapping[key]
    return MISSING


def shown(value: Any, limit: int = 80) -> str:
    """``<not-provided>`` / ``null`` / ``true`` / a shortened quoted string / the value."""
    if value is MISSING:
        return "<not-provided>"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[: limit - 3] + "...")
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        return value["type"]  # e.g. a thread's status, {"type": "idle"}
    if isinstance(value, (list, Mapping)):
        return str(len(value))
    return str(value)


def fields(mapping: Any, *names: str, limit: int = 80) -> str:
    """``name=value`` for each ``name`` (``name:key1|key2`` looks up several keys)."""
    parts: List[str] = []
    for spec in names:
        name, _, keys = spec.partition(":")
        parts.append(f"{name}={shown(field(mapping, *(keys.split('|') if keys else [name])), limit)}")
    return " ".join(parts)


def report(name: str, payload: Any, summary: List[str], show_data: bool) -> None:
    """Print ``[result:name]`` lines: the raw payload with ``--show-data``, else the summary."""
    if show_data:
        print(f"[result:{name}]")
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        for line in summary:
            print(f"[result:{name}] {line}")


def rows(payload: Any, limit: int, *names: str) -> List[str]:
    """A count line and one summary line per item of a ``{"data": [...], "nextCursor"}`` page."""
    items = [item for item in (field(payload, "data") or []) if isinstance(item, Mapping)]
    lines = [f"count={len(items)} showing={min(limit, len(items))} {fields(payload, 'next_cursor:nextCursor')}"]
    lines += [f"  {i}. {fields(item, *names)}" for i, item in enumerate(items[:limit], start=1)]
    return lines


def thread_model(thread: ThreadHandle) -> str:
    return shown(field(thread.read(include_turns=False).get("thread"), "model"))


def turn_count(thread: ThreadHandle) -> int:
    return len((thread.read(include_turns=True).get("thread") or {}).get("turns") or [])


def run(args: argparse.Namespace) -> int:
    checkpoint = Checkpoints(args.quiet)
    with connect(args) as client:
        checkpoint.connected(client, args)
        thread = client.start_thread(ThreadConfig(cwd=args.cwd) if args.cwd else None)
        checkpoint(f"thread started: {thread.thread_id}")

        thread.set_name(args.thread_name)
        print(f"[result:thread/name/set] name={args.thread_name!r} status=ok")

        checkpoint(f"sending prompt: {args.prompt!r}")
        result = thread.chat_once(args.prompt)
        checkpoint(f"turn completed: {result.turn_id}")
        print(f"[chat] thread_id={result.thread_id} turn_id={result.turn_id}")
        print(result.final_text, flush=True)

        if args.set_model:
            before = thread_model(thread)
            thread.update_defaults(ThreadConfig(model=args.set_model))
            checkpoint(f"thread defaults updated: model={args.set_model!r} (applied with the next turn)")
            print(f"[result:thread/model] before={before} requested={args.set_model!r}")

        followup = thread.chat_once(args.followup_prompt)
        checkpoint(f"follow-up turn completed: {followup.turn_id}")
        if args.set_model:
            print(f"[result:thread/model] after_next_turn={thread_model(thread)}")

        before = turn_count(thread)
        thread.rollback(1)
        print(f"[result:thread/rollback] turns_before={before} turns_after={turn_count(thread)}")

        thread.compact(wait=True)  # (without wait=True it returns once the server accepted it)
        checkpoint("context compacted (the compaction is a turn of its own)")

        snapshot = thread.read(include_turns=True)
        info = field(snapshot, "thread")
        report("thread/read", snapshot, [
            fields(info, "id", "cwd", "model_provider:modelProvider", "source", "updated_at:updatedAt", "turns",
                   limit=1000),
            fields(info, "preview", "name", "model", "status:status"),
        ], args.show_data)

        page = client.list_threads(limit=args.list_limit, sort_key="updated_at")
        report("thread/list", page, rows(
            page, args.list_limit, "id", "preview", "name", "model", "updated_at:updatedAt"
        ), args.show_data)

        models = client.list_models(limit=args.models_limit)
        report("model/list", models, rows(
            models, args.models_limit, "id", "display:displayName", "default_effort:defaultReasoningEffort",
            "is_default:isDefault", "hidden",
        ), args.show_data)

        config = client.read_config()
        settings, origins = field(config, "config"), field(config, "origins")
        report("config/read", config, [
            fields(settings, "model", "model_provider", "approval_policy", "sandbox_mode", "personality",
                   "reasoning_effort:model_reasoning_effort")
            + f" origin_entries={shown(origins)}",
            "origin_entries = how many config keys include provenance (where the value came from)"
            + (f"; e.g. {', '.join(list(origins)[:3])}" if isinstance(origins, Mapping) and origins else ""),
        ], args.show_data)

        if args.archive:
            thread.archive()
            archived = [t.get("id") for t in client.list_threads(archived=True).get("data") or []]
            print(f"[result:thread/archive] thread_id={thread.thread_id} archived={thread.thread_id in archived}")
            checkpoint(f"thread archived: {thread.thread_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__, inactivity_timeout=None)
    parser.add_argument("--cwd", help="the thread's working directory")
    parser.add_argument(
        "--prompt", default="Give a 3-bullet summary of the best habits for focused work."
    )
    parser.add_argument(
        "--followup-prompt", default="Now in one line.", help="second turn (then rolled back)"
    )
    parser.add_argument("--thread-name", default="api-showcase-thread")
    parser.add_argument("--list-limit", type=int, default=5, help="threads to list")
    parser.add_argument("--models-limit", type=int, default=5, help="models to list")
    parser.add_argument("--set-model", help="switch the thread to this model (shows before/after)")
    parser.add_argument("--archive", action="store_true", help="archive the thread at the end")
    parser.add_argument("--show-data", action="store_true", help="print the raw payloads")
    return parser


if __name__ == "__main__":
    main(run, build_parser())
