"""What a turn's input may be: text, or a list of input items (text, images, skills, mentions)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Dict, List, Union

InputItem = Dict[str, Any]
InputArg = Union[str, Sequence[Mapping[str, Any]]]

INPUT_TYPES = frozenset({"text", "image", "localImage", "audio", "localAudio", "skill", "mention"})


def text(value: str) -> InputItem:
    """A text input item."""
    return {"type": "text", "text": value}


def image_url(url: str, detail: Union[str, None] = None) -> InputItem:
    """An image given by URL. Today's server accepts only ``data:`` URLs (base64-inlined images)."""
    item: InputItem = {"type": "image", "url": url}
    if detail is not None:
        item["detail"] = detail
    return item


def local_image(path: Union[str, os.PathLike[str]]) -> InputItem:
    """An image file on the server's machine."""
    return {"type": "localImage", "path": os.fspath(path)}


def skill(name: str, path: str) -> InputItem:
    """A skill to use in this turn."""
    return {"type": "skill", "name": name, "path": path}


def mention(name: str, path: str) -> InputItem:
    """A mention (an app or plugin) to use in this turn."""
    return {"type": "mention", "name": name, "path": path}


def to_input_items(value: Any, name: str) -> List[InputItem]:
    """Check ``value`` and turn it into the ``input`` list of ``turn/start``/``turn/steer``.

    A string becomes one text item; a list must hold input-item dicts with a
    known ``type``. Raises :class:`TypeError`/:class:`ValueError` naming ``name``.
    """
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"{name} must not be empty")
        return [text(value)]
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{name} must not be an empty list")
        items: List[InputItem] = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                items.append(text(item))
                continue
            if not isinstance(item, Mapping):
                raise TypeError(f"{name}[{index}] must be a string or an input-item dict, not {type(item).__name__}")
            kind = item.get("type")
            if kind not in INPUT_TYPES:
                raise ValueError(
                    f"{name}[{index}] has type {kind!r}; expected one of {', '.join(sorted(INPUT_TYPES))}"
                )
            items.append(dict(item))
        return items
    raise TypeError(f"{name} must be a string or a list of input items, not {type(value).__name__}")
