"""Bulk writes and reads for whole annotated files: one ``executemany`` per table instead of a
handful of statements per record (``annotated_import`` of sentence units, ``export``).

``BulkImport`` works inside the caller's ``Store.transaction`` and writes exactly the rows the
per-record methods write (``Store.add_article``, ``Store.add_imported_decisions``):

* ``article_ids_by_hash``: which of a file's texts the dataset holds already (one query per 500);
* ``add_articles``: new articles, then all their sentences (dense positions after the dataset's
  last one), their ids read back once; the search index is filled at the transaction's end as
  after ``add_article`` (``Store.index_new_sentences``);
* ``add_decisions``: decisions of sentences this transaction created, for an (annotator, gold)
  that has no decision there yet, so none supersedes another and no draft can exist; the
  ``current`` trigger fires per row as for any insert.

``current_rows`` streams what an export reads (``Store.current_decisions``) as plain tuples, with
no ``Decision`` per row and the tokens decoded without a Python call per token.
"""

from __future__ import annotations

import json
import time
from itertools import repeat
from typing import Any, Iterator, Sequence

from ..model import Sentence, Token
from .codec import decode_relations, decode_spans, decode_split, dumps, encode_relations, encode_spans, encode_tokens
from .queries import DecisionRecord, ImportCounts, Store, _annotator_filter

_CHUNK = 500
"""Host parameters per ``IN (…)`` query (SQLite allows at least 999)."""


class BulkImport:
    """Batched writes of one annotated file, inside the caller's transaction."""

    def __init__(self, store: Store, dataset: str) -> None:
        self.store = store
        self.conn = store.conn
        self.dataset_id = store._dataset_id(dataset)

    def article_ids_by_hash(self, hashes: Sequence[str]) -> dict[str, int]:
        """``content hash -> article id`` for those of ``hashes`` the dataset holds."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(hashes))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for digest, article_id in self.conn.execute(
                f"SELECT content_hash, id FROM articles WHERE dataset_id = ? AND content_hash IN ({marks})",
                (self.dataset_id, *chunk),
            ):
                found[digest] = int(article_id)
        return found

    def add_articles(
        self, articles: Sequence[tuple[str, str, str, str, dict[str, Any], Sequence[tuple[int, int, Sequence[Token]]]]],
    ) -> list[tuple[int, ImportCounts]]:
        """Add new articles ``(title, text, content_hash, source, meta, sentences)`` (their hashes
        not in the dataset, each once) with their sentences ``(start, end, tokens)``; for each, its
        id and what it added (``first_sentence_id``, ``first_position``), as ``Store.add_article``."""
        if not articles:
            return []
        conn = self.conn
        now = time.time()
        top_article = conn.execute("SELECT COALESCE(MAX(id), 0) FROM articles").fetchone()[0]
        conn.executemany(
            "INSERT INTO articles (dataset_id, source, title, text, content_hash, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self.dataset_id, source, title, text, digest, dumps(meta), now) for title, text, digest, source, meta, _ in articles],
        )
        ids = {digest: article_id for digest, article_id in conn.execute(
            "SELECT content_hash, id FROM articles WHERE id > ? AND dataset_id = ?", (top_article, self.dataset_id))}
        position = conn.execute(
            "SELECT COALESCE(MAX(position), 0) FROM sentences WHERE dataset_id = ?", (self.dataset_id,)
        ).fetchone()[0]
        top_sentence = conn.execute("SELECT COALESCE(MAX(id), 0) FROM sentences").fetchone()[0]
        rows = []
        results: list[tuple[int, ImportCounts]] = []
        for _, text, digest, _, _, sentences in articles:
            article_id = ids[digest]
            counts = ImportCounts(articles=1, sentences=len(sentences), first_position=position + 1)
            for i, (start, end, tokens) in enumerate(sentences):
                position += 1
                rows.append((self.dataset_id, article_id, i, position, start, end, text[start:end], encode_tokens(tokens)))
            results.append((article_id, counts))
        conn.executemany(
            'INSERT INTO sentences (dataset_id, article_id, idx, position, start, "end", text, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            rows,
        )
        self.store._unindexed = True
        first = {article_id: sentence_id for article_id, sentence_id in conn.execute(
            "SELECT article_id, id FROM sentences WHERE id > ? AND idx = 0", (top_sentence,))}
        for article_id, counts in results:
            counts.first_sentence_id = first.get(article_id)
        return results

    def check(self, record: DecisionRecord) -> None:
        """Refuse a decision as ``Store.add_imported_decisions`` does (``AnnotationError``)."""
        self.store._check_record(record, allow_overlaps=True)

    def add_decisions(self, records: Sequence[DecisionRecord], *, checked: bool = False) -> int:
        """Append decisions of sentences this transaction created, each the first of its
        (sentence, annotator, gold), checked (``check``) unless ``checked``; how many were added
        (a uid stored already adds nothing)."""
        store = self.store
        rows = []
        for record in records:
            if not checked:
                self.check(record)
            sentence = record.sentence
            rows.append((
                record.uid, self.dataset_id, sentence.id, record.annotator, record.session, record.answer,
                encode_spans(record.spans), encode_relations(record.relations), record.created_at, float(record.seconds),
                None, record.kind, int(record.gold), dumps(dict(record.meta)), store._encode_split(sentence, record.tokens),
            ))
        if not rows:
            return 0
        cursor = self.conn.executemany(
            "INSERT OR IGNORE INTO decisions (uid, dataset_id, sentence_id, annotator, session, answer, spans, relations,"
            " created_at, seconds, supersedes, kind, gold, meta, split_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return cursor.rowcount  # summed over the rows; the trigger's rows in ``current`` are not counted


def decode_token_offsets(text: str, data: str) -> tuple[Token, ...]:
    """``codec.decode_tokens`` without a Python call per token: the ``Token`` tuples are made by
    ``tuple.__new__`` over ``zip`` (what a named tuple's own constructor does), ``ws`` as
    ``model.tokens_from_offsets`` derives it."""
    flat = json.loads(data)
    if not flat:
        return ()
    starts, ends = flat[0::2], flat[1::2]
    following = starts[1:]
    following.append(len(text))
    ws = [after > end and text[end].isspace() for end, after in zip(ends, following)]
    return tuple(map(tuple.__new__, repeat(Token), zip(starts, ends, ws)))


def current_rows(store: Store, dataset: str, annotators: Sequence[str] | None = None, gold: bool = False) -> Iterator[tuple]:
    """What ``Store.current_decisions`` reads, as plain tuples without ``Decision`` objects:
    ``(sentence, tokens, annotator, session, answer, spans, relations, created_at, gold, meta)``
    by sentence position then annotator; ``tokens`` are the decision's (its split, else the
    sentence's), decoded once per sentence and split."""
    dataset_id = store._dataset_id(dataset)
    where, among = _annotator_filter(annotators)
    cursor = store.conn.execute(
        'SELECT s.id, s.article_id, s.idx, s.position, s.start, s."end", s.text, s.tokens,'
        " d.annotator, d.session, d.answer, d.spans, d.relations, d.created_at, d.gold, d.meta, d.split_at FROM current c"
        " JOIN sentences s ON s.id = c.sentence_id JOIN decisions d ON d.id = c.decision_id"
        f" WHERE c.dataset_id = ? AND c.gold = ? AND c.answer IS NOT NULL{where}"
        " ORDER BY s.position, c.annotator",
        [dataset_id, int(gold), *among],
    )
    sentence = None
    splits: dict[str, tuple[Token, ...]] = {}
    for row in cursor:
        if sentence is None or sentence.id != row[0]:  # rows of one sentence come together
            sentence = Sentence(row[0], row[1], row[2], row[3], row[4], row[5], row[6], decode_token_offsets(row[6], row[7]))
            splits = {}
        split_at = row[16]
        if split_at is None:
            tokens = sentence.tokens
        else:
            if split_at not in splits:
                splits[split_at] = decode_split(sentence.text, sentence.tokens, split_at)  # type: ignore[assignment]
            tokens = splits[split_at]
        yield (sentence, tokens, row[8], row[9], row[10], decode_spans(row[11]), decode_relations(row[12]), row[13],
               bool(row[14]), json.loads(row[15]))
