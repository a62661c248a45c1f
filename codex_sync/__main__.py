"""``python -m codex_sync``: see :mod:`codex_sync.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
