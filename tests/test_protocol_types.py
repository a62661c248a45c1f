"""The generated protocol types: in sync with the pinned binary, importable, complete, mypy-clean."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from codex_sync import protocol_types as pt

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "scripts" / "generate_protocol_types.py"
MODULE = ROOT / "codex_sync" / "protocol_types.py"


def _codex_binary() -> Optional[str]:
    """The binary the generator would use, or None when there is none."""
    if os.environ.get("CODEX_SYNC_TEST_CODEX"):
        return os.environ["CODEX_SYNC_TEST_CODEX"]
    try:
        import codex_cli_bin
    except ImportError:
        return None
    return str(codex_cli_bin.bundled_codex_path())


@pytest.mark.real_server
@pytest.mark.pinned_version
def test_generated_module_matches_the_pinned_binary() -> None:
    codex = _codex_binary()
    if codex is None and sys.version_info < (3, 10):
        pytest.skip("openai-codex-cli-bin needs Python >= 3.10; set CODEX_SYNC_TEST_CODEX")
    assert codex is not None, "no codex binary: install openai-codex-cli-bin or set CODEX_SYNC_TEST_CODEX"
    proc = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--codex", codex, "--out", str(MODULE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_header_says_generated_and_from_which_version() -> None:
    head = MODULE.read_text(encoding="utf-8").splitlines()[:4]
    assert head[0] == "# GENERATED FILE - DO NOT EDIT."
    assert "scripts/generate_protocol_types.py" in head[1]
    assert "codex-cli " in head[2] and "generate-json-schema" in head[2]


def test_tables_know_the_methods_the_client_uses() -> None:
    for method in ("thread/start", "turn/start", "thread/revert", "turn/steer", "turn/interrupt"):
        assert method in pt.CLIENT_REQUESTS and method in pt.CLIENT_REQUEST_METHODS
    assert pt.CLIENT_REQUESTS["thread/start"] == ("ThreadStartParams", "ThreadStartResponse")
    assert pt.CLIENT_REQUESTS["turn/start"] == ("TurnStartParams", "TurnStartResponse")
    assert pt.CLIENT_REQUESTS["thread/revert"] == ("ThreadRevertParams", "ThreadRevertResponse")
    for method in ("turn/completed", "item/completed", "item/started", "thread/started", "error"):
        assert method in pt.SERVER_NOTIFICATIONS and method in pt.SERVER_NOTIFICATION_METHODS
    assert pt.SERVER_NOTIFICATIONS["turn/completed"] == "TurnCompletedNotification"
    for method in ("item/commandExecution/requestApproval", "item/tool/requestUserInput"):
        assert method in pt.SERVER_REQUESTS and method in pt.SERVER_REQUEST_METHODS
    assert pt.SERVER_REQUESTS["item/tool/requestUserInput"] == (
        "ToolRequestUserInputParams",
        "ToolRequestUserInputResponse",
    )
    assert pt.CLIENT_REQUEST_METHODS == frozenset(pt.CLIENT_REQUESTS)
    assert pt.SERVER_NOTIFICATION_METHODS == frozenset(pt.SERVER_NOTIFICATIONS)
    assert pt.SERVER_REQUEST_METHODS == frozenset(pt.SERVER_REQUESTS)


def test_every_table_entry_names_a_generated_type() -> None:
    names = [p for p, _ in pt.CLIENT_REQUESTS.values()] + [p for p, _ in pt.SERVER_REQUESTS.values()]
    names += [r for _, r in pt.CLIENT_REQUESTS.values() if r] + [r for _, r in pt.SERVER_REQUESTS.values() if r]
    names += list(pt.SERVER_NOTIFICATIONS.values())
    missing = sorted({n for n in names if n != "None" and not hasattr(pt, n)})
    assert not missing
    # every server request has a response type; so do the client requests the library sends
    assert all(r for _, r in pt.SERVER_REQUESTS.values())
    assert all(pt.CLIENT_REQUESTS[m][1] for m in ("initialize", "thread/list", "review/start"))


def test_typed_dict_keys() -> None:
    turn_start = pt.TurnStartParams
    assert {"threadId", "input"} <= turn_start.__required_keys__
    assert {"model", "cwd", "approvalPolicy", "effort"} <= turn_start.__optional_keys__
    assert "model" not in turn_start.__required_keys__
    assert {"threadId", "turn"} == pt.TurnCompletedNotification.__required_keys__
    approval = pt.CommandExecutionRequestApprovalParams
    assert {"threadId", "turnId", "itemId"} <= approval.__required_keys__
    assert "decision" in pt.CommandExecutionRequestApprovalResponse.__required_keys__
    assert "answers" in pt.ToolRequestUserInputResponse.__required_keys__
    # a key that is not an identifier forces the functional syntax and still works
    assert "$schema" in pt.McpElicitationSchema.__optional_keys__


def test_literal_and_union_aliases_keep_schema_names() -> None:
    from typing_extensions import get_args

    assert set(get_args(pt.TurnStatus)) == {"completed", "interrupted", "failed", "inProgress"}
    assert "TextUserInput" in repr(pt.UserInput)
    approval_literals = get_args(get_args(pt.CommandExecutionApprovalDecision)[0])
    assert {"accept", "acceptForSession", "decline", "cancel"} <= set(approval_literals)


def test_forward_references_resolve() -> None:
    from typing_extensions import get_type_hints

    hints = get_type_hints(pt.TurnStartParams)
    assert "UserInput" in repr(hints["input"]) or "TextUserInput" in repr(hints["input"])
    for name in dir(pt):
        obj = getattr(pt, name)
        if isinstance(obj, type) and hasattr(obj, "__required_keys__"):
            get_type_hints(obj)


def test_module_passes_mypy_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), str(MODULE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generator_handles_recursion_keywords_maps_and_nulls() -> None:
    """The generator on a small hand-written schema (the real one has no recursive types)."""
    spec = importlib.util.spec_from_file_location("_gen_protocol_types", GENERATOR)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    defs: Dict[str, Any] = {
        "Node": {
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                "class": {"type": ["string", "null"]},
            },
            "required": ["children"],
        },
        "NodeGetParams": {
            "type": "object",
            "properties": {
                "root": {"$ref": "#/definitions/Node"},
                "kind": {"oneOf": [{"enum": ["a"], "type": "string"}, {"enum": ["b"], "type": "string"}]},
                "sizes": {"type": "object", "additionalProperties": {"type": "integer"}},
                "extra": True,
            },
            "required": ["root"],
        },
        "NodeGetResponse": {"type": "object"},
    }
    request = {"properties": {"method": {"enum": ["node/get"]}, "params": {"$ref": "#/definitions/NodeGetParams"}}}
    tops = {"ClientRequest": {"oneOf": [request]}, "ServerNotification": {"oneOf": []}, "ServerRequest": {"oneOf": []}}
    source, _ = gen.render("codex-cli 0.0.0", defs, tops)
    assert 'Node = TypedDict(\n    "Node",' in source  # "class" is a keyword: functional syntax
    assert '"children": List["Node"],' in source
    assert 'kind: NotRequired[Literal["a", "b"]]' in source
    assert "sizes: NotRequired[Dict[str, int]]" in source and "extra: NotRequired[Any]" in source
    module = types.ModuleType("_generated_protocol_types")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, "<generated>", "exec"), module.__dict__)
        assert module.CLIENT_REQUESTS == {"node/get": ("NodeGetParams", "NodeGetResponse")}
        assert module.Node.__required_keys__ == {"children"}
        assert module.Node.__optional_keys__ == {"class"}
        from typing_extensions import get_type_hints

        assert get_type_hints(module.Node)["children"] == module.List[module.Node]
    finally:
        del sys.modules[module.__name__]
