"""Where the codex binary under test comes from.

``$CODEX_SYNC_TEST_CODEX`` names one; otherwise the ``openai-codex-cli-bin``
package brings it (with a helper directory holding ``rg``).
"""

from __future__ import annotations

import os
from typing import Optional

__all__ = ["CODEX_ENV_VAR", "codex_binary", "codex_path_dir"]

#: Environment variable naming the codex binary to test against.
CODEX_ENV_VAR = "CODEX_SYNC_TEST_CODEX"

_MISSING = (
    "the codex binary is not available: pip install 'codex-sync[test]' "
    f"(it brings openai-codex-cli-bin, Python >= 3.10), or set {CODEX_ENV_VAR} to the path "
    "of a codex executable"
)


def codex_binary() -> str:
    """Return the path of the codex executable to test against.

    ``$CODEX_SYNC_TEST_CODEX`` if set, else the binary bundled by
    ``openai-codex-cli-bin``, as an absolute path (a relative
    ``$CODEX_SYNC_TEST_CODEX`` is taken from the current directory now, so a
    test that later starts codex in another working directory still finds it).
    Raises ``RuntimeError`` (saying how to install it) if neither exists. Pure
    look-up; any thread.
    """
    override = os.environ.get(CODEX_ENV_VAR)
    if override:
        if not os.path.isfile(override):
            raise RuntimeError(f"{CODEX_ENV_VAR}={override!r} is not a file; {_MISSING}")
        return os.path.abspath(override)
    path = _bundled("bundled_codex_path")
    if path is None or not os.path.isfile(path):
        raise RuntimeError(_MISSING)
    return path


def codex_path_dir() -> Optional[str]:
    """Return the bundled helper directory (holds ``rg``) to prepend to ``PATH``.

    ``None`` when ``$CODEX_SYNC_TEST_CODEX`` is set or ``openai-codex-cli-bin``
    is missing or has none. Never raises; any thread.
    """
    if os.environ.get(CODEX_ENV_VAR):
        return None
    return _bundled("bundled_path_dir")


def _bundled(name: str) -> Optional[str]:
    """``codex_cli_bin.<name>()`` as a string; ``None`` if the package or the file is missing."""
    try:
        import codex_cli_bin  # type: ignore[import-not-found, unused-ignore]

        found = getattr(codex_cli_bin, name)()
    except (ImportError, OSError, AttributeError):
        return None
    return None if found is None else str(found)
