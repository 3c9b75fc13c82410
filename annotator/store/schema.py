"""The database schema as an ordered list of migrations; ``PRAGMA user_version`` is the version.

Opening a database applies every migration above its version, each in its own transaction, so a
new and an old database end up the same. A database whose version is above ``SCHEMA_VERSION``
was written by a newer annotator and is refused (see ``Store``).
"""

from __future__ import annotations

import sqlite3
from typing import Callable

Migration = Callable[[sqlite3.Connection], None]


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one inside the caller's transaction.

    (``executescript`` would COMMIT first and run outside it.)
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement!r}")


# ``current`` rebuilt from the history (its latest decision per dataset, annotator, gold and
# sentence); v2 builds it this way and v3 rebuilds it. Never change this text: migrations are history.
_REBUILD_CURRENT = """INSERT INTO current (dataset_id, annotator, gold, sentence_id, decision_id, answer)
            SELECT d.dataset_id, d.annotator, d.gold, d.sentence_id, d.id, d.answer
            FROM decisions d
            WHERE d.id = (SELECT MAX(id) FROM decisions d2
                          WHERE d2.sentence_id = d.sentence_id AND d2.annotator = d.annotator
                            AND d2.gold = d.gold);"""


def _v1_initial(conn: sqlite3.Connection) -> None:
    """Datasets, articles, sentences, suggestions and the append-only decision history."""
    _run_script(conn,
        """
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            settings TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            source TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            UNIQUE (dataset_id, content_hash)
        );
        CREATE TABLE sentences (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            article_id INTEGER NOT NULL REFERENCES articles(id),
            idx INTEGER NOT NULL,
            position INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            text TEXT NOT NULL,
            tokens TEXT NOT NULL,
            UNIQUE (dataset_id, position),
            UNIQUE (article_id, idx)
        );
        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            sentence_id INTEGER NOT NULL REFERENCES sentences(id),
            source TEXT NOT NULL,
            spans TEXT NOT NULL DEFAULT '[]',
            relations TEXT NOT NULL DEFAULT '[]',
            created_at REAL NOT NULL,
            UNIQUE (sentence_id, source)
        );
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            sentence_id INTEGER NOT NULL REFERENCES sentences(id),
            annotator TEXT NOT NULL,
            session TEXT NOT NULL DEFAULT '',
            answer TEXT CHECK (answer IS NULL OR answer IN ('accept', 'reject', 'ignore')),
            spans TEXT NOT NULL DEFAULT '[]',
            relations TEXT NOT NULL DEFAULT '[]',
            created_at REAL NOT NULL,
            seconds REAL NOT NULL DEFAULT 0,
            supersedes INTEGER REFERENCES decisions(id),
            kind TEXT NOT NULL DEFAULT 'decision',
            gold INTEGER NOT NULL DEFAULT 0,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX decisions_by_sentence ON decisions (sentence_id, annotator, gold, id);
        CREATE INDEX decisions_by_dataset ON decisions (dataset_id, annotator);
        CREATE TRIGGER decisions_are_append_only_update BEFORE UPDATE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are append-only: add a row instead'); END;
        CREATE TRIGGER decisions_are_append_only_delete BEFORE DELETE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are append-only: add a row instead'); END;
        """
    )


def _v2_current_index(conn: sqlite3.Connection) -> None:
    """A derived index of each annotator's current decision per sentence, kept by a trigger.

    It is rebuilt here from the history (so an older database gains it with its data) and can
    always be rebuilt the same way; the history itself stays the only source of truth.
    """
    _run_script(conn,
        """
        CREATE TABLE current (
            dataset_id INTEGER NOT NULL,
            annotator TEXT NOT NULL,
            gold INTEGER NOT NULL,
            sentence_id INTEGER NOT NULL,
            decision_id INTEGER NOT NULL,
            answer TEXT,
            PRIMARY KEY (dataset_id, annotator, gold, sentence_id)
        ) WITHOUT ROWID;
        CREATE INDEX current_by_sentence ON current (sentence_id, gold);
        {rebuild_current}
        CREATE TRIGGER decisions_keep_current AFTER INSERT ON decisions
        BEGIN
            INSERT OR REPLACE INTO current (dataset_id, annotator, gold, sentence_id, decision_id, answer)
            VALUES (NEW.dataset_id, NEW.annotator, NEW.gold, NEW.sentence_id, NEW.id, NEW.answer);
        END;
        """.replace("{rebuild_current}", _REBUILD_CURRENT)
    )


def _v3_current_upsert_and_drafts(conn: sqlite3.Connection) -> None:
    """Keep ``current`` right under ``INSERT OR IGNORE`` and add durable drafts.

    SQLite applies the conflict policy of the statement that fired a trigger to the statements
    inside it, so the v2 trigger's ``INSERT OR REPLACE`` became ``INSERT OR IGNORE`` when imports
    and merges inserted with ``INSERT OR IGNORE``: ``current`` kept naming the first decision. An
    upsert (``ON CONFLICT DO UPDATE``) is not overridden that way. ``current`` is rebuilt from the
    history, which stays the only source of truth.

    ``drafts`` holds the unsaved edits of a sentence (one row per dataset, annotator and sentence,
    replaced on every edit, removed when a decision is saved). A draft is never a decision: it
    counts in no export, agreement, progress or statistics.
    """
    _run_script(conn,
        """
        DROP TRIGGER decisions_keep_current;
        CREATE TRIGGER decisions_keep_current AFTER INSERT ON decisions
        BEGIN
            INSERT INTO current (dataset_id, annotator, gold, sentence_id, decision_id, answer)
            VALUES (NEW.dataset_id, NEW.annotator, NEW.gold, NEW.sentence_id, NEW.id, NEW.answer)
            ON CONFLICT (dataset_id, annotator, gold, sentence_id)
            DO UPDATE SET decision_id = excluded.decision_id, answer = excluded.answer;
        END;
        DELETE FROM current;
        {rebuild_current}
        CREATE TABLE drafts (
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            annotator TEXT NOT NULL,
            sentence_id INTEGER NOT NULL REFERENCES sentences(id),
            spans TEXT NOT NULL DEFAULT '[]',
            relations TEXT NOT NULL DEFAULT '[]',
            updated_at REAL NOT NULL,
            PRIMARY KEY (dataset_id, annotator, sentence_id)
        ) WITHOUT ROWID;
        """.replace("{rebuild_current}", _REBUILD_CURRENT)
    )


def _v4_current_is_the_newest(conn: sqlite3.Connection) -> None:
    """``current`` names each (annotator, gold, sentence)'s newest decision by time, not the row
    inserted last.

    Before, a merge or an import of an older decision after a newer one made the older one
    current, so merging database A into B and B into A gave different answers. Now the newest
    ``created_at`` wins (ties: the row inserted last). Decisions made now always get a time after
    the current one (``Store.add_decision``), so a clock that steps back never hides a new decision.
    ``current`` is rebuilt from the history by the same rule.
    """
    _run_script(conn,
        """
        DROP TRIGGER decisions_keep_current;
        CREATE TRIGGER decisions_keep_current AFTER INSERT ON decisions
        BEGIN
            INSERT INTO current (dataset_id, annotator, gold, sentence_id, decision_id, answer)
            VALUES (NEW.dataset_id, NEW.annotator, NEW.gold, NEW.sentence_id, NEW.id, NEW.answer)
            ON CONFLICT (dataset_id, annotator, gold, sentence_id)
            DO UPDATE SET decision_id = excluded.decision_id, answer = excluded.answer
            WHERE (SELECT d.created_at FROM decisions d WHERE d.id = current.decision_id) <= NEW.created_at;
        END;
        DELETE FROM current;
        INSERT INTO current (dataset_id, annotator, gold, sentence_id, decision_id, answer)
            SELECT d.dataset_id, d.annotator, d.gold, d.sentence_id, d.id, d.answer
            FROM decisions d
            WHERE d.id = (SELECT d2.id FROM decisions d2
                          WHERE d2.sentence_id = d.sentence_id AND d2.annotator = d.annotator
                            AND d2.gold = d.gold
                          ORDER BY d2.created_at DESC, d2.id DESC LIMIT 1);
        """
    )


def _v5_suggestion_sources(conn: sqlite3.Connection) -> None:
    """The registry of suggestion sources a command made (``annotator suggest``): which model, and
    whether the run finished (``completed_at``); a killed run stays incomplete until resumed."""
    _run_script(conn,
        """
        CREATE TABLE suggestion_sources (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            model TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            completed_at REAL,
            UNIQUE (dataset_id, name)
        );
        """
    )


def _v6_users(conn: sqlite3.Connection) -> None:
    """Who may open a dataset in the browser (``annotator user add``): name, role and the SHA-256
    of their token (the token itself is never stored)."""
    _run_script(conn,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('annotator', 'reviewer')),
            token_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            UNIQUE (dataset_id, name)
        );
        """
    )


def _v7_split_tokens(conn: sqlite3.Connection) -> None:
    """A decision (and a draft) may split some of its sentence's tokens, so a span can cover part
    of one ("U.S." of "U.S.-made"): ``split_at`` holds the character offsets (sentence-relative)
    where the sentence's tokens are split, as compact JSON (``[4]``); ``NULL`` means the sentence's
    tokens. The sentence itself is never changed (see ``codec.encode_split``)."""
    _run_script(conn,
        """
        ALTER TABLE decisions ADD COLUMN split_at TEXT;
        ALTER TABLE drafts ADD COLUMN split_at TEXT;
        """
    )


def _v8_sentence_search_index(conn: sqlite3.Connection) -> None:
    """A full-text index of the sentences' text for search (``Store.search``), kept by triggers.

    FTS5 with the ``unicode61`` word tokenizer (case folded, accents kept), contentless and without
    positions (``detail=none``): it only tells which sentences hold a word, which is all search
    needs to find candidates whose text is then checked exactly. ``sentence_search_terms`` lists
    the indexed words (for a needle that is part of a word). Existing sentences are indexed here.
    """
    _run_script(conn,
        """
        CREATE VIRTUAL TABLE sentence_search USING fts5(
            text, content='', detail=none, columnsize=0, tokenize='unicode61 remove_diacritics 0'
        );
        CREATE VIRTUAL TABLE sentence_search_terms USING fts5vocab(sentence_search, row);
        CREATE TRIGGER sentences_search_insert AFTER INSERT ON sentences
        BEGIN
            INSERT INTO sentence_search (rowid, text) VALUES (NEW.id, NEW.text);
        END;
        CREATE TRIGGER sentences_search_delete AFTER DELETE ON sentences
        BEGIN
            INSERT INTO sentence_search (sentence_search, rowid, text) VALUES ('delete', OLD.id, OLD.text);
        END;
        CREATE TRIGGER sentences_search_update AFTER UPDATE OF text ON sentences
        BEGIN
            INSERT INTO sentence_search (sentence_search, rowid, text) VALUES ('delete', OLD.id, OLD.text);
            INSERT INTO sentence_search (rowid, text) VALUES (NEW.id, NEW.text);
        END;
        INSERT INTO sentence_search (rowid, text) SELECT id, text FROM sentences;
        """
    )


def _v9_search_index_filled_in_bulk(conn: sqlite3.Connection) -> None:
    """The search index is filled once per write transaction instead of by a trigger per row.

    ``sentence_search_state.indexed_to`` is the watermark: every sentence whose id is at or below
    it is in ``sentence_search``, none above it is. ``Store`` indexes the sentences above it with
    one ``INSERT … SELECT`` at the end of each transaction that added sentences (an import's file,
    a merge) and before a search. The index is contentless, so a ``'delete'`` must name a row that
    is indexed, with its indexed text: the delete and update triggers act only at or below the
    watermark. A new sentence that gets an id at or below it (SQLite reuses the highest id after a
    delete) is indexed by the one insert trigger left, which does nothing for all other rows.
    Everything a v8 database holds is indexed (its triggers did it), so the watermark starts at
    the highest id.
    """
    _run_script(conn,
        """
        CREATE TABLE sentence_search_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            indexed_to INTEGER NOT NULL
        );
        INSERT INTO sentence_search_state (id, indexed_to) SELECT 1, COALESCE(MAX(id), 0) FROM sentences;
        DROP TRIGGER sentences_search_insert;
        DROP TRIGGER sentences_search_delete;
        DROP TRIGGER sentences_search_update;
        CREATE TRIGGER sentences_search_insert_below AFTER INSERT ON sentences
        WHEN NEW.id <= (SELECT indexed_to FROM sentence_search_state)
        BEGIN
            INSERT INTO sentence_search (rowid, text) VALUES (NEW.id, NEW.text);
        END;
        CREATE TRIGGER sentences_search_delete AFTER DELETE ON sentences
        WHEN OLD.id <= (SELECT indexed_to FROM sentence_search_state)
        BEGIN
            INSERT INTO sentence_search (sentence_search, rowid, text) VALUES ('delete', OLD.id, OLD.text);
        END;
        CREATE TRIGGER sentences_search_update AFTER UPDATE OF id, text ON sentences
        BEGIN
            INSERT INTO sentence_search (sentence_search, rowid, text)
                SELECT 'delete', OLD.id, OLD.text FROM sentence_search_state WHERE OLD.id <= indexed_to;
            INSERT INTO sentence_search (rowid, text)
                SELECT NEW.id, NEW.text FROM sentence_search_state WHERE NEW.id <= indexed_to;
        END;
        """
    )


def _v10_claims(conn: sqlite3.Connection) -> None:
    """Routing with ``overlap: N`` hands each annotator an undecided sentence and records it here
    (one row per annotator and dataset: the sentence they were handed last, and when), so two
    people who open the dataset at the same moment are not handed the same sentence when it has
    room for one. A claim older than ``queries.CLAIM_SECONDS`` no longer counts; quitting the
    screen removes it. Claims are not history: they are replaced and deleted."""
    _run_script(conn,
        """
        CREATE TABLE claims (
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            annotator TEXT NOT NULL,
            sentence_id INTEGER NOT NULL REFERENCES sentences(id),
            claimed_at REAL NOT NULL,
            PRIMARY KEY (dataset_id, annotator)
        );
        CREATE INDEX claims_sentence ON claims(sentence_id);
        """
    )


MIGRATIONS: list[Migration] = [
    _v1_initial, _v2_current_index, _v3_current_upsert_and_drafts, _v4_current_is_the_newest,
    _v5_suggestion_sources, _v6_users, _v7_split_tokens, _v8_sentence_search_index,
    _v9_search_index_filled_in_bulk, _v10_claims,
]
SCHEMA_VERSION = len(MIGRATIONS)
