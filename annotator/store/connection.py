"""Opening a database: the file checks, the connection and its pragmas, migrations, transactions.

Before SQLite touches a path it is probed: a folder, a missing folder, a file that is not SQLite,
a file we may not write, or a network filesystem (where SQLite's locking is unreliable) is refused
with a ``StoreError`` a user can act on. The connection runs in autocommit mode
(``isolation_level=None``); every write goes through ``write_transaction`` (``BEGIN IMMEDIATE``).
Every ``sqlite3.Error`` reaching a caller is translated into a ``StoreError``.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import StoreError
from .schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_DB = "annotator.db"
BUSY_TIMEOUT_MS = 30_000
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ncpfs", "glusterfs", "ceph", "fuse.s3fs"})


def default_db_path() -> Path:
    """``$ANNOTATOR_DB`` when set, else ``./annotator.db``."""
    return Path(os.environ.get("ANNOTATOR_DB") or DEFAULT_DB)


def translate(exc: sqlite3.Error, path: str) -> StoreError:
    """The ``StoreError`` a user can act on for an error SQLite raised."""
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text or "disk I/O error" in text:
        return StoreError("disk full or I/O error: the database could not be written (nothing was saved)", path)
    if "readonly" in text or "read-only" in text:
        return StoreError("the database is read-only (check the file's permissions)", path)
    if "not a database" in text or "malformed" in text or "file is encrypted" in text:
        return StoreError("not an annotator database (not a SQLite file, or damaged)", path)
    if "locked" in text or "busy" in text:
        return StoreError("the database stayed locked by another process for 30 s", path)
    return StoreError(f"database error: {text}", path)


def open_database(path: str, *, create: bool, readonly: bool) -> sqlite3.Connection:
    """A configured connection to ``path`` whose schema is current (migrated when writable)."""
    if path != ":memory:":
        _probe(path, create=create, readonly=readonly)
    try:
        conn = _connect(path, readonly=readonly, immutable=False)
        try:
            _configure(conn, path, readonly)
        except sqlite3.OperationalError as exc:
            # A WAL database we may not write, in a folder where we may not create its -shm file,
            # cannot be opened read-only the usual way. With no -wal file there is no writer and
            # nothing outside the main file: read it as immutable.
            if not (readonly and "readonly" in str(exc) and not Path(path + "-wal").exists()):
                raise
            conn.close()
            conn = _connect(path, readonly=readonly, immutable=True)
            _configure(conn, path, readonly)
        _migrate(conn, path, readonly)
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    return conn


def _probe(path: str, *, create: bool, readonly: bool) -> None:
    """Refuse, before SQLite tries, a path that cannot be (or should not be) the database."""
    p = Path(path)
    try:
        p.stat()
    except FileNotFoundError:
        pass
    except OSError as exc:  # e.g. a folder on the way that we may not enter
        raise StoreError(f"cannot read the database: {exc.strerror}", path) from None
    if p.is_dir():
        raise StoreError("is a folder, not a database file", path)
    if not p.parent.exists() and str(p.parent) not in ("", "."):
        raise StoreError(f"folder {str(p.parent)!r} does not exist", path)
    if not p.exists():
        if not create or readonly:
            raise StoreError("database not found (import something first)", path)
    else:
        # The file is never opened here: closing any descriptor of the database file drops every
        # POSIX lock this process holds on it, including those of its open connections (an app's
        # worker opens its own Store while the main connection is open). Another process may then
        # take the database for unused, checkpoint it and delete the -wal file under a writer,
        # whose next commits are lost. SQLite reads the header itself ("not a database").
        if not os.access(p, os.R_OK):
            raise StoreError("cannot read the database: Permission denied", path)
        if not readonly and not os.access(p, os.W_OK):
            raise StoreError("the database is read-only (check the file's permissions)", path)
    if not readonly:
        refuse_network_filesystem(p)


def _connect(path: str, *, readonly: bool, immutable: bool) -> sqlite3.Connection:
    timeout = BUSY_TIMEOUT_MS / 1000
    if not readonly:
        return sqlite3.connect(path, check_same_thread=False, timeout=timeout, isolation_level=None)
    uri = f"file:{Path(path).absolute()}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=timeout, isolation_level=None)


def _configure(conn: sqlite3.Connection, path: str, readonly: bool) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly and path != ":memory:":
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"cannot use write-ahead logging here (journal mode {mode}); is this a network filesystem?",
                path,
            )
    conn.execute("PRAGMA synchronous = FULL")


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _migrate(conn: sqlite3.Connection, path: str, readonly: bool) -> None:
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"written by a newer annotator (schema version {version}, this one knows up to "
            f"{SCHEMA_VERSION}); upgrade annotator to open it",
            path,
        )
    if version == SCHEMA_VERSION:
        return
    if readonly:
        raise StoreError(f"schema version {version} needs migrating; open it writable once", path)
    for number in range(version, SCHEMA_VERSION):
        # One transaction per step; BEGIN IMMEDIATE serialises concurrent openers.
        with write_transaction(conn, path):
            if schema_version(conn) == number:  # another process may have migrated meanwhile
                MIGRATIONS[number](conn)
                conn.execute(f"PRAGMA user_version = {number + 1}")


@contextmanager
def write_transaction(conn: sqlite3.Connection, path: str) -> Iterator[None]:
    """One committed write transaction (nested calls join the outer one).

    ``BEGIN IMMEDIATE`` takes the write lock at the start, so a concurrent writer waits for
    the busy timeout instead of failing with "database is locked" on a lock upgrade.
    """
    if conn.in_transaction:
        # Joined to the outer transaction, which commits or rolls back as a whole (no
        # savepoint: a failure anywhere inside an import or merge undoes all of it).
        yield
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    try:
        yield
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, path) from None
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate(exc, path) from None


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem holding ``path`` (from /proc/mounts), or None when unknown."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    target = str(path.absolute().parent.resolve())
    best, best_type = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        if (target == mount_point or target.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    return best_type


def refuse_network_filesystem(path: Path) -> None:
    """SQLite's locking (and WAL's shared memory) is unreliable on network filesystems: refuse.

    ``ANNOTATOR_ALLOW_NETWORK_FS=1`` overrides, for a single annotator who knows nobody else
    writes to the file.
    """
    kind = filesystem_type(path)
    if kind in NETWORK_FILESYSTEMS and os.environ.get("ANNOTATOR_ALLOW_NETWORK_FS") != "1":
        raise StoreError(
            f"the database is on a network filesystem ({kind}), where SQLite locking is unreliable and "
            "decisions could be lost; keep it on a local disk (or set ANNOTATOR_ALLOW_NETWORK_FS=1 if only "
            "one process will ever use it)",
            str(path),
        )

