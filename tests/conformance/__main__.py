"""``python -m tests.conformance``: see ``runner.py``."""

from tests.conformance.runner import main

raise SystemExit(main())
