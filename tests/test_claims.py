"""Routing with ``overlap: N``: the sentence handed to an annotator is claimed, so screens opened at
the same moment get different sentences, and after a decision the screen goes on to the next
sentence that has room (not simply the next position)."""

from __future__ import annotations

import threading
import time

import pytest

from annotator.errors import DatasetError
from annotator.store import Store
from annotator.store.queries import CLAIM_SECONDS

from .test_tui import SIZE, make_app, sync


def sentence(store: Store, position: int):
    return store.sentence_at("demo", position).sentence


def test_a_live_claim_takes_the_room_of_a_sentence(seeded_store):
    store = seeded_store
    store.set_dataset_settings("demo", {"overlap": 1})
    assert store.first_undecided("demo", "alice") == 1
    assert store.claim("demo", "alice", 1)
    assert store.first_undecided("demo", "bob") == 2  # 1 is alice's
    assert store.first_undecided("demo", "alice") == 1  # her own claim does not keep her away
    assert not store.claim("demo", "bob", 1)
    assert store.claims("demo") == {"alice": 1}
    assert store.claim("demo", "bob", 2)
    # one claim per annotator: a new one replaces the old
    assert store.claim("demo", "alice", 3)
    assert store.claims("demo") == {"alice": 3, "bob": 2}
    assert store.first_undecided("demo", "carol") == 1
    store.release_claim("demo", "bob")
    store.release_claim("demo", "bob")  # nothing left: no error
    assert store.claims("demo") == {"alice": 3}
    assert store.first_undecided("demo", "carol", 2) == 2


def test_a_claim_lapses_and_a_decided_claimed_sentence_counts_once(seeded_store):
    store = seeded_store
    store.set_dataset_settings("demo", {"overlap": 2})
    assert store.claim("demo", "alice", 1)
    store.add_decision(sentence(store, 1), annotator="alice", answer="accept")
    # alice decided 1 and still claims it: one annotator, so 1 still has room for one more
    assert store.first_undecided("demo", "bob") == 1
    assert store.claim("demo", "bob", 1)
    assert store.first_undecided("demo", "carol") == 2
    later = time.time() + CLAIM_SECONDS + 1
    # bob's claim lapsed: only alice's decision counts
    assert store.first_undecided("demo", "carol", now=later) == 1
    assert store.claims("demo", now=later) == {}
    assert store.claim("demo", "carol", 1, now=later)


def test_without_overlap_claims_change_nothing(seeded_store):
    store = seeded_store
    assert store.claim("demo", "alice", 1)
    assert store.claim("demo", "bob", 1)
    assert store.first_undecided("demo", "carol") == 1
    with pytest.raises(DatasetError):
        store.claim("demo", "alice", 10_000)


def test_racing_screens_are_handed_different_sentences(seeded_store, tmp_db):
    seeded_store.set_dataset_settings("demo", {"overlap": 1})
    names = [f"a{n}" for n in range(6)]
    handed: dict[str, int] = {}
    barrier = threading.Barrier(len(names))

    def open_screen(name: str) -> None:
        with Store(tmp_db) as store:
            barrier.wait()
            position = store.first_undecided("demo", name)
            while not store.claim("demo", name, position):  # what the screen does
                position = store.first_undecided("demo", name, position + 1)
            handed[name] = position

    threads = [threading.Thread(target=open_screen, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(handed.values()) == list(range(1, len(names) + 1))


def test_the_schema_migration_adds_claims_to_an_older_database(tmp_path):
    import sqlite3

    from annotator.store.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    names = [m.__name__ for m in MIGRATIONS]
    upto = names.index("_v10_claims")
    for migration in MIGRATIONS[:upto]:
        migration(conn)
    conn.execute(f"PRAGMA user_version = {upto}")
    conn.execute("INSERT INTO datasets (name, created_at, settings) VALUES ('demo', 1.0, '{\"overlap\": 1}')")
    conn.execute("INSERT INTO articles (dataset_id, text, content_hash, created_at) VALUES (1, 'One. Two.', 'h', 1.0)")
    for position, (start, end, text) in enumerate([(0, 4, "One."), (5, 9, "Two.")], 1):
        conn.execute(
            "INSERT INTO sentences (dataset_id, article_id, idx, position, start, \"end\", text, tokens)"
            " VALUES (1, 1, ?, ?, ?, ?, ?, '[0,3,3,4]')", (position - 1, position, start, end, text)
        )
    conn.execute("COMMIT")
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.claim("demo", "alice", 1)
        assert store.first_undecided("demo", "bob") == 2


# -- the annotate screen ---------------------------------------------------------------------------


@pytest.fixture
def routed_db(tmp_path):
    from .test_tui import plain_dataset

    path = tmp_path / "routed.db"
    plain_dataset(path, sentences=8)
    with Store(path) as store:
        store.set_dataset_settings("plain", {"overlap": 1})
    return path


def plain_app(db, scheme, annotator):
    from annotator.tui.app import AnnotatorApp

    app = AnnotatorApp(db, "plain", annotator, scheme, suggester=None)
    app.animation_level = "none"
    return app


def decide(db, annotator: str, *positions: int) -> None:
    with Store(db) as store:
        for position in positions:
            store.add_decision(store.sentence_at("plain", position).sentence, annotator=annotator, answer="accept")


@sync
async def test_two_screens_open_at_once_get_different_sentences_and_quit_frees_the_claim(routed_db, scheme):
    alice, bob = plain_app(routed_db, scheme, "alice"), plain_app(routed_db, scheme, "bob")
    async with alice.run_test(size=SIZE) as a_pilot:
        await a_pilot.pause()
        assert alice.annotate_screen.position == 1
        async with bob.run_test(size=SIZE) as b_pilot:
            await b_pilot.pause()
            assert bob.annotate_screen.position == 2
            await b_pilot.press("a")
            await b_pilot.pause()
            assert bob.annotate_screen.position == 3  # 1 is alice's, 2 bob decided
        with Store(routed_db) as store:
            assert store.claims("plain") == {"alice": 1}  # bob quit: his claim is gone
        await a_pilot.press("a")
        await a_pilot.pause()
        assert alice.annotate_screen.position == 3  # 2 was decided by bob, 3 is free again
    with Store(routed_db) as store:
        assert store.claims("plain") == {}
        decided = {name: [p for p in range(1, 9) if store.current_decision(store.sentence_at("plain", p).sentence.id, name)]
                   for name in ("alice", "bob")}
    assert decided == {"alice": [1], "bob": [2]}


@sync
async def test_after_a_decision_the_screen_passes_over_sentences_without_room(routed_db, scheme):
    decide(routed_db, "alice", 1, 2, 3, 5, 6)
    bob = plain_app(routed_db, scheme, "bob")
    async with bob.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert bob.annotate_screen.position == 4
        await pilot.press("a")
        await pilot.pause()
        assert bob.annotate_screen.position == 7  # not 5: alice decided 5 and 6, overlap is 1
        await pilot.press("a", "a")
        await pilot.pause()
        # 8 decided, nothing with room is left: the screen stays and says so
        assert bob.annotate_screen.position == 8
    with Store(routed_db) as store:
        assert store.first_undecided("plain", "carol") is None
        assert store.claims("plain") == {}


@sync
async def test_with_overlap_all_the_screen_walks_in_document_order(routed_db, scheme):
    with Store(routed_db) as store:
        store.set_dataset_settings("plain", {"overlap": "all"})
    decide(routed_db, "alice", 1, 3)
    bob = plain_app(routed_db, scheme, "bob")
    async with bob.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert bob.annotate_screen.position == 1
        await pilot.press("a")
        await pilot.pause()
        assert bob.annotate_screen.position == 2
    with Store(routed_db) as store:
        assert store.claims("plain") == {}


@sync
async def test_a_draft_on_a_sentence_someone_else_holds_now_is_not_reopened(routed_db, scheme):
    with Store(routed_db) as store:
        store.save_draft(store.sentence_at("plain", 3).sentence, "alice", (), ())
        assert store.claim("plain", "bob", 3)
    alice = plain_app(routed_db, scheme, "alice")
    async with alice.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert alice.annotate_screen.position == 1
    with Store(routed_db) as store:
        store.release_claim("plain", "bob")
    alice = plain_app(routed_db, scheme, "alice")
    async with alice.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert alice.annotate_screen.position == 3  # free again: her draft is where she resumes
