"""The store's queries: ``Store``, the one object callers use for every read and write.

``Store(path)`` opens the database through ``connection.py`` (file checks, pragmas, migrations);
values are stored through ``codec.py``. Decisions are append-only: an edit or an undo adds a row
(``add_decision`` for the screens, ``add_imported_decisions`` for imports and merges); triggers
refuse UPDATE and DELETE on them.

A ``Store`` is used from one thread at a time; a worker thread opens its own ``Store`` on the same
path (SQLite connections are cheap, and WAL lets readers run beside the writer).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import AnnotationError, DatasetError, StoreError
from ..model import (
    ANSWERS,
    Article,
    Decision,
    Relation,
    Sentence,
    Span,
    Suggestion,
    Token,
    VersionRow,
    overlapping_pairs,
    refinement_problem,
    relation_problem,
    span_problem,
)
from .codec import (
    count_tokens,
    decode_relation_tuples,
    decode_relations,
    decode_span_tuples,
    decode_spans,
    decode_split,
    decode_tokens,
    dumps,
    encode_relations,
    encode_spans,
    encode_split,
    encode_tokens,
)
from .connection import BUSY_TIMEOUT_MS, default_db_path, open_database, schema_version, translate, write_transaction

_WORD_RUN = re.compile(r"[A-Za-z0-9]+")
"""Letters and digits: what the search index's ``unicode61`` tokenizer keeps together (ASCII)."""


CLAIM_SECONDS = 15 * 60.0
"""How long a claim (the sentence routing handed an annotator, see ``Store.claim``) keeps others
away from it: a screen that died without quitting frees its sentence after this."""

_TAKEN_BY_OTHERS = (
    "(SELECT COUNT(*) FROM (SELECT c2.annotator FROM current c2 WHERE c2.sentence_id = s.id"
    " AND c2.gold = 0 AND c2.answer IS NOT NULL UNION SELECT k.annotator FROM claims k"
    " WHERE k.sentence_id = s.id AND k.annotator != ? AND k.claimed_at > ?))"
)
"""How many annotators decided sentence ``s`` or hold a live claim on it, the asking one's claim
left out (parameters: the asking annotator, the oldest live claim time). A claim on a sentence its
annotator decided counts once (UNION)."""


def _claims_since(now: float | None) -> float:
    """The time after which a claim is live."""
    return (time.time() if now is None else now) - CLAIM_SECONDS


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset and its settings (``overlap`` etc.)."""

    id: int
    name: str
    created_at: float
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SentenceRow:
    """A sentence together with what the UI needs about its article."""

    sentence: Sentence
    article_title: str


@dataclass(frozen=True)
class SuggestionSource:
    """A suggestion source of a dataset: registered by ``annotator suggest`` (``kind`` "model"),
    or found in the stored suggestions only (``kind`` "import": pre-annotation on import or in the
    screen, complete by construction)."""

    name: str
    kind: str
    model: str
    settings: dict[str, Any]
    created_at: float | None
    completed_at: float | None
    sentences: int
    """Sentences with a suggestion row of this source."""

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class VerifyProblem:
    """One problem ``Store.verify`` found: its kind, the sentence position (when known), a message."""

    kind: str
    position: int | None
    message: str


@dataclass
class VerifyReport:
    """What ``Store.verify`` checked and found."""

    dataset: str
    integrity: list[str] = field(default_factory=list)
    """``PRAGMA integrity_check`` lines (``["ok"]`` when healthy)."""
    decisions: int = 0
    spans: int = 0
    relations: int = 0
    current_rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[VerifyProblem] = field(default_factory=list)

    @property
    def integrity_ok(self) -> bool:
        return self.integrity == ["ok"]

    @property
    def damaged(self) -> bool:
        """The file failed SQLite's integrity check or its tables could not be read: nothing else was checked."""
        return not self.integrity_ok

    @property
    def ok(self) -> bool:
        return self.integrity_ok and not self.counts


@dataclass
class ImportCounts:
    """What one import added (or found already there)."""

    articles: int = 0
    sentences: int = 0
    suggestions: int = 0
    decisions: int = 0
    skipped_articles: int = 0
    duplicate_articles: int = 0
    """Articles skipped because the same file held them before (``skipped_articles``: already in the dataset)."""
    first_sentence_id: int | None = None
    """Id of the first sentence ``add_article`` created (the others follow without gaps)."""
    first_position: int | None = None

    def add(self, other: "ImportCounts") -> None:
        self.articles += other.articles
        self.sentences += other.sentences
        self.suggestions += other.suggestions
        self.decisions += other.decisions
        self.skipped_articles += other.skipped_articles
        self.duplicate_articles += other.duplicate_articles

def new_uid() -> str:
    """A fresh decision uid (``uuid4`` hex). ``uuid`` is imported here, on the first decision: it
    pulls ``platform``, ~3 ms that opening a store for reading need not pay."""
    import uuid

    return uuid.uuid4().hex


def clean_annotation(
    spans: Iterable[Span], relations: Iterable[Relation]
) -> tuple[tuple[Span, ...], tuple[Relation, ...]]:
    """Spans without their suggestion ``source``, in order; relations once each, in order (as stored)."""
    return (
        tuple(sorted(Span(s.start, s.end, s.label, s.token_start, s.token_end) for s in spans)),
        tuple(sorted(set(relations))),
    )


@dataclass(frozen=True)
class DecisionRecord:
    """A decision to append with its own ``uid`` and time: one from an annotated file or another
    database (``Store.add_imported_decisions``), or one made now (``add_decision`` builds it).

    Spans and relations are kept cleaned as they are stored (``clean_annotation``). ``tokens`` are
    the decision's own split tokens (``None``, or the sentence's own tokens: the sentence's).
    ``supersedes_uid`` names the decision it replaced where it was made (a merge); when that one
    is not here, the annotator's current decision for the sentence is the one it supersedes.
    """

    sentence: Sentence
    annotator: str
    answer: str | None
    uid: str
    created_at: float
    spans: tuple[Span, ...] = ()
    relations: tuple[Relation, ...] = ()
    session: str = ""
    seconds: float = 0.0
    kind: str = "decision"
    gold: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)
    supersedes_uid: str | None = None
    tokens: tuple[Token, ...] | None = None

    def __post_init__(self) -> None:
        spans, relations = clean_annotation(self.spans, self.relations)
        object.__setattr__(self, "spans", spans)
        object.__setattr__(self, "relations", relations)
        if self.tokens is not None:
            tokens = tuple(self.tokens)
            same = len(tokens) == len(self.sentence.tokens) and all(
                (a.start, a.end) == (b.start, b.end) for a, b in zip(tokens, self.sentence.tokens)
            )
            object.__setattr__(self, "tokens", None if same else tokens)


class Store:
    """An annotator database. Create with ``Store(path)``; close with ``close()`` or ``with``."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True, readonly: bool = False):
        self.path = str(path if path is not None else default_db_path())
        self.readonly = readonly
        self._dataset_ids: dict[str, int] = {}
        self.conn = open_database(self.path, create=create, readonly=readonly)

    def schema_version(self) -> int:
        return schema_version(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """One committed write transaction, ``BEGIN IMMEDIATE`` (nested calls join the outer one).

        A transaction that added sentences indexes them for search at its end, in the same
        transaction (one ``INSERT … SELECT``, see ``index_new_sentences``).
        """
        outer = not self.conn.in_transaction
        with write_transaction(self.conn, self.path):
            yield self
            if outer and self._unindexed:
                self.index_new_sentences()

    @contextmanager
    def bulk_transaction(self) -> Iterator["Store"]:
        """``transaction`` for a bulk write (an import's file), with ``temp_store = MEMORY``.

        SQLite keeps a statement journal (the pages a statement changes, to undo that statement
        alone) in memory up to 64 KiB, then in a temporary file; once that file exists every later
        statement of the transaction writes its journal there, a few system calls per row
        inserted. In memory it costs no system call. The journal only undoes a failed statement
        inside the transaction; what a crash needs is the WAL, unchanged, so this is as safe. The
        setting can change only outside a transaction: joining an outer one leaves it as it is.
        """
        if self.conn.in_transaction:
            with self.transaction():
                yield self
            return
        previous = self.conn.execute("PRAGMA temp_store").fetchone()[0]
        self.conn.execute("PRAGMA temp_store = MEMORY")
        try:
            with self.transaction():
                yield self
        finally:
            self.conn.execute(f"PRAGMA temp_store = {int(previous)}")

    @contextmanager
    def _transaction_without_fsync(self) -> Iterator["Store"]:
        """A write transaction committed with ``synchronous = NORMAL``: in WAL mode the commit is
        written to the log but not fsynced, so it survives the process being killed (the
        operating system has it), not a power cut. For drafts, written on every edit key, where
        an fsync (~5-10 ms) would delay the screen; decisions keep ``FULL``. Joins an outer
        transaction unchanged."""
        if self.conn.in_transaction:
            with self.transaction():
                yield self
            return
        self.conn.execute("PRAGMA synchronous = NORMAL")
        try:
            with self.transaction():
                yield self
        finally:
            self.conn.execute("PRAGMA synchronous = FULL")

    _unindexed = False
    """Sentences were added in this connection's transaction and are not in the search index yet."""

    def index_new_sentences(self) -> int:
        """Add every sentence above the search index's watermark to the index (one statement) and
        move the watermark to the highest sentence id; the number of sentences indexed.

        Runs inside the caller's transaction when there is one. Rows at or below the watermark are
        indexed already (or by schema v9's trigger for a reused id), so none is indexed twice.
        """
        with self.transaction():
            done = self.conn.execute("SELECT indexed_to FROM sentence_search_state").fetchone()[0]
            top = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM sentences").fetchone()[0]
            added = 0
            if top > done:
                added = self.conn.execute(
                    "INSERT INTO sentence_search (rowid, text) SELECT id, text FROM sentences WHERE id > ?", (done,)
                ).rowcount
                self.conn.execute("UPDATE sentence_search_state SET indexed_to = ?", (top,))
            self._unindexed = False
        return added

    def _search_watermark(self) -> tuple[int, bool]:
        """The search index's watermark after indexing what is missing, and whether sentences above
        it are left (a read-only store, or a writer held the lock): search then scans those too."""
        done = self._one("SELECT indexed_to FROM sentence_search_state")[0]
        top = self._one("SELECT COALESCE(MAX(id), 0) FROM sentences")[0]
        if top <= done:
            return done, False
        if not self.readonly and not self.conn.in_transaction:
            self.conn.execute("PRAGMA busy_timeout = 200")  # another writer: scan the rows instead of waiting
            try:
                self.index_new_sentences()
                return self._one("SELECT indexed_to FROM sentence_search_state")[0], False
            except StoreError:
                pass
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return done, True

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    # -- datasets ------------------------------------------------------------------------------

    def ensure_dataset(self, name: str, settings: dict[str, Any] | None = None) -> DatasetInfo:
        """The dataset called ``name``, created when missing."""
        info = self.find_dataset(name)
        if info is not None:
            return info
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO datasets (name, created_at, settings) VALUES (?, ?, ?)",
                (name, time.time(), dumps(settings or {})),
            )
        info = self.find_dataset(name)
        assert info is not None
        return info

    def find_dataset(self, name: str) -> DatasetInfo | None:
        row = self._one("SELECT id, name, created_at, settings FROM datasets WHERE name = ?", (name,))
        if row is None:
            return None
        self._dataset_ids[name] = row[0]
        return DatasetInfo(row[0], row[1], row[2], json.loads(row[3]))

    def dataset(self, name: str) -> DatasetInfo:
        """The dataset called ``name``; ``DatasetError`` naming the known ones when missing."""
        info = self.find_dataset(name)
        if info is None:
            known = ", ".join(d.name for d in self.datasets()) or "none yet"
            raise DatasetError(f"no dataset {name!r} (datasets: {known})", self.path)
        return info

    def _dataset_id(self, name: str) -> int:
        if name not in self._dataset_ids:
            self.dataset(name)
        return self._dataset_ids[name]

    def datasets(self) -> list[DatasetInfo]:
        rows = self._query("SELECT id, name, created_at, settings FROM datasets ORDER BY name")
        return [DatasetInfo(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def set_dataset_settings(self, name: str, settings: dict[str, Any]) -> DatasetInfo:
        """Merge ``settings`` into the dataset's settings (the one mutable, non-history field)."""
        info = self.dataset(name)
        merged = {**info.settings, **settings}
        with self.transaction():
            self.conn.execute("UPDATE datasets SET settings = ? WHERE id = ?", (dumps(merged), info.id))
        return self.dataset(name)

    # -- articles and sentences ----------------------------------------------------------------

    def has_article(self, dataset: str, content_hash: str) -> bool:
        return self.article_id_by_hash(dataset, content_hash) is not None

    def article_id_by_hash(self, dataset: str, content_hash: str) -> int | None:
        """Id of the dataset's article with this content hash, or None."""
        row = self._one(
            "SELECT id FROM articles WHERE dataset_id = ? AND content_hash = ?", (self._dataset_id(dataset), content_hash)
        )
        return None if row is None else int(row[0])

    def add_article(
        self,
        dataset: str,
        *,
        title: str,
        text: str,
        content_hash: str,
        source: str,
        meta: dict[str, Any],
        sentences: Sequence[tuple[int, int, Sequence[Token]]],
        suggestions: Sequence[tuple[str, Sequence[Span], Sequence[Relation]] | None] | None = None,
    ) -> tuple[int, ImportCounts]:
        """Add an article with its sentences (``(start, end, tokens)``) and optional suggestions.

        Idempotent: an article whose content hash is already in the dataset adds nothing and
        returns its id. Runs inside the caller's transaction when there is one.
        """
        dataset_id = self._dataset_id(dataset)
        counts = ImportCounts()
        with self.transaction():
            row = self.conn.execute(
                "SELECT id FROM articles WHERE dataset_id = ? AND content_hash = ?", (dataset_id, content_hash)
            ).fetchone()
            if row is not None:
                counts.skipped_articles = 1
                return row[0], counts
            now = time.time()
            cur = self.conn.execute(
                "INSERT INTO articles (dataset_id, source, title, text, content_hash, meta, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dataset_id, source, title, text, content_hash, dumps(meta), now),
            )
            article_id = int(cur.lastrowid)
            next_position = self.conn.execute(
                "SELECT COALESCE(MAX(position), 0) FROM sentences WHERE dataset_id = ?", (dataset_id,)
            ).fetchone()[0]
            rows = []
            for i, (start, end, tokens) in enumerate(sentences):
                rows.append(
                    (dataset_id, article_id, i, next_position + i + 1, start, end, text[start:end], encode_tokens(tokens))
                )
            self.conn.executemany(
                'INSERT INTO sentences (dataset_id, article_id, idx, position, start, "end", text, tokens)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._unindexed = True
            counts.articles = 1
            counts.sentences = len(rows)
            counts.first_position = next_position + 1
            first_id = self.conn.execute(
                "SELECT id FROM sentences WHERE article_id = ? AND idx = 0", (article_id,)
            ).fetchone()
            counts.first_sentence_id = first_id[0] if first_id else None
            if suggestions:
                if first_id is not None:
                    sugg_rows = []
                    for i, item in enumerate(suggestions):
                        if item is None:
                            continue
                        source, spans, relations = item
                        sugg_rows.append((
                            first_id[0] + i, source, encode_spans(spans) if spans else "[]",
                            encode_relations(relations) if relations else "[]", now,
                        ))
                        counts.suggestions += len(spans)
                    self.conn.executemany(
                        "INSERT OR REPLACE INTO suggestions (sentence_id, source, spans, relations, created_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        sugg_rows,
                    )
        return article_id, counts

    def article(self, article_id: int) -> Article:
        row = self._one(
            "SELECT a.id, d.name, a.title, a.text, a.content_hash, a.source, a.meta FROM articles a"
            " JOIN datasets d ON d.id = a.dataset_id WHERE a.id = ?",
            (article_id,),
        )
        if row is None:
            raise DatasetError(f"no article {article_id}", self.path)
        return Article(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]))

    def articles(self, dataset: str) -> Iterator[Article]:
        """Every article of the dataset in import order (streamed)."""
        dataset_id = self._dataset_id(dataset)
        cur = self.conn.execute(
            "SELECT a.id, a.title, a.text, a.content_hash, a.source, a.meta FROM articles a"
            " WHERE a.dataset_id = ? ORDER BY a.id",
            (dataset_id,),
        )
        for row in cur:
            yield Article(row[0], dataset, row[1], row[2], row[3], row[4], json.loads(row[5]))

    _SENTENCE_COLUMNS = 's.id, s.article_id, s.idx, s.position, s.start, s."end", s.text, s.tokens'

    @staticmethod
    def _sentence(row: Sequence[Any]) -> Sentence:
        return Sentence(row[0], row[1], row[2], row[3], row[4], row[5], row[6], decode_tokens(row[6], row[7]))

    def sentence_count(self, dataset: str) -> int:
        """Number of sentences (positions are 1..N without gaps, so this is an index lookup)."""
        dataset_id = self._dataset_id(dataset)
        return int(self._one("SELECT COALESCE(MAX(position), 0) FROM sentences WHERE dataset_id = ?", (dataset_id,))[0])

    def sentence_at(self, dataset: str, position: int) -> SentenceRow | None:
        dataset_id = self._dataset_id(dataset)
        row = self._one(
            f"SELECT {self._SENTENCE_COLUMNS}, a.title FROM sentences s JOIN articles a ON a.id = s.article_id"
            " WHERE s.dataset_id = ? AND s.position = ?",
            (dataset_id, position),
        )
        if row is None:
            return None
        return SentenceRow(self._sentence(row), row[8])

    def sentence(self, sentence_id: int) -> Sentence:
        row = self._one(f"SELECT {self._SENTENCE_COLUMNS} FROM sentences s WHERE s.id = ?", (sentence_id,))
        if row is None:
            raise DatasetError(f"no sentence {sentence_id}", self.path)
        return self._sentence(row)

    def article_sentences(self, article_id: int) -> list[Sentence]:
        rows = self._query(
            f"SELECT {self._SENTENCE_COLUMNS} FROM sentences s WHERE s.article_id = ? ORDER BY s.idx", (article_id,)
        )
        return [self._sentence(r) for r in rows]

    def iter_sentences(self, dataset: str) -> Iterator[Sentence]:
        """Every sentence of the dataset in position order (streamed, one row at a time)."""
        dataset_id = self._dataset_id(dataset)
        cur = self.conn.execute(
            f"SELECT {self._SENTENCE_COLUMNS} FROM sentences s WHERE s.dataset_id = ? ORDER BY s.position",
            (dataset_id,),
        )
        for row in cur:
            yield self._sentence(row)

    SEARCH_WINDOW = 2000
    """Sentences scanned in order before the word index is asked (a frequent needle is found there)."""
    SEARCH_TERMS = 500
    """Most indexed words a part-of-a-word needle may stand for before search scans instead."""

    def search(self, dataset: str, needle: str, after_position: int = 0, backwards: bool = False) -> int | None:
        """Position of the next sentence (wrapping around) whose text contains ``needle`` (case-insensitive).

        The answer is that of a scan with SQLite's ``LIKE`` (ASCII letters case-insensitive), found
        without reading every sentence: the next ``SEARCH_WINDOW`` sentences are scanned, then the
        word index ``sentence_search`` names the sentences holding the needle's words (or, for a
        needle inside a word, the indexed words containing it), and their text is checked by ``LIKE``.
        Sentences not indexed yet are indexed first (or, when this store cannot write now, scanned).
        """
        dataset_id = self._dataset_id(dataset)
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        watermark, unindexed = self._search_watermark()
        expression: list[str | None] = []  # worked out once, when the window has no match
        found = self._search_from(dataset_id, pattern, needle, after_position, backwards, expression)
        if unindexed:
            found = self._nearer(found, self._scan_above(dataset_id, pattern, watermark, after_position, backwards), backwards)
        if found is None:  # wrap around: the first match from the other end (it may be the current sentence)
            found = self._search_from(dataset_id, pattern, needle, None, backwards, expression)
            if unindexed:
                found = self._nearer(found, self._scan_above(dataset_id, pattern, watermark, None, backwards), backwards)
        return found

    @staticmethod
    def _nearer(a: int | None, b: int | None, backwards: bool) -> int | None:
        if a is None or b is None:
            return b if a is None else a
        return max(a, b) if backwards else min(a, b)

    def _scan_above(self, dataset_id: int, pattern: str, watermark: int, after: int | None, backwards: bool) -> int | None:
        """The next match among the sentences not in the search index (ids above its watermark)."""
        order, compare = ("DESC", "<") if backwards else ("ASC", ">")
        bound, params = ("", []) if after is None else (f" AND position {compare} ?", [after])
        row = self._one(
            f"SELECT position FROM sentences WHERE id > ? AND dataset_id = ?{bound}"
            f" AND text LIKE ? ESCAPE '\\' ORDER BY position {order} LIMIT 1",
            (watermark, dataset_id, *params, pattern),
        )
        return None if row is None else int(row[0])

    def _search_from(
        self, dataset_id: int, pattern: str, needle: str, after: int | None, backwards: bool, expression: list[str | None]
    ) -> int | None:
        order, compare = ("DESC", "<") if backwards else ("ASC", ">")
        bound, params = ("", []) if after is None else (f" AND position {compare} ?", [after])
        row = self._one(
            f"SELECT position FROM (SELECT position, text FROM sentences WHERE dataset_id = ?{bound}"
            f" ORDER BY position {order} LIMIT ?) WHERE text LIKE ? ESCAPE '\\' ORDER BY position {order} LIMIT 1",
            (dataset_id, *params, self.SEARCH_WINDOW, pattern),
        )
        if row is not None:
            return int(row[0])
        if not expression:
            expression.append(self._search_expression(needle))
        match = expression[0]
        if match == "":
            return None  # no indexed word can hold the needle
        if match is None:  # the index cannot narrow this needle down: scan
            row = self._one(
                f"SELECT position FROM sentences WHERE dataset_id = ?{bound}"
                f" AND text LIKE ? ESCAPE '\\' ORDER BY position {order} LIMIT 1",
                (dataset_id, *params, pattern),
            )
        else:
            row = self._one(
                "SELECT s.position FROM sentence_search f CROSS JOIN sentences s ON s.id = f.rowid"
                f" WHERE sentence_search MATCH ? AND s.dataset_id = ?{bound.replace('position', 's.position')}"
                f" AND s.text LIKE ? ESCAPE '\\' ORDER BY s.position {order} LIMIT 1",
                (match, dataset_id, *params, pattern),
            )
        return None if row is None else int(row[0])

    def _search_expression(self, needle: str) -> str | None:
        """An FTS5 query for the sentences that may contain ``needle``; ``""`` when none can; ``None``
        when the index cannot tell (a needle with no letter or digit, or with non-ASCII characters,
        whose case folding SQLite's ``LIKE`` and the index do differently)."""
        if not needle.isascii():
            return None
        runs = [(m.start(), m.end()) for m in _WORD_RUN.finditer(needle)]
        if not runs:
            return None
        words = []
        for a, b in runs:
            run = needle[a:b].lower()
            if a > 0 and b < len(needle):
                words.append(f'"{run}"')  # a whole word of the text
            elif a > 0:
                words.append(f'"{run}"*')  # the start of a word
        if words:
            return " AND ".join(words)
        a, b = max(runs, key=lambda r: r[1] - r[0])  # part of a word: the words containing it
        run = needle[a:b].lower()
        terms = [term for term in self._indexed_words() if run in term]
        if len(terms) > self.SEARCH_TERMS:
            return None
        return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)

    _words_cache: tuple[int, list[str]] | None = None

    def _indexed_words(self) -> list[str]:
        """The distinct words of the search index (case folded), read once per connection and again
        after sentences were added. Reading them walks the whole index (seconds for a million
        sentences); a word whose sentences were removed may stay listed, which only adds candidates."""
        newest = self._one("SELECT indexed_to FROM sentence_search_state")[0]
        if self._words_cache is None or self._words_cache[0] != newest:
            self._words_cache = (newest, [r[0] for r in self._query("SELECT term FROM sentence_search_terms")])
        return self._words_cache[1]

    # -- suggestions ---------------------------------------------------------------------------

    def suggestions(self, sentence_id: int) -> list[Suggestion]:
        rows = self._query(
            "SELECT source, spans, relations FROM suggestions WHERE sentence_id = ? ORDER BY id", (sentence_id,)
        )
        return [Suggestion(sentence_id, r[0], decode_spans(r[1]), decode_relations(r[2])) for r in rows]

    def add_suggestions(self, items: Iterable[Suggestion], *, replace: bool = True) -> int:
        """Store suggestions; returns how many rows were written.

        ``replace`` (the default) replaces an earlier run of the same source for a sentence;
        ``replace=False`` (a merge) keeps what is there and adds only what is missing.
        """
        return self.add_suggestion_rows(((s.sentence_id, s.source, s.spans, s.relations) for s in items), replace=replace)

    def add_suggestion_rows(
        self, items: Iterable[tuple[int, str, Sequence[Span], Sequence[Relation]]], *, replace: bool = True
    ) -> int:
        """``add_suggestions`` of ``(sentence_id, source, spans, relations)`` tuples: an import's
        row per sentence without a ``Suggestion`` object each (~2.5 µs apiece)."""
        now = time.time()
        rows = [
            (sentence_id, source, encode_spans(spans) if spans else "[]",
             encode_relations(relations) if relations else "[]", now)
            for sentence_id, source, spans, relations in items
        ]
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self.transaction():
            cur = self.conn.executemany(
                f"{verb} INTO suggestions (sentence_id, source, spans, relations, created_at) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows) if replace else max(cur.rowcount, 0)

    def positions_without_suggestions(self, dataset: str, start_position: int, count: int) -> list[Sentence]:
        """Up to ``count`` sentences from ``start_position`` on that have no suggestions yet."""
        dataset_id = self._dataset_id(dataset)
        rows = self._query(
            f"SELECT {self._SENTENCE_COLUMNS} FROM sentences s WHERE s.dataset_id = ? AND s.position >= ?"
            " AND s.position < ? AND NOT EXISTS (SELECT 1 FROM suggestions g WHERE g.sentence_id = s.id)"
            " ORDER BY s.position",
            (dataset_id, start_position, start_position + count),
        )
        return [self._sentence(r) for r in rows]

    def suggestion(self, sentence_id: int, source: str) -> Suggestion | None:
        """The suggestion row of one source for a sentence, or None."""
        row = self._one(
            "SELECT source, spans, relations FROM suggestions WHERE sentence_id = ? AND source = ?", (sentence_id, source)
        )
        return None if row is None else Suggestion(sentence_id, row[0], decode_spans(row[1]), decode_relations(row[2]))

    def suggestion_sources(self, dataset: str) -> list[SuggestionSource]:
        """The registered sources, then those found only in the stored suggestions (by name)."""
        dataset_id = self._dataset_id(dataset)
        counts = {
            r[0]: r[1]
            for r in self._query(
                "SELECT g.source, COUNT(*) FROM suggestions g JOIN sentences s ON s.id = g.sentence_id"
                " WHERE s.dataset_id = ? GROUP BY g.source",
                (dataset_id,),
            )
        }
        registered = [
            SuggestionSource(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], counts.get(r[0], 0))
            for r in self._query(
                "SELECT name, kind, model, settings, created_at, completed_at FROM suggestion_sources"
                " WHERE dataset_id = ? ORDER BY created_at, id",
                (dataset_id,),
            )
        ]
        names = {s.name for s in registered}
        found = [SuggestionSource(name, "import", "", {}, None, 0.0, n) for name, n in sorted(counts.items()) if name not in names]
        return registered + found

    def register_suggestion_source(self, dataset: str, name: str, *, kind: str, model: str, settings: dict[str, Any]) -> None:
        """Register a source (incomplete) unless it is registered already (a resumed run)."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO suggestion_sources (dataset_id, name, kind, model, settings, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self._dataset_id(dataset), name, kind, model, dumps(settings), time.time()),
            )

    def adopt_suggestion_source(self, dataset: str, source: SuggestionSource) -> bool:
        """Register a source another database registered (``merge``), with its kind, model,
        settings and times, unless one of that name is registered here; True when it was added.
        A source found only in stored suggestions (no registry row there) is not registered."""
        if source.created_at is None:
            return False
        with self.transaction():
            return self.conn.execute(
                "INSERT OR IGNORE INTO suggestion_sources (dataset_id, name, kind, model, settings, created_at,"
                " completed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._dataset_id(dataset), source.name, source.kind, source.model, dumps(source.settings),
                 source.created_at, source.completed_at),
            ).rowcount == 1

    def complete_suggestion_source(self, dataset: str, name: str, settings: dict[str, Any]) -> None:
        """Mark a registered source complete (its run reached the end), with the settings of that run."""
        with self.transaction():
            self.conn.execute(
                "UPDATE suggestion_sources SET completed_at = ?, settings = ? WHERE dataset_id = ? AND name = ?",
                (time.time(), dumps(settings), self._dataset_id(dataset), name),
            )

    def sentences_lacking_source(
        self, dataset: str, source: str, *, after_position: int = 0, limit: int = 256, undecided_only: bool = True
    ) -> list[Sentence]:
        """Up to ``limit`` sentences after ``after_position`` (position order) with no row of ``source``;
        with ``undecided_only``, only those nobody decided (no current answer, gold or not)."""
        undecided = (
            " AND NOT EXISTS (SELECT 1 FROM current c WHERE c.sentence_id = s.id AND c.answer IS NOT NULL)"
            if undecided_only else ""
        )
        rows = self._query(
            f"SELECT {self._SENTENCE_COLUMNS} FROM sentences s WHERE s.dataset_id = ? AND s.position > ?"
            " AND NOT EXISTS (SELECT 1 FROM suggestions g WHERE g.sentence_id = s.id AND g.source = ?)"
            f"{undecided} ORDER BY s.position LIMIT ?",
            (self._dataset_id(dataset), after_position, source, limit),
        )
        return [self._sentence(r) for r in rows]

    def count_sentences_lacking_source(self, dataset: str, source: str, *, undecided_only: bool = True) -> int:
        """How many sentences :meth:`sentences_lacking_source` would go through."""
        undecided = (
            " AND NOT EXISTS (SELECT 1 FROM current c WHERE c.sentence_id = s.id AND c.answer IS NOT NULL)"
            if undecided_only else ""
        )
        return int(self._one(
            "SELECT COUNT(*) FROM sentences s WHERE s.dataset_id = ?"
            f" AND NOT EXISTS (SELECT 1 FROM suggestions g WHERE g.sentence_id = s.id AND g.source = ?){undecided}",
            (self._dataset_id(dataset), source),
        )[0])

    # -- decisions -----------------------------------------------------------------------------

    _DECISION_COLUMNS = (
        "d.id, d.uid, d.sentence_id, d.annotator, d.session, d.answer, d.spans, d.relations,"
        " d.created_at, d.seconds, d.supersedes, d.kind, d.gold, d.meta, d.split_at,"
        # the sentence's text and tokens only for a decision that splits them (a lookup by key)
        " CASE WHEN d.split_at IS NULL THEN NULL ELSE (SELECT x.text FROM sentences x WHERE x.id = d.sentence_id) END,"
        " CASE WHEN d.split_at IS NULL THEN NULL ELSE (SELECT x.tokens FROM sentences x WHERE x.id = d.sentence_id) END"
    )

    @staticmethod
    def _decision(row: Sequence[Any], decoded: dict[str, Any] | None = None) -> Decision:
        """A decision from its row; with ``decoded`` (JSON text -> value, for one sentence), annotators
        who agree share one decoded tuple of spans (and of relations) instead of decoding it again."""
        if decoded is None:
            spans, relations = decode_spans(row[6]), decode_relations(row[7])
        else:
            spans = _decoded(decoded, row[6], decode_spans)
            relations = _decoded(decoded, row[7], decode_relations)
        return Decision(
            id=row[0],
            uid=row[1],
            sentence_id=row[2],
            annotator=row[3],
            session=row[4],
            answer=row[5],
            spans=spans,
            relations=relations,
            created_at=row[8],
            seconds=row[9],
            supersedes=row[10],
            kind=row[11],
            gold=bool(row[12]),
            meta=json.loads(row[13]),
            tokens=None if row[14] is None else decode_split(row[15], decode_tokens(row[15], row[16]), row[14]),
        )

    def validate_annotation(
        self, sentence: Sentence, spans: Sequence[Span], relations: Sequence[Relation], allow_overlaps: bool = True,
        tokens: Sequence[Token] | None = None,
    ) -> None:
        """Raise ``AnnotationError`` when a span is off the tokens (``tokens``, a split of the
        sentence's, else the sentence's own), the split is not a split of the sentence's tokens, or
        a relation dangles."""
        if tokens is not None:
            problem = refinement_problem(sentence.text, sentence.tokens, tokens)
            if problem:
                raise AnnotationError(f"sentence {sentence.position}: {problem}")
        else:
            tokens = sentence.tokens
        for span in spans:
            problem = span_problem(span, sentence.text, tokens)
            if problem:
                raise AnnotationError(f"sentence {sentence.position}: {problem}")
        if not allow_overlaps:
            pairs = overlapping_pairs(spans)
            if pairs:
                a, b = pairs[0]
                raise AnnotationError(
                    f"sentence {sentence.position}: spans {a.start}-{a.end} {a.label} and {b.start}-{b.end} "
                    f"{b.label} overlap, and the scheme does not allow overlaps"
                )
        for relation in relations:
            problem = relation_problem(relation, spans)
            if problem:
                raise AnnotationError(f"sentence {sentence.position}: {problem}")

    def add_decision(
        self,
        sentence: Sentence,
        *,
        annotator: str,
        answer: str | None,
        spans: Sequence[Span] = (),
        relations: Sequence[Relation] = (),
        session: str = "",
        seconds: float = 0.0,
        gold: bool = False,
        meta: dict[str, Any] | None = None,
        allow_overlaps: bool = True,
        tokens: Sequence[Token] | None = None,
    ) -> Decision:
        """Append a decision made now (one committed transaction) and return it with its id.

        The annotator's previous current decision for the sentence (if any) is recorded in
        ``supersedes``; a saved (not gold) decision ends the sentence's draft. Spans are stored
        without their suggestion ``source`` and in order. ``tokens``: the decision's own tokens
        when it splits some of the sentence's (``model.split_tokens``; spans' token indices refer
        to them), checked to be a split of the sentence's tokens; ``None``: the sentence's.
        """
        record = DecisionRecord(
            sentence, annotator, answer, new_uid(), time.time(),
            spans=tuple(spans), relations=tuple(relations), session=session, seconds=seconds, gold=gold,
            meta=dict(meta or {}), tokens=None if tokens is None else tuple(tokens),
        )
        self._check_record(record, allow_overlaps)
        with self.transaction():
            decision = self._append(
                record, self._dataset_of(sentence.id), keep_existing=False, end_draft=True, made_now=True
            )
        assert decision is not None  # a new uid is never stored already
        return decision

    def add_imported_decisions(self, records: Iterable["DecisionRecord"], *, verbatim: bool = False) -> int:
        """Append decisions made elsewhere, each once (a ``uid`` stored already adds nothing).

        All in one transaction (or the caller's); returns how many were added. Decisions from
        annotated files are checked like the screens' (any answer of ``ANSWERS``, spans on the
        sentence's tokens, relations between its spans; overlaps allowed) and end the sentence's
        draft. ``verbatim`` (a merge) stores rows of another annotator database as they are: they
        were checked where they were made, and the target's drafts are left alone.
        """
        added = 0
        dataset_of: dict[int, int] = {}  # sentence id -> dataset id, looked up once per sentence
        with self.transaction():
            for record in records:
                if not verbatim:
                    self._check_record(record, allow_overlaps=True)
                sentence_id = record.sentence.id
                if sentence_id not in dataset_of:
                    dataset_of[sentence_id] = self._dataset_of(sentence_id)  # type: ignore[arg-type]
                dataset_id = dataset_of[sentence_id]  # type: ignore[index]
                added += self._append(record, dataset_id, keep_existing=True, end_draft=not verbatim) is not None
        return added

    def _dataset_of(self, sentence_id: int) -> int:
        row = self._one("SELECT dataset_id FROM sentences WHERE id = ?", (sentence_id,))
        if row is None:
            raise DatasetError(f"no sentence {sentence_id}", self.path)
        return int(row[0])

    def _check_record(self, record: "DecisionRecord", allow_overlaps: bool) -> None:
        if record.answer is not None and record.answer not in ANSWERS:
            raise AnnotationError(f"answer must be one of {', '.join(ANSWERS)}, not {record.answer!r}")
        self.validate_annotation(record.sentence, record.spans, record.relations, allow_overlaps, record.tokens)

    def _append(
        self, record: "DecisionRecord", dataset_id: int, *, keep_existing: bool, end_draft: bool, made_now: bool = False
    ) -> Decision | None:
        """Insert one decision row inside the caller's transaction (``None``: its uid was stored).

        ``current`` follows the newest ``created_at`` (see schema v4). A decision ``made_now`` is
        timed after the current one even if the clock stepped back, so it always becomes current.
        A decision from elsewhere older than the current one goes into the history only, and
        supersedes the newest decision before it.
        """
        sentence = record.sentence
        created_at = record.created_at
        supersedes = None
        if record.supersedes_uid is not None:
            found = self.conn.execute("SELECT id FROM decisions WHERE uid = ?", (record.supersedes_uid,)).fetchone()
            supersedes = found[0] if found else None
        if supersedes is None:
            key = (dataset_id, record.annotator, int(record.gold), sentence.id)
            previous = self.conn.execute(
                "SELECT c.decision_id, d.created_at FROM current c JOIN decisions d ON d.id = c.decision_id"
                " WHERE c.dataset_id = ? AND c.annotator = ? AND c.gold = ? AND c.sentence_id = ?",
                key,
            ).fetchone()
            if previous is not None:
                if made_now and created_at <= previous[1]:
                    created_at = previous[1] + 1e-6
                if created_at >= previous[1]:
                    supersedes = previous[0]
                else:
                    before = self.conn.execute(
                        "SELECT id FROM decisions WHERE dataset_id = ? AND annotator = ? AND gold = ? AND sentence_id = ?"
                        " AND created_at <= ? ORDER BY created_at DESC, id DESC LIMIT 1",
                        (*key, created_at),
                    ).fetchone()
                    supersedes = before[0] if before else None
        verb = "INSERT OR IGNORE" if keep_existing else "INSERT"
        cur = self.conn.execute(
            f"{verb} INTO decisions (uid, dataset_id, sentence_id, annotator, session, answer, spans, relations,"
            " created_at, seconds, supersedes, kind, gold, meta, split_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.uid,
                dataset_id,
                sentence.id,
                record.annotator,
                record.session,
                record.answer,
                encode_spans(record.spans),
                encode_relations(record.relations),
                created_at,
                float(record.seconds),
                supersedes,
                record.kind,
                int(record.gold),
                dumps(dict(record.meta)),
                self._encode_split(sentence, record.tokens),
            ),
        )
        if keep_existing and cur.rowcount == 0:
            return None
        if end_draft and not record.gold:
            # A saved decision ends the sentence's draft (in the same transaction).
            self.conn.execute(
                "DELETE FROM drafts WHERE dataset_id = ? AND annotator = ? AND sentence_id = ?",
                (dataset_id, record.annotator, sentence.id),
            )
        return Decision(
            int(cur.lastrowid), record.uid, sentence.id, record.annotator, record.session, record.answer,
            record.spans, record.relations, created_at, float(record.seconds), supersedes, record.kind,
            record.gold, dict(record.meta), record.tokens,
        )

    def _encode_split(self, sentence: Sentence, tokens: Sequence[Token] | None) -> str | None:
        try:
            return encode_split(sentence.tokens, tokens)
        except ValueError as error:  # a merge stores verbatim: its tokens are checked here
            raise AnnotationError(f"sentence {sentence.position}: {error}") from None

    # -- drafts (unsaved edits; never decisions) -------------------------------------------------

    def save_draft(
        self, sentence: Sentence, annotator: str, spans: Sequence[Span], relations: Sequence[Relation],
        tokens: Sequence[Token] | None = None,
    ) -> None:
        """Keep the annotator's unsaved edits of a sentence (one committed row, replaced; committed
        without fsync, so it survives a killed process but not a power cut, see
        ``_transaction_without_fsync``).

        A draft is not a decision: no export, agreement, progress or statistic reads it. Saving a
        decision for the sentence removes it. ``tokens`` as for ``add_decision`` (read them back
        with ``draft_tokens``).
        """
        clean_spans, clean_relations = clean_annotation(spans, relations)
        self.validate_annotation(sentence, clean_spans, clean_relations, tokens=tokens)
        split_at = self._encode_split(sentence, tokens)
        with self._transaction_without_fsync():
            self.conn.execute(
                "INSERT INTO drafts (dataset_id, annotator, sentence_id, spans, relations, updated_at, split_at)"
                " SELECT dataset_id, ?, id, ?, ?, ?, ? FROM sentences WHERE id = ?"
                " ON CONFLICT (dataset_id, annotator, sentence_id) DO UPDATE SET spans = excluded.spans,"
                " relations = excluded.relations, updated_at = excluded.updated_at, split_at = excluded.split_at",
                (annotator, encode_spans(clean_spans), encode_relations(clean_relations), time.time(), split_at,
                 sentence.id),
            )

    def last_draft_position(self, dataset: str, annotator: str) -> int | None:
        """Position of the sentence whose draft the annotator edited last in the dataset, or None."""
        row = self._one(
            "SELECT s.position FROM drafts d JOIN sentences s ON s.id = d.sentence_id"
            " WHERE d.dataset_id = ? AND d.annotator = ? ORDER BY d.updated_at DESC, s.position DESC LIMIT 1",
            (self._dataset_id(dataset), annotator),
        )
        return None if row is None else int(row[0])

    def draft(self, sentence_id: int, annotator: str) -> tuple[tuple[Span, ...], tuple[Relation, ...]] | None:
        """The annotator's draft of the sentence as (spans, relations), or None."""
        row = self._one(
            "SELECT spans, relations FROM drafts WHERE sentence_id = ? AND annotator = ?", (sentence_id, annotator)
        )
        return None if row is None else (decode_spans(row[0]), decode_relations(row[1]))

    def draft_tokens(self, sentence: Sentence, annotator: str) -> tuple[Token, ...]:
        """The tokens the spans of the annotator's draft of the sentence refer to: its split
        tokens, else (also when there is no draft) the sentence's own."""
        row = self._one(
            "SELECT split_at FROM drafts WHERE sentence_id = ? AND annotator = ?", (sentence.id, annotator)
        )
        split = None if row is None else decode_split(sentence.text, sentence.tokens, row[0])
        return split if split is not None else sentence.tokens

    def discard_draft(self, sentence_id: int, annotator: str) -> None:
        """Forget the annotator's draft of the sentence (nothing else changes)."""
        with self._transaction_without_fsync():
            self.conn.execute("DELETE FROM drafts WHERE sentence_id = ? AND annotator = ?", (sentence_id, annotator))

    def decision(self, decision_id: int) -> Decision:
        row = self._one(f"SELECT {self._DECISION_COLUMNS} FROM decisions d WHERE d.id = ?", (decision_id,))
        if row is None:
            raise DatasetError(f"no decision {decision_id}", self.path)
        return self._decision(row)

    def current_decision(self, sentence_id: int, annotator: str, gold: bool = False) -> Decision | None:
        """The annotator's newest decision row for the sentence (possibly an undo with answer None).

        Newest by ``created_at``, ties by the row added last: the rule ``current`` follows.
        """
        row = self._one(
            f"SELECT {self._DECISION_COLUMNS} FROM decisions d WHERE d.sentence_id = ? AND d.annotator = ?"
            " AND d.gold = ? ORDER BY d.created_at DESC, d.id DESC LIMIT 1",
            (sentence_id, annotator, int(gold)),
        )
        return None if row is None else self._decision(row)

    def decisions(self, dataset: str) -> Iterator[Decision]:
        """Every decision row of the dataset, history included, oldest first (streamed)."""
        cur = self.conn.execute(
            f"SELECT {self._DECISION_COLUMNS} FROM decisions d WHERE d.dataset_id = ? ORDER BY d.id",
            (self._dataset_id(dataset),),
        )
        for row in cur:
            yield self._decision(row)

    def history(self, sentence_id: int, annotator: str | None = None) -> list[Decision]:
        """Every decision row for the sentence, oldest first."""
        if annotator is None:
            rows = self._query(
                f"SELECT {self._DECISION_COLUMNS} FROM decisions d WHERE d.sentence_id = ? ORDER BY d.id", (sentence_id,)
            )
        else:
            rows = self._query(
                f"SELECT {self._DECISION_COLUMNS} FROM decisions d WHERE d.sentence_id = ? AND d.annotator = ?"
                " ORDER BY d.id",
                (sentence_id, annotator),
            )
        return [self._decision(r) for r in rows]

    def undo(self, decision: Decision, *, session: str = "") -> Decision:
        """Add a row that restores the state before ``decision``; nothing is deleted.

        The new row copies the decision ``decision`` superseded (answer, spans, relations, split
        tokens), or has
        answer ``None`` ("not decided") when there was none. ``decision`` must be what the sentence
        holds now: either the current row itself, or an undo row that brought ``decision``'s
        content back (a session that decided a sentence twice undoes the later decision first,
        then this one). Anything else means the sentence changed elsewhere, and is refused.
        """
        current = self.current_decision(decision.sentence_id, decision.annotator, decision.gold)
        holds_it = current is not None and (
            current.id == decision.id
            or (
                current.kind == "undo"
                and (current.answer, current.spans, current.relations, current.tokens)
                == (decision.answer, decision.spans, decision.relations, decision.tokens)
            )
        )
        if not holds_it:
            raise AnnotationError("the sentence was changed elsewhere since this decision (only what it holds now can be undone)")
        restored = self.decision(decision.supersedes) if decision.supersedes is not None else None
        record = DecisionRecord(
            self.sentence(decision.sentence_id), decision.annotator, restored.answer if restored else None,
            new_uid(), time.time(),
            spans=restored.spans if restored else (), relations=restored.relations if restored else (),
            session=session, kind="undo", gold=decision.gold, meta={"undoes": decision.id},
            tokens=restored.tokens if restored else None,
        )
        self._check_record(record, allow_overlaps=True)
        with self.transaction():
            undone = self._append(
                record, self._dataset_of(decision.sentence_id), keep_existing=False, end_draft=True, made_now=True
            )
        assert undone is not None
        return undone

    def first_undecided(
        self, dataset: str, annotator: str, start_position: int = 1, *, now: float | None = None
    ) -> int | None:
        """Position of the first sentence at or after ``start_position`` the annotator has not decided.

        With the dataset setting ``overlap: N``, sentences that N annotators decided or were handed
        already (a live claim of another annotator, see ``claim``) are passed over (everyone takes
        the first unsaturated sentence, so none is starved).
        """
        info = self.dataset(dataset)
        overlap = info.settings.get("overlap", "all")
        saturated = ""
        params: list[Any] = [info.id, start_position, annotator]
        if isinstance(overlap, int):
            # Routing: a sentence leaves a new annotator's queue once `overlap` annotators decided
            # it or hold a live claim on it.
            saturated = f" AND {_TAKEN_BY_OTHERS} < ?"
            params += [annotator, _claims_since(now), overlap]
        row = self._one(
            "SELECT s.position FROM sentences s WHERE s.dataset_id = ? AND s.position >= ?"
            " AND NOT EXISTS (SELECT 1 FROM current c WHERE c.dataset_id = s.dataset_id AND c.annotator = ?"
            " AND c.gold = 0 AND c.sentence_id = s.id AND c.answer IS NOT NULL)"
            f"{saturated} ORDER BY s.position LIMIT 1",
            params,
        )
        return None if row is None else int(row[0])

    def claim(self, dataset: str, annotator: str, position: int, *, now: float | None = None) -> bool:
        """Hand the sentence at ``position`` to ``annotator``: record it as their claim (replacing
        their previous one) in one write transaction, unless the dataset's ``overlap: N`` is reached
        by the annotators who decided it plus those holding a live claim on it -- then False and
        nothing written. Checked and written under the write lock, so of two screens racing for
        the last room on a sentence one wins. With ``overlap: all`` it is always handed out."""
        info = self.dataset(dataset)
        overlap = info.settings.get("overlap", "all")
        moment = time.time() if now is None else now
        with self.transaction():
            row = self._one("SELECT id FROM sentences WHERE dataset_id = ? AND position = ?", (info.id, position))
            if row is None:
                raise DatasetError(f"dataset {dataset!r} has no sentence {position}")
            if isinstance(overlap, int):
                taken = self._one(
                    f"SELECT {_TAKEN_BY_OTHERS} FROM sentences s WHERE s.id = ?",
                    (annotator, _claims_since(moment), row[0]),
                )[0]
                if taken >= overlap:
                    return False
            self.conn.execute(
                "INSERT INTO claims (dataset_id, annotator, sentence_id, claimed_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (dataset_id, annotator) DO UPDATE SET sentence_id = excluded.sentence_id,"
                " claimed_at = excluded.claimed_at",
                (info.id, annotator, row[0], moment),
            )
        return True

    def release_claim(self, dataset: str, annotator: str) -> None:
        """Remove the annotator's claim in the dataset (the screen closes); nothing when there is none."""
        dataset_id = self._dataset_id(dataset)
        held = "FROM claims WHERE dataset_id = ? AND annotator = ?"
        if self.readonly or self._one(f"SELECT 1 {held}", (dataset_id, annotator)) is None:
            return  # nothing to free: no write transaction
        with self.transaction():
            self.conn.execute(f"DELETE {held}", (dataset_id, annotator))

    def claims(self, dataset: str, *, now: float | None = None) -> dict[str, int]:
        """Annotator -> position of the sentence they hold a live claim on."""
        rows = self._query(
            "SELECT k.annotator, s.position FROM claims k JOIN sentences s ON s.id = k.sentence_id"
            " WHERE k.dataset_id = ? AND k.claimed_at > ? ORDER BY k.annotator",
            (self._dataset_id(dataset), _claims_since(now)),
        )
        return {str(name): int(position) for name, position in rows}

    def undecided_with_suggestions(
        self, dataset: str, annotator: str, start_position: int, count: int
    ) -> list[tuple[int, list[Suggestion]]]:
        """``(position, stored suggestion rows)`` of the first ``count`` sentences at or after
        ``start_position`` the annotator has not decided, in document order (one indexed query)."""
        dataset_id = self._dataset_id(dataset)
        rows = self._query(
            "SELECT w.position, w.id, g.source, g.spans, g.relations FROM ("
            " SELECT s.id, s.position FROM sentences s WHERE s.dataset_id = ? AND s.position >= ?"
            " AND NOT EXISTS (SELECT 1 FROM current c WHERE c.dataset_id = s.dataset_id AND c.annotator = ?"
            " AND c.gold = 0 AND c.sentence_id = s.id AND c.answer IS NOT NULL)"
            " ORDER BY s.position LIMIT ?) w LEFT JOIN suggestions g ON g.sentence_id = w.id"
            " ORDER BY w.position, g.id",
            (dataset_id, start_position, annotator, count),
        )
        found: dict[int, list[Suggestion]] = {}
        for position, sentence_id, source, spans, relations in rows:
            listed = found.setdefault(int(position), [])
            if source is not None:
                listed.append(Suggestion(sentence_id, source, decode_spans(spans), decode_relations(relations)))
        return list(found.items())

    def progress(self, dataset: str, annotator: str, gold: bool = False) -> int:
        """How many sentences the annotator has decided (current answer not None)."""
        dataset_id = self._dataset_id(dataset)
        row = self._one(
            "SELECT COUNT(*) FROM current WHERE dataset_id = ? AND annotator = ? AND gold = ? AND answer IS NOT NULL",
            (dataset_id, annotator, int(gold)),
        )
        return int(row[0])

    def annotators(self, dataset: str) -> list[str]:
        dataset_id = self._dataset_id(dataset)
        rows = self._query(
            "SELECT DISTINCT annotator FROM current WHERE dataset_id = ? AND gold = 0 ORDER BY annotator", (dataset_id,)
        )
        return [r[0] for r in rows]

    def reviewers(self, dataset: str) -> list[str]:
        """Names that wrote gold decisions in the dataset (the reviewers)."""
        dataset_id = self._dataset_id(dataset)
        rows = self._query(
            "SELECT DISTINCT annotator FROM current WHERE dataset_id = ? AND gold = 1 ORDER BY annotator", (dataset_id,)
        )
        return [r[0] for r in rows]

    def has_gold(self, dataset: str) -> bool:
        """Whether any reviewer's current gold decision of the dataset is decided (answer not None)."""
        return self._one(
            "SELECT 1 FROM current WHERE dataset_id = ? AND gold = 1 AND answer IS NOT NULL LIMIT 1",
            (self._dataset_id(dataset),),
        ) is not None

    def current_decisions(
        self, dataset: str, annotators: Sequence[str] | None = None, gold: bool = False
    ) -> Iterator[tuple[Sentence, Decision]]:
        """Every current decision (answer not None) of the dataset, by sentence position then annotator."""
        dataset_id = self._dataset_id(dataset)
        where, among = _annotator_filter(annotators)
        params: list[Any] = [dataset_id, int(gold), *among]
        cur = self.conn.execute(
            f"SELECT {self._SENTENCE_COLUMNS}, {self._DECISION_COLUMNS} FROM current c"
            " JOIN sentences s ON s.id = c.sentence_id JOIN decisions d ON d.id = c.decision_id"
            f" WHERE c.dataset_id = ? AND c.gold = ? AND c.answer IS NOT NULL{where}"
            " ORDER BY s.position, c.annotator",
            params,
        )
        sentence = None
        decoded: dict[str, Any] = {}
        for row in cur:
            if sentence is None or sentence.id != row[0]:  # rows of one sentence come together
                sentence = self._sentence(row[:8])
                decoded = {}
            yield sentence, self._decision(row[8:], decoded)

    def current_versions(
        self, dataset: str, annotators: Sequence[str] | None = None, gold: bool = False, positions: tuple[int, int] | None = None
    ) -> Iterator[tuple[int, int, Callable[[], tuple[Token, ...]], Callable[[], dict[str, Decision]], tuple[VersionRow, ...]]]:
        """The decisions of :meth:`current_decisions` grouped by sentence, decoded only as far as
        agreement and the review queue compare them (what ``gold.load_versions`` streams).

        Per sentence with a current decision, in position order: ``(sentence_id, n_tokens, tokens,
        decisions, rows)``. ``rows`` are the decisions as :class:`~annotator.model.VersionRow`s in
        annotator order, spans and relations as plain tuples decoded once per distinct JSON text of
        the sentence (annotators who agree share one tuple). ``tokens()`` decodes the sentence's
        tokens and ``decisions()`` builds its :class:`Decision`s by annotator, the same as
        :meth:`current_decisions` yields, each only when called.

        One walk of the sentences' position index, joined to ``current_by_sentence`` (whose entries
        of a sentence come in annotator order): no sort of the dataset's decisions.

        ``positions=(first, last)`` limits the walk to the sentences at positions ``first..last``
        (inclusive; the same records the whole walk yields for them).
        """
        dataset_id = self._dataset_id(dataset)
        where, among = _annotator_filter(annotators)
        params: list[Any] = [int(gold), dataset_id, *among]
        if positions is not None:
            where += " AND s.position BETWEEN ? AND ?"
            params += [int(positions[0]), int(positions[1])]
        cur = self.conn.execute(
            f"SELECT s.id, s.text, s.tokens, {self._DECISION_COLUMNS} FROM sentences s"
            " CROSS JOIN current c ON c.sentence_id = s.id AND c.gold = ? AND c.dataset_id = s.dataset_id"
            " JOIN decisions d ON d.id = c.decision_id"
            f" WHERE s.dataset_id = ? AND c.answer IS NOT NULL{where}"
            " ORDER BY s.position, c.annotator",
            params,
        )
        stored: list[tuple] = []
        rows: list[VersionRow] = []
        spans_of: dict[str, tuple] = {"[]": ()}
        relations_of: dict[str, tuple] = {"[]": ()}
        sentence_id = None
        new_row = tuple.__new__  # VersionRow(...) without the namedtuple's Python-level __new__
        for row in cur:  # the per-row work inlined (300,000 rows for 100,000 sentences × 3)
            if row[0] != sentence_id:
                if stored:
                    yield self._stored_versions(stored, rows)
                    stored, rows, spans_of, relations_of = [], [], {"[]": ()}, {"[]": ()}
                sentence_id = row[0]
            stored.append(row)
            text = row[9]
            spans = spans_of.get(text)
            if spans is None:
                spans = spans_of[text] = decode_span_tuples(text)
            text = row[10]
            relations = relations_of.get(text)
            if relations is None:
                relations = relations_of[text] = decode_relation_tuples(text)
            rows.append(new_row(VersionRow, (row[6], row[3], row[8], spans, relations, row[17] is not None)))
        if stored:
            yield self._stored_versions(stored, rows)

    @classmethod
    def _stored_versions(cls, stored: list[tuple], rows: list[VersionRow]) -> tuple:
        """A record of :meth:`current_versions` from one sentence's rows (sentence columns, then
        ``_DECISION_COLUMNS``)."""
        first = stored[0]
        return (
            first[0],
            count_tokens(first[2]),
            partial(decode_tokens, first[1], first[2]),
            partial(cls._decisions_by_annotator, stored),
            tuple(rows),
        )

    @classmethod
    def _decisions_by_annotator(cls, stored: list[tuple]) -> dict[str, Decision]:
        decoded: dict[str, Any] = {}
        decisions = (cls._decision(row[3:], decoded) for row in stored)
        return {decision.annotator: decision for decision in decisions}

    def current_version_texts(
        self, dataset: str, annotators: Sequence[str] | None = None, gold: bool = False
    ) -> Iterator[tuple[int, int, list[tuple[str, str | None, str, str]]]]:
        """The decisions of :meth:`current_versions` as stored, nothing decoded: per sentence with
        a current decision, in position order, ``(sentence_id, position, [(annotator, answer,
        spans JSON, relations JSON), ...])`` in annotator order.

        What the review queue's index reads to tell agreed sentences from disagreements: versions
        whose JSON texts are the same need no decoding (``codec.decode_span_tuples`` and
        ``codec.decode_relation_tuples`` decode the others). The same walk as
        :meth:`current_versions`, without the sentences' text and tokens or the decisions' other columns.
        """
        dataset_id = self._dataset_id(dataset)
        where, among = _annotator_filter(annotators)
        cur = self.conn.execute(
            "SELECT s.id, s.position, c.annotator, d.answer, d.spans, d.relations FROM sentences s"
            " CROSS JOIN current c ON c.sentence_id = s.id AND c.gold = ? AND c.dataset_id = s.dataset_id"
            " JOIN decisions d ON d.id = c.decision_id"
            f" WHERE s.dataset_id = ? AND c.answer IS NOT NULL{where}"
            " ORDER BY s.position, c.annotator",
            [int(gold), dataset_id, *among],
        )
        sentence_id = position = None
        versions: list[tuple[str, str | None, str, str]] = []
        for row in cur:
            if row[0] != sentence_id:
                if versions:
                    yield sentence_id, position, versions  # type: ignore[misc]
                    versions = []
                sentence_id, position = row[0], row[1]
            versions.append(row[2:])
        if versions:
            yield sentence_id, position, versions  # type: ignore[misc]

    def current_version_rows(
        self, dataset: str, annotators: Sequence[str] | None = None, gold: bool = False, positions: tuple[int, int] | None = None
    ) -> Iterator[tuple[int, int, Callable[[], tuple[Token, ...]], Callable[[], dict[str, Decision]], tuple[VersionRow, ...]]]:
        """:meth:`current_versions` for a pass that reads ``rows`` and ``n_tokens`` only (what
        ``annotator agreement`` counts): the same records, but ``tokens()`` and ``decisions()`` read
        the sentence again when called (while the store is open) instead of carrying its text,
        tokens and the decisions' other columns through the walk."""
        dataset_id = self._dataset_id(dataset)
        where, among = _annotator_filter(annotators)
        params: list[Any] = [int(gold), dataset_id, *among]
        if positions is not None:
            where += " AND s.position BETWEEN ? AND ?"
            params += [int(positions[0]), int(positions[1])]
        cur = self.conn.execute(
            "SELECT s.id, s.tokens, c.annotator, d.id, d.answer, d.spans, d.relations, d.split_at IS NOT NULL FROM sentences s"
            " CROSS JOIN current c ON c.sentence_id = s.id AND c.gold = ? AND c.dataset_id = s.dataset_id"
            " JOIN decisions d ON d.id = c.decision_id"
            f" WHERE s.dataset_id = ? AND c.answer IS NOT NULL{where}"
            " ORDER BY s.position, c.annotator",
            params,
        )
        chosen = list(annotators) if annotators else None
        rows: list[VersionRow] = []
        spans_of: dict[str, tuple] = {"[]": ()}
        relations_of: dict[str, tuple] = {"[]": ()}
        sentence_id = n_tokens = None
        new_row = tuple.__new__
        for row in cur:
            if row[0] != sentence_id:
                if rows:
                    yield (sentence_id, n_tokens, partial(self._sentence_tokens, sentence_id),
                           partial(self._current_decisions_of, sentence_id, gold, chosen), tuple(rows))
                    rows, spans_of, relations_of = [], {"[]": ()}, {"[]": ()}
                sentence_id, n_tokens = row[0], count_tokens(row[1])
            text = row[5]
            spans = spans_of.get(text)
            if spans is None:
                spans = spans_of[text] = decode_span_tuples(text)
            text = row[6]
            relations = relations_of.get(text)
            if relations is None:
                relations = relations_of[text] = decode_relation_tuples(text)
            rows.append(new_row(VersionRow, (row[2], row[3], row[4], spans, relations, bool(row[7]))))
        if rows:
            yield (sentence_id, n_tokens, partial(self._sentence_tokens, sentence_id),
                   partial(self._current_decisions_of, sentence_id, gold, chosen), tuple(rows))

    def _sentence_tokens(self, sentence_id: int) -> tuple[Token, ...]:
        text, tokens = self.conn.execute("SELECT text, tokens FROM sentences WHERE id = ?", (sentence_id,)).fetchone()
        return decode_tokens(text, tokens)

    def _current_decisions_of(self, sentence_id: int, gold: bool, annotators: Sequence[str] | None) -> dict[str, Decision]:
        """The sentence's current decisions (answer not None) by annotator, as ``current_versions``' ``decisions()``."""
        where, among = _annotator_filter(annotators)
        stored = self.conn.execute(
            f"SELECT s.id, s.text, s.tokens, {self._DECISION_COLUMNS} FROM current c"
            " JOIN sentences s ON s.id = c.sentence_id JOIN decisions d ON d.id = c.decision_id"
            f" WHERE c.sentence_id = ? AND c.gold = ? AND c.answer IS NOT NULL{where} ORDER BY c.annotator",
            [sentence_id, int(gold), *among],
        ).fetchall()
        return self._decisions_by_annotator(stored)

    # -- verification --------------------------------------------------------------------------

    def verify(self, dataset: str, *, limit: int = 20) -> "VerifyReport":
        """Check the database itself for ``annotator check``.

        SQLite's ``integrity_check``; ``current`` against the history (each (annotator, gold,
        sentence) row names the group's latest decision, with its answer; none missing, none
        extra); every stored decision's spans on token boundaries of its sentence (of its own split
        tokens when it splits some); relations naming spans of the same decision. Problems are counted per kind and the first ``limit``
        are listed with the sentence position.
        """
        report = VerifyReport(dataset)
        try:
            rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:  # damaged beyond what the check can walk: nothing else is trustworthy
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                raise translate(exc, self.path) from None
            rows = [f"the integrity check itself failed: {exc}"]
        # one problem a line (SQLite joins several into one row), without its "*** in database main ***" banner
        report.integrity = [line for row in rows for line in str(row).splitlines()
                            if line.strip() and not line.startswith("*** in database")] or ["ok"]
        if report.damaged:
            return report
        try:
            return self._verify_tables(report, dataset, limit)
        except sqlite3.DatabaseError as exc:  # the check passed yet a table cannot be read
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                raise translate(exc, self.path) from None
            return VerifyReport(dataset, integrity=[f"the tables cannot be read: {exc}"])
        except StoreError as exc:  # _query's translation of the same
            if "damaged" not in exc.problem:
                raise
            return VerifyReport(dataset, integrity=[f"the tables cannot be read: {exc.problem}"])

    def _verify_tables(self, report: "VerifyReport", dataset: str, limit: int) -> "VerifyReport":
        """``verify`` past the integrity check (raw ``sqlite3`` errors reach ``verify``)."""
        dataset_id = self._dataset_id(dataset)

        def note(kind: str, position: int | None, message: str) -> None:
            report.counts[kind] = report.counts.get(kind, 0) + 1
            if len(report.problems) < limit:
                report.problems.append(VerifyProblem(kind, position, message))

        # current rows that are stale (a later decision exists, or the answer differs) or point nowhere
        for (sentence_id, position, annotator, gold, current_id, latest_id, answer, latest_answer) in self._query(
            "SELECT c.sentence_id, s.position, c.annotator, c.gold, c.decision_id,"
            " (SELECT d.id FROM decisions d WHERE d.sentence_id = c.sentence_id AND d.annotator = c.annotator"
            "  AND d.gold = c.gold AND d.dataset_id = c.dataset_id ORDER BY d.created_at DESC, d.id DESC LIMIT 1)"
            " AS latest,"
            " c.answer, (SELECT d.answer FROM decisions d WHERE d.id = c.decision_id)"
            " FROM current c LEFT JOIN sentences s ON s.id = c.sentence_id WHERE c.dataset_id = ?"
            " AND (latest IS NULL OR latest != c.decision_id OR c.answer IS NOT"
            "  (SELECT d.answer FROM decisions d WHERE d.id = c.decision_id))",
            (dataset_id,),
        ):
            who = f"{annotator}{' (gold)' if gold else ''}"
            if latest_id is None:
                note("current row without a decision", position,
                     f"current names decision {current_id} of {who}, but {who} has no decision for this sentence")
            elif latest_id != current_id:
                note("stale current row", position,
                     f"current names decision {current_id} of {who}, but the latest is {latest_id}")
            else:
                note("stale current row", position,
                     f"current says {answer!r} for decision {current_id} of {who}, the decision says {latest_answer!r}")
        for (position, annotator, gold, latest_id) in self._query(
            "SELECT s.position, d.annotator, d.gold, MAX(d.id) FROM decisions d JOIN sentences s ON s.id = d.sentence_id"
            " WHERE d.dataset_id = ? AND NOT EXISTS (SELECT 1 FROM current c WHERE c.dataset_id = d.dataset_id"
            " AND c.annotator = d.annotator AND c.gold = d.gold AND c.sentence_id = d.sentence_id)"
            " GROUP BY d.sentence_id, d.annotator, d.gold ORDER BY s.position",
            (dataset_id,),
        ):
            who = f"{annotator}{' (gold)' if gold else ''}"
            note("missing current row", position, f"decision {latest_id} of {who} is not in current")
        report.current_rows = self._one("SELECT COUNT(*) FROM current WHERE dataset_id = ?", (dataset_id,))[0]

        # every stored decision (history included): spans on token boundaries, relations to its spans
        cur = self.conn.execute(
            "SELECT d.id, d.annotator, d.gold, d.spans, d.relations, s.id, s.position, s.text, s.tokens, d.split_at"
            " FROM decisions d JOIN sentences s ON s.id = d.sentence_id WHERE d.dataset_id = ?"
            " ORDER BY s.position, d.id",
            (dataset_id,),
        )
        sentence_id = None
        tokens: tuple[Token, ...] = ()
        for (decision_id, annotator, gold, spans_json, relations_json, sid, position, text, tokens_json, split_at) in cur:
            report.decisions += 1
            if sid != sentence_id:
                sentence_id, tokens = sid, decode_tokens(text, tokens_json)
            who = f"{annotator}{' (gold)' if gold else ''}"
            decision_tokens = tokens
            if split_at is not None:  # the decision's own split tokens: its spans refer to them
                try:
                    decision_tokens = decode_split(text, tokens, split_at) or tokens
                except (ValueError, TypeError) as error:
                    note("split tokens off the sentence's tokens", position,
                         f"decision {decision_id} of {who}: split_at {split_at} {error}")
            spans = decode_spans(spans_json)
            report.spans += len(spans)
            for span in spans:
                problem = span_problem(span, text, decision_tokens)
                if problem:
                    note("span off token boundaries", position, f"decision {decision_id} of {who}: {span.label} {problem}")
            relations = decode_relations(relations_json)
            report.relations += len(relations)
            for relation in relations:
                problem = relation_problem(relation, spans)
                if problem:
                    note("relation to a missing span", position, f"decision {decision_id} of {who}: {problem}")
        return report

    # -- statistics ----------------------------------------------------------------------------

    def stats(self, dataset: str) -> dict[str, Any]:
        """Counts for ``annotator stats``: articles, sentences, suggestions, decisions, spans per label.

        Annotators' decisions and reviewers' gold decisions are counted separately:
        ``decisions_per_annotator`` / ``spans_per_label_per_annotator`` (annotators only),
        ``gold_decisions_per_reviewer`` / ``gold_spans_per_label`` (gold only); ``spans_per_label``
        and ``relations_per_label`` sum the annotators' current accepted decisions, gold excluded.
        """
        dataset_id = self._dataset_id(dataset)
        articles = self._one("SELECT COUNT(*) FROM articles WHERE dataset_id = ?", (dataset_id,))[0]
        sentences = self.sentence_count(dataset)
        suggestion_labels: dict[str, int] = {}
        for (label, n) in self._query(
            "SELECT json_extract(j.value, '$.label') AS label, COUNT(*) FROM suggestions g"
            " JOIN sentences s ON s.id = g.sentence_id, json_each(g.spans) j"
            " WHERE s.dataset_id = ? GROUP BY label ORDER BY label",
            (dataset_id,),
        ):
            suggestion_labels[label] = n
        sentences_with_suggestions = self._one(
            "SELECT COUNT(DISTINCT g.sentence_id) FROM suggestions g JOIN sentences s ON s.id = g.sentence_id"
            " WHERE s.dataset_id = ?",
            (dataset_id,),
        )[0]
        # Annotators and reviewers (gold) are counted apart: a sum over both counts a sentence twice.
        decisions: dict[str, dict[str, int]] = {}
        gold_decisions: dict[str, dict[str, int]] = {}
        for (annotator, gold, answer, n) in self._query(
            "SELECT annotator, gold, answer, COUNT(*) FROM current WHERE dataset_id = ? AND answer IS NOT NULL"
            " GROUP BY annotator, gold, answer ORDER BY annotator, answer",
            (dataset_id,),
        ):
            (gold_decisions if gold else decisions).setdefault(annotator, {})[answer] = n
        gold_sentences = self._one(
            "SELECT COUNT(DISTINCT sentence_id) FROM current WHERE dataset_id = ? AND gold = 1 AND answer IS NOT NULL",
            (dataset_id,),
        )[0]
        per_annotator: dict[str, dict[str, dict[str, int]]] = {"spans": {}, "relations": {}}
        gold_labels: dict[str, dict[str, int]] = {"spans": {}, "relations": {}}
        for what in ("spans", "relations"):
            for (annotator, gold, label, n) in self._query(
                "SELECT c.annotator, c.gold, json_extract(j.value, '$.label') AS label, COUNT(*) FROM current c"
                f" JOIN decisions d ON d.id = c.decision_id, json_each(d.{what}) j"
                " WHERE c.dataset_id = ? AND c.answer = 'accept' GROUP BY c.annotator, c.gold, label"
                " ORDER BY c.annotator, label",
                (dataset_id,),
            ):
                if gold:
                    gold_labels[what][label] = gold_labels[what].get(label, 0) + n
                else:
                    per_annotator[what].setdefault(annotator, {})[label] = n
        span_labels: dict[str, int] = {}
        relation_labels: dict[str, int] = {}
        for totals, what in ((span_labels, "spans"), (relation_labels, "relations")):
            for labels in per_annotator[what].values():
                for label, n in labels.items():
                    totals[label] = totals.get(label, 0) + n
        history_rows = self._one("SELECT COUNT(*) FROM decisions WHERE dataset_id = ?", (dataset_id,))[0]
        return {
            "dataset": dataset,
            "articles": articles,
            "sentences": sentences,
            "sentences_with_suggestions": sentences_with_suggestions,
            "suggestions_per_label": suggestion_labels,
            "decisions_per_annotator": decisions,
            "gold_decisions_per_reviewer": gold_decisions,
            "gold_sentences": gold_sentences,
            "history_rows": history_rows,
            "spans_per_label": {k: span_labels[k] for k in sorted(span_labels)},
            "relations_per_label": {k: relation_labels[k] for k in sorted(relation_labels)},
            "spans_per_label_per_annotator": per_annotator["spans"],
            "relations_per_label_per_annotator": per_annotator["relations"],
            "gold_spans_per_label": gold_labels["spans"],
            "gold_relations_per_label": gold_labels["relations"],
        }


def _annotator_filter(annotators: Sequence[str] | None) -> tuple[str, list[str]]:
    """The ``AND c.annotator IN (…)`` clause and its parameters (nothing for every annotator)."""
    if not annotators:
        return "", []
    return f" AND c.annotator IN ({', '.join('?' for _ in annotators)})", list(annotators)


def _decoded(cache: dict[str, Any], text: str, decode: Callable[[str], Any]) -> Any:
    """``decode(text)``, once per distinct text of ``cache`` (annotators who agree share the value)."""
    value = cache.get(text)
    if value is None:
        value = cache[text] = decode(text)
    return value
