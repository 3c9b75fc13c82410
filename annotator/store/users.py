"""Who may open a dataset in the browser (``annotator user add``, ``annotator serve``).

A user is a name, a role (``annotator`` or ``reviewer``) and a dataset, with the SHA-256 of a
random token. The token itself is shown once, when the user is added, and never stored: a copy of
the database does not give anyone a screen. Tokens carry 192 random bits, so a fast hash is
enough (nobody can try 2**192 guesses; the server also slows down repeated failures).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ..errors import DatasetError
from .queries import Store

ROLES = ("annotator", "reviewer")
"""What a token opens: the annotate screen, or the review screen."""


@dataclass(frozen=True)
class User:
    """Someone who may open a dataset: whose name decisions are stored under, and which screen."""

    name: str
    """The annotator (or reviewer) name decisions are stored under."""
    role: str
    """``annotator`` (the annotate screen) or ``reviewer`` (the review screen)."""
    dataset: str
    """The one dataset the token opens."""
    token_hash: str
    """SHA-256 of the token, hex."""


def new_token() -> str:
    """A fresh random token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    """The hex SHA-256 stored for a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matching_user(users: list[User], token: str) -> User | None:
    """The user whose hash is the token's, comparing with every one in constant time (no early
    exit, ``hmac.compare_digest``), so the time taken says nothing about how close a guess was."""
    wanted = token_hash(token)
    found = None
    for user in users:
        if hmac.compare_digest(user.token_hash, wanted):
            found = user
    return found


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise DatasetError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def add_user(store: Store, dataset: str, name: str, role: str) -> str:
    """Add ``name`` to ``dataset`` with ``role``; returns the token (shown once, stored hashed).
    ``DatasetError`` when the dataset is missing or the name is taken there."""
    _check_role(role)
    info = store.dataset(dataset)
    token = new_token()
    with store.transaction():
        taken = store._one("SELECT 1 FROM users WHERE dataset_id = ? AND name = ?", (info.id, name))
        if taken is not None:
            raise DatasetError(
                f"user {name!r} exists in dataset {dataset!r} (remove them first for a new token)", store.path
            )
        store.conn.execute(
            "INSERT INTO users (dataset_id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (info.id, name, role, token_hash(token), time.time()),
        )
    return token


def remove_user(store: Store, dataset: str, name: str) -> None:
    """Remove ``name`` from ``dataset``: their token opens nothing any more (their decisions stay)."""
    info = store.dataset(dataset)
    with store.transaction():
        gone = store.conn.execute("DELETE FROM users WHERE dataset_id = ? AND name = ?", (info.id, name)).rowcount
    if not gone:
        raise DatasetError(f"no user {name!r} in dataset {dataset!r}", store.path)


def users(store: Store, dataset: str) -> list[User]:
    """The users of ``dataset``, by name."""
    info = store.dataset(dataset)
    rows = store._query(
        "SELECT name, role, token_hash FROM users WHERE dataset_id = ? ORDER BY name", (info.id,)
    )
    return [User(r[0], r[1], dataset, r[2]) for r in rows]
