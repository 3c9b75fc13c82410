"""Validation shared by the readers: each check raises ``InputError(problem, path, line)``.

Readers call these on every record so that bad input (a missing text, a span outside the text, an
unknown label id...) becomes one line the user can act on instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from annotator.errors import InputError

INTERNAL_META_PREFIX = "_"
"""Example.meta keys starting with this are ours (e.g. ``_prodigy``), never written as user meta."""


def public_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` without the internal keys (those starting with ``_``), in the original order.

    >>> public_meta({"source": "bbc", "_prodigy": {"_input_hash": 1}})
    {'source': 'bbc'}
    """
    return {key: value for key, value in meta.items() if not str(key).startswith(INTERNAL_META_PREFIX)}


def is_int(value: Any) -> bool:
    """True for JSON integers (``bool`` is an ``int`` subclass in Python but not a number here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def require_record(record: Any, path: Path, line: int | None) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise InputError(f"record is a JSON {_json_type(record)}, expected an object", path, line)
    return record


def require_text(record: Mapping[str, Any], path: Path, line: int | None, key: str = "text") -> str:
    """The record's text: present, a string, and at least one character long."""
    if key not in record or record[key] is None:
        keys = ", ".join(sorted(map(str, record))) or "none"
        raise InputError(f'record without text (no "{key}" key; keys: {keys})', path, line)
    text = record[key]
    if not isinstance(text, str):
        raise InputError(f'"{key}" is a JSON {_json_type(text)}, expected a string', path, line)
    if not text:
        raise InputError("text of 0 characters", path, line)
    return text


def require_offsets(start: Any, end: Any, text: str, path: Path, line: int | None, what: str = "span") -> tuple[int, int]:
    """``(start, end)`` as integers inside ``text`` with ``start < end``."""
    if not is_int(start) or not is_int(end):
        raise InputError(f"{what} offsets {start!r}-{end!r} are not integers", path, line)
    if start < 0 or end > len(text) or start > len(text):
        raise InputError(f"{what} {start}-{end} is out of range (the text has {len(text)} characters)", path, line)
    if end < start:
        raise InputError(f"{what} {start}-{end}: end before start", path, line)
    if end == start:
        raise InputError(f"{what} {start}-{end} is empty (end equals start)", path, line)
    return start, end


def require_label(value: Any, path: Path, line: int | None, label_names: Mapping[Any, str] | None = None, what: str = "span") -> str:
    """A label as a non-empty string; numeric ids are mapped through ``label_names`` when given.

    Without ``label_names`` a numeric id is kept as its decimal string (``12`` -> ``"12"``); with it,
    an id missing from the mapping is an error (the mapping is supposed to be complete).
    """
    if is_int(value):
        if label_names is None:
            return str(value)
        for key in (value, str(value)):
            if key in label_names:
                return str(label_names[key])
        known = ", ".join(str(k) for k in label_names) or "none"
        raise InputError(f"unknown numeric label id {value} (known ids: {known})", path, line)
    if isinstance(value, str) and value.strip():
        if label_names is not None and value in label_names:
            return str(label_names[value])
        return value
    if value is None or value == "":
        raise InputError(f"{what} without label", path, line)
    raise InputError(f"{what} label {value!r} is not a string", path, line)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
