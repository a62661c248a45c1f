"""The throw-away ``CODEX_HOME``: a ``config.toml`` pointing codex at the fake model."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Union

__all__ = ["write_codex_home"]


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Union[str, bool, int, float]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return _toml_str(value)


def write_codex_home(
    directory: Union[str, os.PathLike[str]],
    model_url: str,
    *,
    approval_policy: str = "never",
    sandbox_mode: str = "danger-full-access",
    extra_config: str = "",
    features: Optional[Mapping[str, bool]] = None,
    provider_config: Optional[Mapping[str, Union[str, bool, int, float]]] = None,
) -> Path:
    """Write ``config.toml`` into ``directory`` (created if needed); return the directory.

    The config selects model ``"mock-model"`` from provider ``"mock"``
    (``base_url = model_url``, ``wire_api = "responses"``, no retries:
    ``request_max_retries = 0``, ``stream_max_retries = 0``), the given
    ``approval_policy`` (``"never"`` or ``"on-request"``; codex refuses
    ``"untrusted"`` in config.toml, pass it in ``thread/start`` instead) and
    ``sandbox_mode`` (``"danger-full-access"``, ``"workspace-write"``,
    ``"read-only"``), and ``[features] plugins = false`` (no plugin sync with
    GitHub at start-up).

    ``extra_config``: TOML inserted after those top-level keys and before the
    tables, so it may set top-level keys and add tables of its own, but must
    not open ``[features]`` or ``[model_providers.mock]``: use ``features``
    (merged over ``{"plugins": False}``) and ``provider_config`` (extra keys of
    the provider, e.g. ``{"stream_idle_timeout_ms": 1500}``) for those.
    Raises ``ValueError`` if ``extra_config`` opens one of them or for
    ``approval_policy="untrusted"``, ``OSError`` on write errors. Any thread.
    """
    if approval_policy == "untrusted":
        raise ValueError(
            'codex refuses approval_policy = "untrusted" in config.toml; '
            'pass approvalPolicy "untrusted" in thread/start instead'
        )
    for table in ("features", "model_providers.mock", "model_providers"):
        if re.search(rf"^\s*\[\s*{re.escape(table)}\s*\]", extra_config, re.MULTILINE):
            raise ValueError(f"extra_config must not open [{table}]; use features= or provider_config=")
    home = Path(directory)
    home.mkdir(parents=True, exist_ok=True)
    feats: Dict[str, bool] = {"plugins": False}
    feats.update(features or {})
    provider: Dict[str, Union[str, bool, int, float]] = {
        "name": "mock",
        "base_url": model_url,
        "wire_api": "responses",
        "request_max_retries": 0,
        "stream_max_retries": 0,
    }
    provider.update(provider_config or {})
    lines: List[str] = [
        "# Written by codex_sync.testing: a throw-away home for tests.",
        f"model = {_toml_str('mock-model')}",
        f"model_provider = {_toml_str('mock')}",
        f"approval_policy = {_toml_str(approval_policy)}",
        f"sandbox_mode = {_toml_str(sandbox_mode)}",
    ]
    if extra_config.strip():
        lines += ["", extra_config.strip("\n")]
    lines += ["", "[features]"]
    lines += [f"{name} = {_toml_value(on)}" for name, on in sorted(feats.items())]
    lines += ["", "[model_providers.mock]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in provider.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return home
