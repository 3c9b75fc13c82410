"""Wording shared by the messages of the core and the CLI (one ``plural`` for every count)."""

from __future__ import annotations


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``1 article``, ``2 articles``; ``plural(1, "entry", "entries")``.

    >>> plural(2, "entry", "entries")
    '2 entries'
    """
    return f"{n} {singular if n == 1 else (plural_form or singular + 's')}"
