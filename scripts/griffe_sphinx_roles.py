"""A griffe extension for mkdocstrings: render Sphinx roles (``:class:`X```) as code.

The package's docstrings use Sphinx roles; griffe has no role support, so
``:meth:`chat``` would show literally in the API reference.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:meth|class|func|attr|data|mod|exc|obj|const):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrite roles to plain code spans and RST ``::`` to ``:`` in every docstring."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _ROLE.sub(r"`\1`", obj.docstring.value)
            obj.docstring.value = re.sub(r"(?<=\S)::$", ":", text, flags=re.M)
