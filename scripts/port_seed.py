#!/usr/bin/env python3
"""Port the async seed SDK's examples and README/docs snippets to codex_sync.

Downloads ``codex-app-server-sdk`` 0.4.1 (AGPL-3.0) into a cache directory
when it is not there and writes the ported files into a scratch directory:
nothing of the seed enters the repository. The porter itself is
``tests/conformance/porter.py``; the conformance run is
``python -m tests.conformance``.

    python scripts/port_seed.py [--out DIR] [FILE.py ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conformance.porter import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
