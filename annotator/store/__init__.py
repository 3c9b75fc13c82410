"""The SQLite store: the only package with SQL.

- ``connection.py``: opening a database (file checks, network-filesystem refusal, the SQLite
  header), pragmas (WAL, ``synchronous=FULL``, busy timeout), migrations, ``BEGIN IMMEDIATE``
  write transactions, sqlite errors translated into ``StoreError``;
- ``schema.py``: the migrations, ``PRAGMA user_version`` is the version;
- ``codec.py``: the JSON stored in TEXT columns (tokens, spans, relations, meta);
- ``queries.py``: ``Store``, every read and write callers make;
- ``merge.py``: ``merge_into``, another database brought in through ``Store``'s public methods.
"""

from __future__ import annotations

from .codec import decode_relations, decode_spans, decode_tokens, encode_relations, encode_spans, encode_tokens
from .connection import BUSY_TIMEOUT_MS, DEFAULT_DB, default_db_path
from .merge import MergeReport, merge_into
from .queries import (
    DatasetInfo,
    DecisionRecord,
    ImportCounts,
    SentenceRow,
    Store,
    VerifyProblem,
    VerifyReport,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DEFAULT_DB",
    "DatasetInfo",
    "DecisionRecord",
    "ImportCounts",
    "MergeReport",
    "SentenceRow",
    "Store",
    "VerifyProblem",
    "VerifyReport",
    "decode_relations",
    "decode_spans",
    "decode_tokens",
    "default_db_path",
    "encode_relations",
    "encode_spans",
    "encode_tokens",
    "merge_into",
]
