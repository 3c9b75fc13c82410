"""Stable Prodigy-style hashes: signed 32-bit integers derived with hashlib.

Prodigy's own ``_input_hash``/``_task_hash`` are signed 32-bit ints. Ours have the same shape but
are computed from a canonical JSON encoding with SHA-1, so they are identical across runs, Python
versions and machines (``hash()`` is salted per process and must not be used).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from annotator.model import Relation, Span


def stable_int32(payload: Any) -> int:
    """A signed 32-bit integer for a JSON-serialisable ``payload``.

    >>> stable_int32({"text": "a"}) == stable_int32({"text": "a"})
    True
    >>> -2**31 <= stable_int32("x") < 2**31
    True
    """
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha1(encoded.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def input_hash(text: str) -> int:
    """The hash of the input: the text alone."""
    return stable_int32({"text": text})


def task_hash(text: str, spans: Iterable[Span], relations: Iterable[Relation], answer: str | None) -> int:
    """The hash of the task: the input plus its spans, relations and answer (order-insensitive)."""
    return stable_int32(
        {
            "input": input_hash(text),
            "spans": sorted([span.start, span.end, span.label] for span in spans),
            "relations": sorted([*rel.head, *rel.child, rel.label] for rel in relations),
            "answer": answer,
        }
    )
