#!/usr/bin/env python3
"""Generate ``codex_sync/protocol_types.py`` from the codex app-server JSON Schemas.

Usage::

    python scripts/generate_protocol_types.py [--codex PATH] [--out FILE] [--check]

The codex binary (``--codex``, else ``$CODEX_SYNC_TEST_CODEX``, else the one bundled by
``openai-codex-cli-bin``) writes its schemas with ``codex app-server generate-json-schema``
into a temporary directory. Every definition in every schema file lands in one namespace
(the files agree on shared names); the types reachable from the client requests, their
responses, the server notifications and the server requests become ``TypedDict`` classes
and type aliases in one module. ``--check`` regenerates in memory and exits 1 with a short
diff when the file on disk differs (exit 2: no usable binary). Stdlib only; the output is
deterministic.
"""

from __future__ import annotations

import argparse
import difflib
import json
import keyword
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "codex_sync" / "protocol_types.py"
TYPING_NAMES = ("Any", "Dict", "FrozenSet", "List", "Literal", "Optional", "Tuple", "Union")
EXT_NAMES = ("NotRequired", "TypeAlias", "TypedDict")
RESERVED = set(TYPING_NAMES + EXT_NAMES + ("None", "str", "int", "float", "bool", "object"))
SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
# Responses whose names follow neither ``<X>Params -> <X>Response`` nor the method's words.
KNOWN_RESPONSES = {
    "account/workspaceMessages/read": "GetWorkspaceMessagesResponse",
    "config/mcpServer/reload": "McpServerRefreshResponse",
}
Table = Dict[str, Tuple[str, Optional[str]]]


def find_codex(explicit: Optional[str]) -> str:
    """Return the codex binary: ``--codex``, ``$CODEX_SYNC_TEST_CODEX`` or the bundled one."""
    if explicit:
        return explicit
    if os.environ.get("CODEX_SYNC_TEST_CODEX"):
        return os.environ["CODEX_SYNC_TEST_CODEX"]
    try:
        import codex_cli_bin  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print(
            "no codex binary: pass --codex, set CODEX_SYNC_TEST_CODEX or install openai-codex-cli-bin",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    return str(codex_cli_bin.bundled_codex_path())


def load_schemas(codex: str) -> Tuple[str, Dict[str, Any], Dict[str, Any]]:
    """Run the binary; return (version, definitions by name, the three top-level message schemas)."""
    version = subprocess.run([codex, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    defs: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [codex, "app-server", "generate-json-schema", "--out", tmp]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        paths = sorted(p for p in Path(tmp).rglob("*.json") if not p.name.startswith("codex_app_server"))
        files = {p.relative_to(tmp).as_posix(): json.loads(p.read_text(encoding="utf-8")) for p in paths}
    for rel in sorted(files):
        schema = files[rel]
        own = {k: v for k, v in schema.items() if k not in ("definitions", "$schema")}
        for name, sub in [(Path(rel).stem, own)] + sorted(schema.get("definitions", {}).items()):
            if name in defs and canon(defs[name]) != canon(sub):
                print(f"warning: {rel} redefines {name} differently; keeping the first", file=sys.stderr)
            defs.setdefault(name, sub)
    tops = {n: files[n + ".json"] for n in ("ClientRequest", "ServerNotification", "ServerRequest")}
    return version, defs, tops


def canon(schema: Any) -> str:
    """Canonical JSON of a schema, ignoring titles and descriptions (used to spot duplicates)."""

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in ("title", "description")}
        return [strip(i) for i in x] if isinstance(x, list) else x

    return json.dumps(strip(schema), sort_keys=True)


def camel(raw: str) -> str:
    """``thread/start`` -> ``ThreadStart``; ``openai/form`` -> ``OpenaiForm``; a valid identifier."""
    name = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", raw) if p)
    return "T" + name if not name or name[0].isdigit() else name


def is_empty_object(schema: Dict[str, Any]) -> bool:
    """``{"type": "object"}`` without keys or a value schema (serde's empty struct)."""
    return schema.get("type") == "object" and "additionalProperties" not in schema


def split_args(args: str) -> List[str]:
    """Split ``a, B[c, d], "e, f"`` at its top-level commas."""
    parts, depth, start, quoted = [], 0, 0, False
    for i, ch in enumerate(args):
        if ch == '"' and (i == 0 or args[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "[]":
            depth += 1 if ch == "[" else -1
        elif not quoted and ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    return parts + [args[start:].strip()]


def words(raw: str) -> Set[str]:
    """The lower-case words of a method or type name (split at ``/``, ``_`` and camelCase)."""
    return {w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", raw)}


def doc_lines(text: Optional[str], width: int) -> List[str]:
    """The first paragraph of a schema description, wrapped (empty if none)."""
    para = (text or "").strip().split("\n\n")[0]
    return textwrap.wrap(" ".join(para.split()), width)


def docstring(text: Optional[str], indent: str) -> List[str]:
    """The first paragraph of a schema description as docstring lines (empty if none)."""
    lines = doc_lines(text.replace("\\", "\\\\").replace('"', '\\"') if text else None, 94 - len(indent))
    if len(lines) <= 1:
        return [f'{indent}"""{ln}"""' for ln in lines]
    return [f'{indent}"""{lines[0]}'] + [indent + ln for ln in lines[1:]] + [f'{indent}"""']


class Generator:
    """Turns schemas into Python source blocks; each generated name is bound to one schema."""

    def __init__(self, defs: Dict[str, Any]) -> None:
        self.defs = defs
        self.taken: Set[str] = set(RESERVED)
        self.by_key: Dict[Tuple[str, str], str] = {}
        self.blocks: Dict[str, str] = {}  # generated name -> source
        self.kinds: Dict[str, str] = {}  # generated name -> "class" | "alias"
        self.anys: Dict[str, int] = {}  # reason -> count of places typed as Any
        self.exprs: List[str] = []  # every type expression written (to pick the imports)
        self.def_names = {n: self.allocate(camel(n), defs[n]) for n in sorted(defs)}

    def allocate(self, desired: str, schema: Any) -> str:
        """A unique name for ``schema``; the same desired name and shape share one name."""
        key = (desired, canon(schema))
        if key not in self.by_key:
            name, i = desired, 2
            while name in self.taken or keyword.iskeyword(name):
                name, i = f"{desired}{i}", i + 1
            self.taken.add(name)
            self.by_key[key] = name
        return self.by_key[key]

    def ref(self, def_name: str) -> str:
        """Emit the definition ``def_name`` (once) and return a forward reference to it."""
        name = self.def_names[def_name]
        if name not in self.blocks:
            self.emit(name, self.defs[def_name], named=True)
        return f'"{name}"'

    def any(self, reason: str) -> str:
        """``Any``, counting why it was used."""
        self.anys[reason] = self.anys.get(reason, 0) + 1
        return "Any"

    def emit(self, name: str, schema: Any, named: bool) -> None:
        """Write the block for ``name``: a TypedDict for objects, an alias for anything else."""
        self.blocks[name] = ""  # placeholder, breaks recursion
        variants = (schema.get("oneOf") or schema.get("anyOf")) if isinstance(schema, dict) else None
        if variants and "properties" in schema:  # an object plus alternatives: serde's flattened enum
            self.alias(
                name, schema, self.union([self.merged(name, schema, v, i) for i, v in enumerate(variants)])
            )
        elif isinstance(schema, dict) and ("properties" in schema or (named and is_empty_object(schema))):
            self.typed_dict(name, schema)
        else:
            self.alias(name, schema, self.type_of(schema, name))

    def alias(self, name: str, schema: Any, expr: str) -> None:
        """Write ``name: TypeAlias = expr``."""
        desc = schema.get("description") if isinstance(schema, dict) else None
        comment = "".join(f"#: {ln}\n" for ln in doc_lines(desc, 96))
        if len(expr) > 90 and expr.startswith(("Union[", "Literal[")):  # one member a line
            head, args = expr.split("[", 1)
            expr = head + "[\n" + "".join(f"    {a},\n" for a in split_args(args[:-1])) + "]"
        self.blocks[name] = f"{comment}{name}: TypeAlias = {expr}"
        self.exprs.append(expr)
        self.kinds[name] = "alias"

    def merged(self, parent: str, base: Dict[str, Any], variant: Any, index: int) -> str:
        """A TypedDict for ``base``'s properties plus one variant's."""
        variant = variant if isinstance(variant, dict) else {}
        schema = {
            "description": base.get("description"),
            "properties": {**base.get("properties", {}), **variant.get("properties", {})},
            "required": sorted(set(base.get("required", [])) | set(variant.get("required", []))),
        }
        name = self.allocate(self.variant_name(parent, variant, index), schema)
        if name not in self.blocks:
            self.blocks[name] = ""
            self.typed_dict(name, schema)
        return f'"{name}"'

    def variant_name(self, parent: str, variant: Dict[str, Any], index: int) -> str:
        """Name a union member: its title, else parent + its tag value, else parent + index."""
        if variant.get("title"):
            return camel(variant["title"])
        for prop in variant.get("properties", {}).values():
            if isinstance(prop, dict) and len(prop.get("enum", [])) == 1 and isinstance(prop["enum"][0], str):
                return parent + camel(prop["enum"][0])
        return f"{parent}Variant{index + 1}"

    def typed_dict(self, name: str, schema: Dict[str, Any]) -> None:
        """Write a TypedDict; functional syntax when a key is not a usable identifier."""
        props: Dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        total = bool(required) or not props
        fields = []
        for key, sub in props.items():
            expr = self.type_of(sub, name + camel(key))
            fields.append((key, expr if key in required or not total else f"NotRequired[{expr}]"))
            self.exprs.append(fields[-1][1])
        doc = docstring(schema.get("description"), "    ")
        if any(not k.isidentifier() or keyword.iskeyword(k) for k in props):
            body = "".join(f"\n        {json.dumps(k)}: {t}," for k, t in fields)
            opts = "" if total else ", total=False"
            src = f'{name} = TypedDict(\n    "{name}",\n    {{{body}\n    }}{opts},\n)'
            src = "\n".join(["#: " + ln for ln in doc_lines(schema.get("description"), 94)] + [src])
        else:
            head = f"class {name}(TypedDict{'' if total else ', total=False'}):"
            lines = doc + [f"    {k}: {t}" for k, t in fields]
            src = "\n".join([head] + (lines or ["    pass"]))
        self.blocks[name] = src
        self.kinds[name] = "class"

    def union(self, members: List[str]) -> str:
        """``Union[...]``/``Optional[...]`` of distinct members in schema order; nested unions
        are flattened and literals merged into one ``Literal[...]``."""
        flat: List[str] = []
        for m in members:
            flat.extend(split_args(m[6:-1]) if m.startswith("Union[") else [m])
        literals = [a for m in flat if m.startswith("Literal[") for a in split_args(m[8:-1])]
        if literals:
            first = next(i for i, m in enumerate(flat) if m.startswith("Literal["))
            merged = f"Literal[{', '.join(dict.fromkeys(literals))}]"
            flat = [
                merged if i == first else m
                for i, m in enumerate(flat)
                if i == first or not m.startswith("Literal[")
            ]
        uniq = list(dict.fromkeys(flat))
        if "Any" in uniq:
            return "Any"
        rest = [m for m in uniq if m != "None"]
        if len(rest) == len(uniq):
            return uniq[0] if len(uniq) == 1 else f"Union[{', '.join(uniq)}]"
        if not rest:
            return "None"
        return f"Optional[{rest[0]}]" if len(rest) == 1 else f"Union[{', '.join(rest)}, None]"

    def type_of(self, schema: Any, hint: str) -> str:
        """The Python type expression for ``schema``; ``hint`` names any inline object."""
        if not isinstance(schema, dict):
            return self.any("unconstrained value (schema `true`)")
        if "$ref" in schema:
            return self.ref(schema["$ref"].rsplit("/", 1)[-1])
        if "allOf" in schema:
            parts = schema["allOf"]
            return self.type_of(parts[0], hint) if len(parts) == 1 else self.any("allOf with several parts")
        if "enum" in schema or "const" in schema:
            values = schema["enum"] if "enum" in schema else [schema["const"]]
            lits = [json.dumps(v) for v in values if v is not None]
            nulls = ["None"] * (None in values or "null" in (schema.get("type") or []))
            return self.union(([f"Literal[{', '.join(lits)}]"] if lits else []) + nulls)
        types = schema.get("type")
        if isinstance(types, list):
            return self.union([self.type_of({**schema, "type": t}, hint) for t in types])
        if "properties" in schema:
            return self.inline(schema, hint)
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives:
            hints = [
                self.variant_name(hint, v, i) if isinstance(v, dict) else hint
                for i, v in enumerate(alternatives)
            ]
            return self.union([self.type_of(v, h) for v, h in zip(alternatives, hints)])
        if types in SCALARS:
            return SCALARS[types]
        if types == "array":
            items = schema.get("items", True)
            if isinstance(items, list):
                return self.any("tuple-typed array")
            return f"List[{self.type_of(items, hint + 'Item')}]"
        if types == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return f"Dict[str, {self.type_of(extra, hint + 'Value')}]"
            return "Dict[str, Any]"
        return self.any("unconstrained value (schema `{}`)")

    def inline(self, schema: Dict[str, Any], hint: str) -> str:
        """An inline object: named by its title (else ``hint``), emitted once, referenced."""
        name = self.allocate(camel(schema["title"]) if schema.get("title") else hint, schema)
        if name not in self.blocks:
            self.emit(name, schema, named=False)
        return f'"{name}"'


def message_table(gen: Generator, top: Dict[str, Any]) -> Dict[str, str]:
    """Method -> params type name for one of the three message unions ("None": no params)."""
    table = {}
    for variant in top["oneOf"]:
        method = variant["properties"]["method"]["enum"][0]
        params = variant["properties"].get("params", {"type": "null"})
        refs = [params] + params.get("anyOf", [])
        names = [r["$ref"].rsplit("/", 1)[-1] for r in refs if "$ref" in r]
        table[method] = gen.ref(names[0]).strip('"') if names else "None"
    return table


def responses(gen: Generator, params: Dict[str, str], claimed: Set[str]) -> Table:
    """Pair each method with its response type.

    ``<X>Params`` pairs with ``<X>Response``; otherwise with the unclaimed ``*Response``
    whose words are the most of the method's words, or with ``KNOWN_RESPONSES``; else None.
    """
    by_params = {m: p[: -len("Params")] + "Response" for m, p in params.items() if p.endswith("Params")}
    found = {m: r for m, r in by_params.items() if r in gen.defs}
    claimed = claimed | set(found.values())
    spare = sorted(n for n in gen.defs if n.endswith("Response") and n not in claimed)
    for method in sorted(set(params) - set(found)):
        fits = [n for n in spare if words(n[: -len("Response")]) <= words(method)]
        fits.sort(key=lambda n: (-len(words(n)), n))
        known = KNOWN_RESPONSES.get(method)
        pick = fits[0] if fits else known if known in gen.defs else None
        if pick:
            found[method] = pick
    return {m: (params[m], gen.ref(found[m]).strip('"') if m in found else None) for m in sorted(params)}


def render(version: str, defs: Dict[str, Any], tops: Dict[str, Any]) -> Tuple[str, Generator]:
    """Build the module source."""
    gen = Generator(defs)
    client = message_table(gen, tops["ClientRequest"])
    notes = message_table(gen, tops["ServerNotification"])
    server = message_table(gen, tops["ServerRequest"])
    server_table = responses(gen, server, set())
    client_table = responses(gen, client, {r for _, r in server_table.values() if r})

    def tuples(table: Table) -> str:
        rows = [f'    "{m}": ("{p}", {json.dumps(r) if r else "None"}),' for m, (p, r) in table.items()]
        return "{\n" + "\n".join(rows) + "\n}"

    chunks: List[str] = []
    previous = ""
    for name in sorted(gen.blocks):
        block = gen.blocks[name]
        multi = "\n" in block or gen.kinds[name] == "class"
        chunks.append(("\n\n\n" if multi or previous == "class" else "\n") + block)
        previous = "class" if multi else "alias"
    body = "".join(chunks).lstrip("\n")
    tables = (
        f"CLIENT_REQUESTS: Dict[str, Tuple[str, Optional[str]]] = {tuples(client_table)}\n"
        "SERVER_NOTIFICATIONS: Dict[str, str] = {\n"
        + "".join(f'    "{m}": "{p}",\n' for m, p in sorted(notes.items()))
        + "}\n"
        f"SERVER_REQUESTS: Dict[str, Tuple[str, Optional[str]]] = {tuples(server_table)}\n\n"
        "CLIENT_REQUEST_METHODS: FrozenSet[str] = frozenset(CLIENT_REQUESTS)\n"
        "SERVER_NOTIFICATION_METHODS: FrozenSet[str] = frozenset(SERVER_NOTIFICATIONS)\n"
        "SERVER_REQUEST_METHODS: FrozenSet[str] = frozenset(SERVER_REQUESTS)\n"
    )
    code = " ".join(gen.exprs) + tables
    used_typing = [n for n in TYPING_NAMES if re.search(rf"\b{n}\b", code)]
    used_ext = [n for n in EXT_NAMES if re.search(rf"\b{n}\b", code)] + ["TypeAlias", "TypedDict"]
    used_ext = sorted(set(used_ext))
    header = f'''\
# GENERATED FILE - DO NOT EDIT.
# Generated by `python scripts/generate_protocol_types.py` from the JSON Schemas that
# `{version}` prints with `codex app-server generate-json-schema`.
# Regenerate with that command; `--check` tells whether this file is up to date.
"""Typed shapes of the codex app-server protocol ({version}), generated from its JSON Schemas.

Every params and result type of the client requests, every server notification's params,
every server request's params and response, and the definitions they use: objects are
``TypedDict`` classes (optional keys are ``NotRequired``), string enums ``Literal`` aliases,
unions ``Union`` aliases. ``Any`` stands where the schema allows any JSON value.

The tables map method names to type names: ``CLIENT_REQUESTS[method] == (params, result)``,
``SERVER_REQUESTS[method] == (params, response)``, ``SERVER_NOTIFICATIONS[method] == params``.
A params name of ``"None"`` means the method takes no params object; a result of ``None``
means the schema names no response type for the method.
"""

from typing import {", ".join(used_typing)}

from typing_extensions import {", ".join(used_ext)}
'''
    gap = "\n\n" if body.startswith("class ") else "\n"  # what ruff's isort wants after imports
    return header + gap + body + "\n\n\n" + tables, gen


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codex", help="codex binary (default: $CODEX_SYNC_TEST_CODEX, else bundled)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="module to write or check")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is not up to date")
    args = parser.parse_args(argv)
    try:
        version, defs, tops = load_schemas(find_codex(args.codex))
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"cannot get the schemas: {exc}", file=sys.stderr)
        return 2
    source, gen = render(version, defs, tops)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current == source:
            return 0
        old, new = current.splitlines(), source.splitlines()
        diff = list(difflib.unified_diff(old, new, str(args.out), "generated", lineterm="", n=1))
        changed = sum(1 for ln in diff if ln[:1] in "+-" and ln[:3] not in ("+++", "---"))
        print(f"{args.out} is out of date ({changed} lines differ); rerun {Path(__file__).name}")
        print("\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else ""))
        return 1
    args.out.write_text(source, encoding="utf-8")
    classes = sum(1 for k in gen.kinds.values() if k == "class")
    print(f"wrote {args.out}: {classes} TypedDicts, {len(gen.kinds) - classes} aliases", file=sys.stderr)
    for reason, count in sorted(gen.anys.items()):
        print(f"  Any x{count}: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
