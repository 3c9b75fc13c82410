"""Search: Store.search (the annotate screen's `/`) and `annotator search`, over the word index."""

from __future__ import annotations

import json
import sqlite3

import pytest

from annotator.store import Store
from annotator.store.schema import MIGRATIONS, SCHEMA_VERSION

from .conftest import run_cli

TEXTS = [
    "Defense Minister Rustem Umerov met Lloyd Austin at the Pentagon.",
    "The F-16s arrived; ATACMS (long-range) followed.",
    "Nothing here but words.",
    "100% of the_items were 50_50, said Müller in Kyiv.",
    "Über café naïve CAFÉ déjà-vu.",
    "Umerov's visit: a first.",
    "the pentagon said nothing",
    "  ",
] * 3


def add_texts(store: Store, dataset: str, texts: list[str]) -> None:
    store.ensure_dataset(dataset)
    for number, text in enumerate(texts):
        words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\S+", text)] or [(0, len(text))]
        store.add_article(dataset, title=f"t{number}", text=text, content_hash=f"{dataset}-{number}", source="test",
                          meta={}, sentences=[(0, len(text), [n for pair in words for n in pair])])


def reference(texts: list[str], needle: str, after: int, backwards: bool) -> int | None:
    """The scan the index must agree with: SQLite LIKE semantics (ASCII letters fold case)."""

    def fold(text: str) -> str:
        return "".join(c.lower() if c.isascii() else c for c in text)

    hits = [i + 1 for i, text in enumerate(texts) if fold(needle) in fold(text)]
    if not hits:
        return None
    after_hits = [p for p in hits if (p < after if backwards else p > after)]
    if after_hits:
        return max(after_hits) if backwards else min(after_hits)
    return max(hits) if backwards else min(hits)


NEEDLES = [
    "Umerov", "umerov", "merov", "Umer", "UMEROV'S", "pentagon", "the Pentagon", "tagon.", "n.", "F-16", "F-16s arr",
    "-16", "(long-range)", "long-ra", "100%", "the_items", "50_5", "%", "_", "Müller", "müller", "CAFÉ", "café",
    "naïve", "vu.", "Kyiv.", " ", "s", "no such words", "Lloyd Austin at", "d Austin a", "xyz", "a first",
]


@pytest.mark.parametrize("window", [1, 2000])
def test_search_agrees_with_a_scan(store, monkeypatch, window):
    monkeypatch.setattr(Store, "SEARCH_WINDOW", window)  # 1: nearly every answer comes through the index
    add_texts(store, "d", TEXTS)
    add_texts(store, "other", ["Umerov elsewhere", "F-16 elsewhere"])
    for needle in NEEDLES:
        for after in (0, 1, 3, 7, 12, 24, 25):
            for backwards in (False, True):
                expected = reference(TEXTS, needle, after, backwards)
                assert store.search("d", needle, after, backwards) == expected, (needle, after, backwards)


def test_part_of_a_word_standing_for_too_many_words_is_scanned(store, monkeypatch):
    monkeypatch.setattr(Store, "SEARCH_WINDOW", 1)
    monkeypatch.setattr(Store, "SEARCH_TERMS", 2)
    add_texts(store, "d", ["alpha beta", "gamma", "delta alphabet", "alphas"])
    assert store._search_expression("alph") is None  # alpha, alphabet, alphas: more than 2
    assert store.search("d", "alph", 1) == 3
    assert store._search_expression("zzz") == ""
    assert store.search("d", "zzz") is None


def _database_at(path, name: str) -> sqlite3.Connection:
    """A database built by the migrations up to and including ``name`` (what an older annotator wrote)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for number, migration in enumerate(MIGRATIONS):
        migration(conn)
        if migration.__name__ == name:
            break
    conn.execute(f"PRAGMA user_version = {number + 1}")
    conn.execute("INSERT INTO datasets (name, created_at) VALUES ('d', 1.0)")
    for number, text in enumerate(TEXTS):
        conn.execute("INSERT INTO articles (dataset_id, text, content_hash, created_at) VALUES (1, ?, ?, 1.0)", (text, f"h{number}"))
        conn.execute("INSERT INTO sentences (dataset_id, article_id, idx, position, start, \"end\", text, tokens)"
                     " VALUES (1, ?, 0, ?, 0, ?, ?, '[]')", (number + 1, number + 1, len(text), text))
    conn.execute("COMMIT")
    return conn


def assert_index_is_a_rebuild(conn: sqlite3.Connection) -> None:
    """The search index holds exactly the sentences' words: FTS5's own integrity check, then the
    same index built from scratch compared word by word (a contentless index cannot be compared
    with its content by FTS5 itself)."""
    conn.execute("INSERT INTO sentence_search (sentence_search) VALUES ('integrity-check')")
    conn.execute("CREATE VIRTUAL TABLE temp.rebuilt USING fts5(text, content='', detail=none, columnsize=0,"
                 " tokenize='unicode61 remove_diacritics 0')")
    conn.execute("CREATE VIRTUAL TABLE temp.rebuilt_terms USING fts5vocab(temp, rebuilt, row)")
    try:
        conn.execute("INSERT INTO temp.rebuilt (rowid, text) SELECT id, text FROM sentences")
        terms = [r[0] for r in conn.execute("SELECT term FROM temp.rebuilt_terms")]
        stored = [r[0] for r in conn.execute("SELECT term FROM sentence_search_terms WHERE doc > 0")]
        assert stored == terms
        for term in terms:
            quoted = '"' + term.replace('"', '""') + '"'
            rows = lambda table: [r[0] for r in conn.execute(  # noqa: E731
                f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid", (quoted,))]
            assert rows("sentence_search") == rows("rebuilt"), term
        indexed_to = conn.execute("SELECT indexed_to FROM sentence_search_state").fetchone()[0]
        assert indexed_to >= conn.execute("SELECT COALESCE(MAX(id), 0) FROM sentences").fetchone()[0]
    finally:
        conn.execute("DROP TABLE temp.rebuilt_terms")
        conn.execute("DROP TABLE temp.rebuilt")


def test_migration_indexes_a_database_from_before_the_index(tmp_path):
    path = tmp_path / "old.db"
    _database_at(path, "_v7_split_tokens").close()
    with Store(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store._search_expression("merov")  # the old sentences are in the index
        count = store.conn.execute("SELECT COUNT(*) FROM sentence_search WHERE sentence_search MATCH 'umerov'").fetchone()[0]
        assert count == 6
        assert_index_is_a_rebuild(store.conn)


def test_migration_from_the_trigger_kept_index(tmp_path):
    """A database written with the per-row triggers (v8): its index is complete, the watermark
    starts at its highest id, and its rows' later changes and deletions keep the index right."""
    path = tmp_path / "v8.db"
    conn = _database_at(path, "_v8_sentence_search_index")
    conn.execute("DELETE FROM sentences WHERE id = 3")  # v8's trigger takes it out of the index
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        conn = store.conn
        assert conn.execute("SELECT indexed_to FROM sentence_search_state").fetchone()[0] == len(TEXTS)
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'sentences_search_insert'").fetchone() is None
        assert_index_is_a_rebuild(conn)
        with store.transaction():
            conn.execute("UPDATE sentences SET text = 'Zelensky spoke' WHERE id = 1")
            conn.execute("DELETE FROM sentences WHERE id = 2")
        assert_index_is_a_rebuild(conn)
        assert store.search("d", "zelensky") == 1
        assert store.search("d", "Umerov", 1) == 6
        add_texts(store, "d", ["Umerov again, after the migration"])
        assert store.search("d", "again", 1) == len(TEXTS) + 1
        assert_index_is_a_rebuild(conn)


def test_index_follows_sentence_changes(store):
    add_texts(store, "d", ["first words here", "second words there"])
    conn = store.conn
    match = lambda word: [r[0] for r in conn.execute(  # noqa: E731
        "SELECT rowid FROM sentence_search WHERE sentence_search MATCH ? ORDER BY rowid", (word,))]
    ids = [r[0] for r in conn.execute("SELECT id FROM sentences ORDER BY position")]
    assert match("words") == ids
    with store.transaction():
        conn.execute("UPDATE sentences SET text = 'third words' WHERE id = ?", (ids[0],))
        conn.execute("DELETE FROM sentences WHERE id = ?", (ids[1],))
    assert match("words") == [ids[0]] and match("first") == [] and match("third") == [ids[0]] and match("second") == []
    assert_index_is_a_rebuild(conn)


def _indexed_to(store: Store) -> int:
    return store.conn.execute("SELECT indexed_to FROM sentence_search_state").fetchone()[0]


def test_a_transaction_indexes_its_sentences_once_at_its_end(store):
    """Sentences added inside a transaction reach the index in one statement at its end, in the
    same transaction: a rolled-back transaction leaves neither sentences nor index entries."""
    store.ensure_dataset("d")
    with store.transaction():
        add_texts(store, "d", ["alpha one", "beta two"])
        assert _indexed_to(store) == 0  # nothing indexed row by row
    assert _indexed_to(store) == store.conn.execute("SELECT MAX(id) FROM sentences").fetchone()[0]
    assert_index_is_a_rebuild(store.conn)
    with pytest.raises(RuntimeError):
        with store.transaction():
            add_texts(store, "d", ["gamma three"])
            raise RuntimeError("fails half-way")
    assert store.search("d", "gamma") is None and store.search("d", "beta") == 2
    assert_index_is_a_rebuild(store.conn)


def test_rows_above_the_watermark_change_without_touching_the_index(store):
    """Rows not indexed yet (written by SQL, outside ``add_article``) may be changed and deleted:
    the triggers leave the contentless index alone (a 'delete' of an unindexed row would corrupt
    it), and the next search indexes what is left. A reused id (the highest row deleted, then a
    new row) is indexed by the trigger, since it is at or below the watermark."""
    add_texts(store, "d", ["first words", "second words"])
    conn = store.conn
    article = conn.execute("SELECT article_id FROM sentences WHERE position = 1").fetchone()[0]
    insert = ("INSERT INTO sentences (dataset_id, article_id, idx, position, start, \"end\", text, tokens)"
              " VALUES (1, ?, ?, ?, 0, ?, ?, '[]')")
    with store.transaction():
        for idx, text in enumerate(["third words", "fourth words", "fifth words"], start=1):
            conn.execute(insert, (article, idx, idx + 2, len(text), text))
        conn.execute("UPDATE sentences SET text = 'third changed' WHERE position = 3")
        conn.execute("DELETE FROM sentences WHERE position = 4")
    assert _indexed_to(store) == 2
    assert store.search("d", "changed") == 3 and store.search("d", "fourth") is None and store.search("d", "fifth") == 5
    assert _indexed_to(store) == conn.execute("SELECT MAX(id) FROM sentences").fetchone()[0]
    assert_index_is_a_rebuild(conn)
    top = _indexed_to(store)
    with store.transaction():
        conn.execute("DELETE FROM sentences WHERE id = ?", (top,))
        conn.execute(insert.replace("(dataset_id", "(id, dataset_id").replace("VALUES (", "VALUES (?, "),
                     (top, article, 9, 6, 5, "sixth"))
    assert_index_is_a_rebuild(conn)
    assert store.search("d", "sixth") == 6 and store.search("d", "fifth") is None


def test_every_insert_path_is_indexed(tmp_path, scheme):
    """Plain import, annotated import and merge each leave the index equal to a rebuild, and search
    finds their sentences; a read-only store scans sentences a writer left unindexed."""
    from annotator.annotated_import import import_annotated
    from annotator.importer import ArticleImporter, ArticleInput
    from annotator.store import merge_into

    source = tmp_path / "source.db"
    with Store(source) as store:
        store.ensure_dataset("d")
        ArticleImporter(store, "d").import_articles([ArticleInput("Kyiv said so.\n\nThe Pentagon agreed.", "a")])
        assert store.search("d", "pentagon") == 2
        assert_index_is_a_rebuild(store.conn)
    prodigy = tmp_path / "p.jsonl"
    prodigy.write_text(json.dumps({"text": "Austin met Umerov.", "spans": [], "answer": "accept",
                                   "_annotator_id": "d-alice"}) + "\n", encoding="utf-8")
    target = tmp_path / "target.db"
    with Store(target) as store:
        import_annotated(store, "d", prodigy, "prodigy", scheme)
        assert store.search("d", "umerov") == 1
        merge_into(store, source)
        assert store.search("d", "pentagon") == 3
        assert_index_is_a_rebuild(store.conn)
        conn = store.conn
        with store.transaction():  # rows written by SQL: only the next search indexes them
            conn.execute("INSERT INTO sentences (dataset_id, article_id, idx, position, start, \"end\", text, tokens)"
                         " VALUES (1, 1, 1, 4, 0, 14, 'Odesa is quiet', '[]')")
        watermark = _indexed_to(store)
    with Store(target, readonly=True) as reader:
        assert reader.search("d", "odesa") == 4 and reader.search("d", "quiet", 4, backwards=True) == 4
        assert reader.search("d", "Pentagon", 4) == 3
        assert _indexed_to(reader) == watermark  # read-only: scanned, not indexed
    with Store(target) as store:
        assert store.search("d", "odesa") == 4
        assert _indexed_to(store) > watermark
        assert_index_is_a_rebuild(store.conn)


def test_search_command(tmp_path):
    db = tmp_path / "s.db"
    with Store(db) as store:
        add_texts(store, "d", TEXTS)
    result = run_cli("search", "d", "umerov", "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:6]] == ["1", "6", "9", "14", "17", "22"]
    assert "Defense Minister Rustem Umerov" in lines[0]
    assert "6 sentences" in result.stderr or "6 sentences" in result.stdout
    limited = run_cli("search", "d", "Umerov", "--limit", "2", "--json", "--db", str(db))
    assert limited.returncode == 0, limited.stderr
    records = [json.loads(line) for line in limited.stdout.splitlines()]
    assert [r["position"] for r in records] == [1, 6]
    assert records[0]["text"] == TEXTS[0]
    markup = run_cli("search", "d", "[bold]", "--db", str(db))
    assert markup.returncode == 0 and "no sentence" in (markup.stdout + markup.stderr)
    missing = run_cli("search", "nope", "x", "--db", str(db))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_search_while_another_writer_holds_the_lock_scans_the_unindexed_rows(tmp_path):
    """Rows left unindexed (written by SQL) are scanned when another connection holds the write
    lock, instead of waiting for it; the next search after the lock is released indexes them."""
    path = tmp_path / "locked.db"
    with Store(path) as store:
        add_texts(store, "d", ["first words", "second words"])
        article = store.conn.execute("SELECT article_id FROM sentences WHERE position = 1").fetchone()[0]
        with store.transaction():
            store.conn.execute("INSERT INTO sentences (dataset_id, article_id, idx, position, start, \"end\", text, tokens)"
                               " VALUES (1, ?, 1, 3, 0, 11, 'third words', '[]')", (article,))
        watermark = _indexed_to(store)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            assert store.search("d", "third") == 3 and store.search("d", "words", 3, backwards=True) == 2
            assert _indexed_to(store) == watermark
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert store.search("d", "third") == 3
        assert _indexed_to(store) > watermark
        assert_index_is_a_rebuild(store.conn)
