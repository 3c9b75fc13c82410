"""The store: schema versions and migrations, append-only history, current decisions, undo."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from annotator.errors import AnnotationError, DatasetError, StoreError
from annotator.model import Relation, Span
from annotator.store import DecisionRecord, Store
from annotator.store.schema import MIGRATIONS, SCHEMA_VERSION


def first(store: Store, position: int = 3):
    return store.sentence_at("demo", position).sentence


def span_of(sentence, word: str, label: str) -> Span:
    start = sentence.text.index(word)
    end = start + len(word)
    first = next(i for i, t in enumerate(sentence.tokens) if t.start == start)
    last = next(i for i, t in enumerate(sentence.tokens) if t.end == end)
    return Span(start, end, label, first, last)


def test_pragmas_and_version(store):
    assert store.schema_version() == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_seed_import_offsets_reconstruct(seeded_store):
    article = next(seeded_store.articles("demo"))
    for sentence in seeded_store.article_sentences(article.id):
        assert article.text[sentence.start : sentence.end] == sentence.text
        for tok in sentence.tokens:
            assert sentence.text[tok.start : tok.end].strip()
    assert seeded_store.sentence_count("demo") == 22
    assert article.title.startswith("Ukraine defense minister presses US")
    assert article.meta["kicker"] == "International"


def test_history_is_append_only_and_latest_row_is_current(seeded_store):
    store = seeded_store
    sentence = first(store)
    umerov = span_of(sentence, "Rustem Umerov", "PERSON")
    kyiv = span_of(sentence, "Kyiv", "GPE")
    d1 = store.add_decision(sentence, annotator="alice", answer="accept", spans=[umerov], seconds=2.5)
    d2 = store.add_decision(sentence, annotator="alice", answer="accept", spans=[umerov, kyiv])
    assert d2.supersedes == d1.id
    assert store.current_decision(sentence.id, "alice").id == d2.id
    assert [d.id for d in store.history(sentence.id, "alice")] == [d1.id, d2.id]
    assert store.decision(d1.id).seconds == 2.5
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("UPDATE decisions SET answer = 'reject' WHERE id = ?", (d1.id,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("DELETE FROM decisions WHERE id = ?", (d1.id,))
    # another annotator's decisions are separate
    store.add_decision(sentence, annotator="bob", answer="reject")
    assert store.current_decision(sentence.id, "alice").answer == "accept"
    assert store.current_decision(sentence.id, "bob").answer == "reject"


def test_undo_adds_rows_restoring_previous_state(seeded_store):
    store = seeded_store
    sentence = first(store)
    umerov = span_of(sentence, "Rustem Umerov", "PERSON")
    d1 = store.add_decision(sentence, annotator="alice", answer="accept", spans=[umerov])
    d2 = store.add_decision(sentence, annotator="alice", answer="reject")
    u1 = store.undo(d2)
    assert u1.kind == "undo" and u1.answer == "accept" and u1.spans == (umerov,)
    assert u1.supersedes == d2.id
    u2 = store.undo(store.current_decision(sentence.id, "alice"))
    # undoing the undo row restores what it superseded (the reject)
    assert u2.answer == "reject"
    rows = store.history(sentence.id, "alice")
    assert len(rows) == 4  # nothing deleted
    with pytest.raises(AnnotationError):
        store.undo(d1)  # not current any more
    # undo of a first decision returns the sentence to "not decided"
    other = first(store, 4)
    d = store.add_decision(other, annotator="alice", answer="accept")
    back = store.undo(d)
    assert back.answer is None
    assert store.first_undecided("demo", "alice", 4) == 4


def test_first_undecided_and_progress(seeded_store):
    store = seeded_store
    for position in (1, 2, 4):
        store.add_decision(first(store, position), annotator="alice", answer="accept")
    assert store.first_undecided("demo", "alice") == 3
    assert store.first_undecided("demo", "alice", 4) == 5
    assert store.first_undecided("demo", "bob") == 1
    assert store.progress("demo", "alice") == 3
    assert store.progress("demo", "bob") == 0


def test_invalid_spans_and_dangling_relations_are_refused(seeded_store):
    store = seeded_store
    sentence = first(store)
    umerov = span_of(sentence, "Rustem Umerov", "PERSON")
    off = Span(umerov.start + 1, umerov.end, "PERSON", umerov.token_start, umerov.token_end)
    with pytest.raises(AnnotationError, match="token boundary"):
        store.add_decision(sentence, annotator="alice", answer="accept", spans=[off])
    with pytest.raises(AnnotationError, match="outside"):
        store.add_decision(sentence, annotator="alice", answer="accept",
                           spans=[Span(0, 10_000, "PERSON", 0, 1)])
    dangling = Relation(umerov.key, (0, 7), "HAS_ROLE")
    with pytest.raises(AnnotationError, match="not annotated"):
        store.add_decision(sentence, annotator="alice", answer="accept", spans=[umerov], relations=[dangling])
    overlap = span_of(sentence, "Umerov", "PERSON")
    with pytest.raises(AnnotationError, match="overlap"):
        store.add_decision(sentence, annotator="alice", answer="accept", spans=[umerov, overlap], allow_overlaps=False)
    assert store.history(sentence.id) == []


def _make_v1(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    now = 1.0
    conn.execute("INSERT INTO datasets (name, created_at) VALUES ('old', ?)", (now,))
    conn.execute("INSERT INTO articles (dataset_id, text, content_hash, created_at) VALUES (1, 'Hi there.', 'h', ?)", (now,))
    conn.execute("INSERT INTO sentences (dataset_id, article_id, idx, position, start, \"end\", text, tokens)"
                 " VALUES (1, 1, 0, 1, 0, 9, 'Hi there.', '[0,2,3,8,8,9]')")
    for i, answer in enumerate(("reject", "accept")):
        conn.execute("INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, answer, created_at)"
                     " VALUES (?, 1, 1, 'alice', ?, ?)", (f"u{i}", answer, now + i))
    conn.execute("COMMIT")
    conn.close()


def test_older_database_is_migrated_on_open(tmp_path):
    path = tmp_path / "old.db"
    _make_v1(path)
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        sentence = store.sentence_at("old", 1).sentence
        assert store.current_decision(sentence.id, "alice").answer == "accept"
        assert store.progress("old", "alice") == 1
        assert store.first_undecided("old", "alice") is None
        new = store.add_decision(sentence, annotator="alice", answer="ignore")
        assert new.supersedes == 2


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer annotator"):
        Store(path)


def test_not_a_database_missing_folder_and_folder(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("hello, not sqlite")
    with pytest.raises(StoreError, match="not a SQLite file"):
        Store(junk)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing" / "x.db")
    with pytest.raises(StoreError, match="folder"):
        Store(tmp_path)


def test_not_a_database_is_left_as_it_was(tmp_path):
    for name, data in (("short", b"hello"), ("text", b'{"text": "an article"}\n' * 40), ("empty-header", bytes(4096))):
        junk = tmp_path / f"{name}.db"
        junk.write_bytes(data)
        with pytest.raises(StoreError):
            Store(junk)
        assert junk.read_bytes() == data, name
        assert not Path(f"{junk}-wal").exists() and not Path(f"{junk}-shm").exists()


def test_a_second_store_in_the_process_keeps_the_first_ones_commits(tmp_path):
    """Opening and closing another Store on the same file in the process (an app's worker does, while
    the main connection stays open) must not drop the main connection's file locks: another process
    closing its connection would then take the database for unused, checkpoint it and delete the
    -wal file under the main connection, whose later commits would be lost."""
    import subprocess
    import sys

    path = tmp_path / "shared.db"
    main = Store(path)
    main.ensure_dataset("demo")
    worker = Store(path)
    worker.close()
    other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT count(*) FROM datasets').fetchone(); c.close()"
    subprocess.run([sys.executable, "-c", other, str(path)], check=True)
    main.ensure_dataset("later")
    count = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM datasets').fetchone()[0])"
    seen = subprocess.run([sys.executable, "-c", count, str(path)], check=True, capture_output=True, text=True)
    main.close()
    assert seen.stdout.strip() == "2"


READ_ONLY_CHILD = r"""
import os, sys
from annotator.errors import StoreError
from annotator.store import Store
path, uid, gid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if os.geteuid() == 0:  # root ignores file permissions: drop to the unprivileged user first
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
try:
    Store(path)
except StoreError as exc:
    print(exc.message)
with Store(path, readonly=True) as store:
    print("readable", store.schema_version())
"""


def test_read_only_file(unprivileged_folder):
    """Run as an unprivileged user in a child process (root, as in CI, would write the file anyway)."""
    import subprocess
    import sys

    user, folder = unprivileged_folder
    path = folder / "ro.db"
    Store(path).close()
    path.chmod(0o444)
    result = subprocess.run([sys.executable, "-c", READ_ONLY_CHILD, str(path), str(user[0]), str(user[1])],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{path}: the database is read-only (check the file's permissions)",
                                          f"readable {SCHEMA_VERSION}"]


def test_unknown_dataset_names_known_ones(seeded_store):
    with pytest.raises(DatasetError, match="demo"):
        seeded_store.dataset("nope")


def test_search_wraps_around(seeded_store):
    assert seeded_store.search("demo", "ATACMS", 0) == 4
    assert seeded_store.search("demo", "ATACMS", 4) == 16
    assert seeded_store.search("demo", "atacms", 16) == 4
    assert seeded_store.search("demo", "no such words") is None
    assert seeded_store.search("demo", "100%_") is None


def test_separate_connections_see_committed_decisions(seeded_store, tmp_db):
    sentence = first(seeded_store)
    seeded_store.add_decision(sentence, annotator="alice", answer="accept")
    with Store(tmp_db) as other:
        assert other.current_decision(sentence.id, "alice").answer == "accept"


def test_overlap_routing_passes_over_saturated_sentences(seeded_store):
    store = seeded_store
    store.set_dataset_settings("demo", {"overlap": 2})
    for name in ("alice", "bob"):
        store.add_decision(first(store, 1), annotator=name, answer="accept")
    store.add_decision(first(store, 2), annotator="alice", answer="accept")
    # carol is new: sentence 1 is saturated (2 annotators); sentence 2 has one annotator, so it is hers
    assert store.first_undecided("demo", "carol") == 2
    store.add_decision(first(store, 2), annotator="carol", answer="accept")
    assert store.first_undecided("demo", "carol") == 3
    assert store.first_undecided("demo", "bob") == 3  # 2 is saturated for bob too
    store.set_dataset_settings("demo", {"overlap": "all"})
    assert store.first_undecided("demo", "bob") == 2


def test_merge_is_idempotent_and_equals_working_in_one_db(tmp_path, scheme):
    from annotator.importer import ArticleImporter, ArticleInput
    from annotator.store import merge_into

    from .conftest import SEED

    text = SEED.read_text(encoding="utf-8")

    def make(path, annotator, positions, answer):
        with Store(path) as s:
            s.ensure_dataset("demo")
            ArticleImporter(s, "demo").import_articles([ArticleInput(text, "seed")])
            for p in positions:
                sentence = s.sentence_at("demo", p).sentence
                s.add_decision(sentence, annotator=annotator, answer=answer)

    paths = [tmp_path / f"{n}.db" for n in ("a", "b", "c")]
    make(paths[0], "alice", [1, 2, 3], "accept")
    make(paths[1], "bob", [2, 3], "reject")
    make(paths[2], "carol", [5], "ignore")
    target = tmp_path / "all.db"
    with Store(target) as merged:
        for p in paths:
            merge_into(merged, p)
        again = [merge_into(merged, p) for p in paths]
        assert sum(r.decisions + r.articles + r.sentences for r in again) == 0
        state = sorted((s.position, d.annotator, d.answer) for s, d in merged.current_decisions("demo"))
        assert merged.sentence_count("demo") == 22
    assert state == sorted([(1, "alice", "accept"), (2, "alice", "accept"), (3, "alice", "accept"),
                            (2, "bob", "reject"), (3, "bob", "reject"), (5, "carol", "ignore")])


def test_network_filesystem_is_refused(tmp_path, monkeypatch):
    import annotator.store.connection as store_module

    monkeypatch.setattr(store_module, "filesystem_type", lambda path: "nfs4")
    with pytest.raises(StoreError, match="network filesystem"):
        Store(tmp_path / "n.db")
    monkeypatch.setenv("ANNOTATOR_ALLOW_NETWORK_FS", "1")
    Store(tmp_path / "n.db").close()
    monkeypatch.undo()
    assert store_module.filesystem_type(tmp_path / "n.db") is not None


def test_current_follows_inserts_that_ignore_duplicates(seeded_store):
    """Imports and merges insert with ``add_imported_decisions`` (INSERT OR IGNORE); SQLite hands that
    policy to the trigger, which then left ``current`` on the first decision (schema v2)."""
    store = seeded_store
    sentence = first(store)
    gpe = span_of(sentence, "Kyiv", "GPE")
    loc = span_of(sentence, "Kyiv", "LOC")
    assert store.add_imported_decisions([DecisionRecord(sentence, "dave", "accept", "a", 1.0, spans=(gpe,))]) == 1
    d1 = store.current_decision(sentence.id, "dave")
    assert store.add_imported_decisions([DecisionRecord(sentence, "dave", "accept", "b", 2.0, spans=(loc,))]) == 1
    d2 = store.current_decision(sentence.id, "dave")
    assert (d1.uid, d2.uid) == ("a", "b")
    assert d2.supersedes == d1.id
    assert store.current_decision(sentence.id, "dave").id == d2.id
    (_, current), = list(store.current_decisions("demo", ["dave"]))
    assert current.id == d2.id and current.spans == (loc,)
    assert store.stats("demo")["spans_per_label"] == {"LOC": 1}
    # A duplicate uid adds nothing and leaves current alone.
    assert store.add_imported_decisions([DecisionRecord(sentence, "dave", "accept", "a", 3.0, spans=(gpe,))]) == 0
    assert store.current_decision(sentence.id, "dave").id == d2.id


def test_v2_database_with_stale_current_is_repaired_on_open(tmp_path):
    path = tmp_path / "v2.db"
    _make_v1(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 2")
    # What the v2 trigger did under INSERT OR IGNORE: current stays on the old row.
    conn.execute("INSERT OR IGNORE INTO decisions (uid, dataset_id, sentence_id, annotator, answer, created_at)"
                 " VALUES ('u9', 1, 1, 'alice', 'ignore', 9.0)")
    assert conn.execute("SELECT answer FROM current").fetchone()[0] == "accept"
    conn.execute("COMMIT")
    conn.close()
    with Store(path) as store:
        assert store.current_decision(1, "alice").answer == "ignore"
        assert store.conn.execute("SELECT answer FROM current").fetchone()[0] == "ignore"


def test_drafts_are_kept_and_never_count_as_decisions(seeded_store):
    store = seeded_store
    sentence = first(store)
    kyiv = span_of(sentence, "Kyiv", "GPE")
    assert store.draft(sentence.id, "alice") is None
    store.save_draft(sentence, "alice", [kyiv], [])
    store.save_draft(sentence, "alice", [kyiv], [])  # replaced, not added
    assert store.draft(sentence.id, "alice") == ((kyiv,), ())
    assert store.draft(sentence.id, "bob") is None
    assert store.progress("demo", "alice") == 0
    assert store.stats("demo")["decisions_per_annotator"] == {}
    assert list(store.current_decisions("demo")) == []
    assert store.first_undecided("demo", "alice") == 1
    store.add_decision(sentence, annotator="alice", answer="accept", spans=[kyiv])
    assert store.draft(sentence.id, "alice") is None
    store.save_draft(sentence, "alice", [], [])
    store.discard_draft(sentence.id, "alice")
    assert store.draft(sentence.id, "alice") is None


@pytest.mark.parametrize("gold", [False, True])
def test_undo_of_a_decision_brought_back_by_an_earlier_undo(seeded_store, gold):
    """A session that decided a sentence twice undoes the later decision, then the earlier one:
    the second undo finds an undo row holding the earlier decision's content and restores the
    state before it. The same rule serves the annotate and the review screens (gold)."""
    store = seeded_store
    sentence = first(store)
    kyiv = span_of(sentence, "Kyiv", "GPE")
    d1 = store.add_decision(sentence, annotator="rev", answer="accept", spans=[kyiv], gold=gold)
    d2 = store.add_decision(sentence, annotator="rev", answer="reject", gold=gold)
    u2 = store.undo(d2)
    assert (u2.answer, u2.spans, u2.gold) == ("accept", (kyiv,), gold)
    u1 = store.undo(d1)
    assert u1.answer is None and u1.meta == {"undoes": d1.id}
    assert store.current_decision(sentence.id, "rev", gold=gold).answer is None
    # Now the sentence holds nothing of d1 or d2: undoing either again is refused.
    with pytest.raises(AnnotationError, match="changed elsewhere"):
        store.undo(d2)
    with pytest.raises(AnnotationError, match="changed elsewhere"):
        store.undo(d1)


def _prodigy_file(path: Path, label: str, timestamp: int) -> Path:
    import json

    record = {"text": "Paris is nice.", "spans": [{"start": 0, "end": 5, "label": label}], "answer": "accept",
              "_annotator_id": "dave", "_timestamp": timestamp}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def _dave_label(db: Path) -> str:
    with Store(db) as store:
        sentence = store.sentence_at("d", 1).sentence
        return store.current_decision(sentence.id, "dave").spans[0].label


def test_merge_in_either_direction_gives_the_same_current_decision(tmp_path):
    """``current`` is the newest decision by time, not the row added last: merging A into B and B
    into A agree, and importing an older version after a newer one keeps the newer one current."""
    import shutil

    from annotator.annotated_import import import_annotated
    from annotator.labels import find_scheme
    from annotator.store import merge_into

    scheme = find_scheme(None)
    q0 = _prodigy_file(tmp_path / "q0.jsonl", "GPE", 1000)
    qa = _prodigy_file(tmp_path / "qa.jsonl", "LOC", 3000)
    qb = _prodigy_file(tmp_path / "qb.jsonl", "FAC", 2000)
    pa, pb = tmp_path / "pa.db", tmp_path / "pb.db"
    with Store(pa) as store:
        store.ensure_dataset("d")
        import_annotated(store, "d", q0, "prodigy", scheme)
    shutil.copy(pa, pb)
    with Store(pa) as store:
        import_annotated(store, "d", qa, "prodigy", scheme)
    with Store(pb) as store:
        import_annotated(store, "d", qb, "prodigy", scheme)
    assert (_dave_label(pa), _dave_label(pb)) == ("LOC", "FAC")
    pc = tmp_path / "pc.db"
    shutil.copy(pa, pc)
    with Store(pa) as store:
        merge_into(store, pb)
    with Store(pb) as store:
        merge_into(store, pc)
    assert _dave_label(pa) == _dave_label(pb) == "LOC"  # the decision of time 3000
    for db in (pa, pb):
        with Store(db) as store:
            assert store.verify("d").ok
    # One database, the three versions in the order GPE, LOC, FAC: LOC (time 3000) stays current,
    # FAC goes into the history superseding GPE, the newest decision before it.
    pd = tmp_path / "pd.db"
    with Store(pd) as store:
        store.ensure_dataset("d")
        for path in (q0, qa, qb):
            import_annotated(store, "d", path, "prodigy", scheme)
        sentence = store.sentence_at("d", 1).sentence
        history = {d.spans[0].label: d for d in store.history(sentence.id, "dave")}
        assert history["FAC"].supersedes == history["GPE"].id
        assert history["LOC"].supersedes == history["GPE"].id
        assert store.verify("d").ok
    assert _dave_label(pd) == "LOC"


def test_a_decision_made_now_is_current_even_when_the_clock_stepped_back(seeded_store, monkeypatch):
    import time as time_module

    store = seeded_store
    sentence = first(store)
    kyiv = span_of(sentence, "Kyiv", "GPE")
    d1 = store.add_decision(sentence, annotator="alice", answer="accept", spans=[kyiv])
    monkeypatch.setattr(time_module, "time", lambda: d1.created_at - 3600.0)  # an hour back
    d2 = store.add_decision(sentence, annotator="alice", answer="reject")
    assert d2.created_at > d1.created_at and d2.supersedes == d1.id
    assert store.current_decision(sentence.id, "alice").id == d2.id
    u2 = store.undo(d2)
    assert u2.created_at > d2.created_at and store.current_decision(sentence.id, "alice").id == u2.id
