"""``python -m codex_sync.testing serve``: see :mod:`codex_sync.testing.serve`."""

from __future__ import annotations

import sys

from .serve import main

if __name__ == "__main__":
    sys.exit(main())
