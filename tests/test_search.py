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


def test_migration_indexes_an_existing_database(tmp_path):
    path = tmp_path / "old.db"
    with Store(path) as store:
        add_texts(store, "d", TEXTS)
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TRIGGER sentences_search_insert; DROP TRIGGER sentences_search_delete; DROP TRIGGER sentences_search_update;"
        "DROP TABLE sentence_search_terms; DROP TABLE sentence_search;"
    )
    (migration,) = [m for m in MIGRATIONS if m.__name__ == "_v8_sentence_search_index"]
    with conn:
        migration(conn)  # what opening a database of the version before it does
    conn.close()
    with Store(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store._search_expression("merov")  # the old sentences are in the index
        count = store.conn.execute("SELECT COUNT(*) FROM sentence_search WHERE sentence_search MATCH 'umerov'").fetchone()[0]
        assert count == 6


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
