"""Pilot tests of ``annotator review``: keys in, gold rows in the database out.

The database holds the seed article (imported without a model) and the decisions of alice, bob and
carol: they agree on sentence 2, disagree on sentences 3 and 4, and only alice decided sentence 5
(one version: not reviewable). Each test builds its own copy.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from annotator.model import Relation, span_at_tokens
from annotator.store import Store

from .conftest import ROOT, SEED, run_cli

SIZE = (140, 45)
REVIEWER = "rev"


def sync(test):
    """Run an ``async def`` test with ``asyncio.run`` (no async pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


def token_index(sentence, word: str) -> int:
    return next(i for i, t in enumerate(sentence.tokens) if sentence.text[t.start : t.end] == word)


def make_span(sentence, first: str, last: str | None, label: str):
    return span_at_tokens(sentence.text, sentence.tokens, token_index(sentence, first), token_index(sentence, last or first), label)


def words(sentence, spans) -> list[tuple[str, str]]:
    return sorted((sentence.text[s.start : s.end], s.label) for s in spans)


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    from annotator.importer import ArticleImporter, ArticleInput

    path = tmp_path_factory.mktemp("review") / "template.db"
    with Store(path) as store:
        store.ensure_dataset("demo")
        ArticleImporter(store, "demo").import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))])
        s2, s3, s4, s5 = (store.sentence_at("demo", n).sentence for n in (2, 3, 4, 5))
        agreed = [make_span(s2, "Ukraine", None, "GPE"), make_span(s2, "US", None, "GPE")]
        for name in ("alice", "bob", "carol"):
            store.add_decision(s2, annotator=name, answer="accept", spans=agreed, session=f"{name}-1")
        # Sentence 3: alice and carol label Kyiv GPE, bob labels it PERSON.
        umerov = make_span(s3, "Rustem", "Umerov", "PERSON")
        russia = make_span(s3, "Russia", None, "GPE")
        for name in ("alice", "carol"):
            store.add_decision(s3, annotator=name, answer="accept", spans=[umerov, make_span(s3, "Kyiv", None, "GPE"), russia], session=f"{name}-1")
        store.add_decision(s3, annotator="bob", answer="accept", spans=[umerov, make_span(s3, "Kyiv", None, "PERSON"), russia], session="bob-1")
        # Sentence 4: alice adds a relation, bob has the same spans without it, carol rejects.
        cnn, alex = make_span(s4, "CNN", None, "ORG"), make_span(s4, "Alex", "Marquardt", "PERSON")
        spans4 = [make_span(s4, "Umerov", None, "PERSON"), cnn, alex]
        store.add_decision(s4, annotator="alice", answer="accept", spans=spans4, relations=[Relation(alex.key, cnn.key, "MEMBER_OF")], session="alice-1")
        store.add_decision(s4, annotator="bob", answer="accept", spans=spans4, session="bob-1")
        store.add_decision(s4, annotator="carol", answer="reject", session="carol-1")
        store.add_decision(s5, annotator="alice", answer="accept", spans=[make_span(s5, "Umerov", None, "PERSON")], session="alice-1")
    return path


@pytest.fixture
def db(template_db, tmp_path) -> Path:
    target = tmp_path / "review.db"
    shutil.copy(template_db, target)
    return target


def make_app(db: Path, scheme):
    from annotator.tui.review_app import ReviewApp

    app = ReviewApp(db, "demo", REVIEWER, scheme)
    app.animation_level = "none"
    return app


async def started(app, pilot):
    """Wait for the queue worker; return the review screen."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.review_screen


def sentence_and_gold(db: Path, position: int):
    with Store(db) as store:
        sentence = store.sentence_at("demo", position).sentence
        return sentence, store.current_decision(sentence.id, REVIEWER, gold=True)


def version_ids(db: Path, position: int) -> dict[str, int]:
    with Store(db) as store:
        sentence = store.sentence_at("demo", position).sentence
        return {name: store.current_decision(sentence.id, name).id for name in ("alice", "bob", "carol")}


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


# -- the queue -----------------------------------------------------------------------------------


@sync
async def test_opens_on_the_first_disagreement_with_versions_and_differences(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        queue = screen.queue
        assert len(queue) == 2 and queue.n_agreed == 1
        assert screen._load_sentence(queue.current.sentence_id).position == 3
        assert "sentence 3 of 22" in text_of(screen, "#header")
        progress = text_of(screen, "#review-progress")
        assert "item 1 of 2" in progress and "gold so far 0 of 2" in progress and "1 agreed sentence not gold yet" in progress
        panels = [p for p in screen._panels() if p.display]
        assert len(panels) == 2
        assert panels[0].border_title == "1 · alice, carol (2) · ✔ accept"
        assert panels[1].border_title == "2 · bob (1) · ✔ accept"
        assert "alice + carol | 2 bob" in text_of(screen, "#review-summary")
        first, second = str(panels[0].render()), str(panels[1].render())
        assert "✱Kyiv GPE" in first and "✱Kyiv PERSON" in second  # the difference is marked
        assert "Rustem Umerov PERSON" in first and "✱Rustem" not in first  # shared spans are not
        await pilot.press("]")
        assert screen._load_sentence(queue.current.sentence_id).position == 4
        panels = [p for p in screen._panels() if p.display]
        assert [p.border_title for p in panels] == ["1 · alice (1) · ✔ accept", "2 · bob (1) · ✔ accept", "3 · carol (1) · ✘ reject"]
        assert "Alex Marquardt [PERSON] ──MEMBER_OF──▶ CNN [ORG]" in str(panels[0].render())
        assert "✱" in str(panels[0].render())  # the relation only alice has
        await pilot.press("]")
        assert "last sentence in the queue" in text_of(screen, "#status")
        await pilot.press("[", "[")
        assert screen._load_sentence(queue.current.sentence_id).position == 3


@sync
async def test_digit_takes_that_version_as_gold_and_moves_on(db, scheme):
    ids = version_ids(db, 3)
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("2")  # bob's version
        assert screen._load_sentence(screen.queue.current.sentence_id).position == 4
        assert "gold so far 1 of 2" in text_of(screen, "#review-progress")
    sentence, gold = sentence_and_gold(db, 3)
    assert gold.gold and gold.answer == "accept" and gold.session.startswith(f"{REVIEWER}-review-")
    assert words(sentence, gold.spans) == [("Kyiv", "PERSON"), ("Russia", "GPE"), ("Rustem Umerov", "PERSON")]
    assert sorted(gold.meta["resolves"]) == sorted(ids.values())
    assert gold.meta["versions"] == ["bob"] and gold.meta["method"] == "chosen"


@sync
async def test_one_takes_version_one_with_its_relations(db, scheme):
    ids = version_ids(db, 4)
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("1")  # sentence 3: alice and carol
        await pilot.press("1")  # sentence 4: alice, with the relation
        assert "every one of the 2 sentences in the queue has gold" in text_of(screen, "#status")
    sentence, gold = sentence_and_gold(db, 3)
    assert ("Kyiv", "GPE") in words(sentence, gold.spans) and gold.meta["versions"] == ["alice", "carol"]
    sentence, gold = sentence_and_gold(db, 4)
    assert words(sentence, gold.spans) == [("Alex Marquardt", "PERSON"), ("CNN", "ORG"), ("Umerov", "PERSON")]
    assert [r.label for r in gold.relations] == ["MEMBER_OF"]
    assert sorted(gold.meta["resolves"]) == sorted(ids.values()) and gold.meta["versions"] == ["alice"]


@sync
async def test_enter_takes_the_selected_version_and_x_rejects(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("down")
        assert screen.selected == 1 and screen._panels()[1].has_class("-selected")
        await pilot.press("enter")
        await pilot.press("x")
    sentence, gold = sentence_and_gold(db, 3)
    assert gold.meta["versions"] == ["bob"]
    sentence, gold = sentence_and_gold(db, 4)
    assert gold.answer == "reject" and gold.spans == () and gold.meta == {
        "resolves": gold.meta["resolves"], "versions": ["carol"], "method": "rejected"
    }


@sync
async def test_edit_a_version_and_accept_stores_the_edited_spans(db, scheme):
    from annotator.tui.screens.review_edit import VersionEditScreen

    ids = version_ids(db, 3)
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("e")
        assert "edit which version? 1-2" in text_of(screen, "#status")
        await pilot.press("2")  # bob's version: Kyiv PERSON
        editor_screen = app.screen
        assert isinstance(editor_screen, VersionEditScreen)
        assert "editing a copy of version 2 (bob)" in text_of(editor_screen, "#header")
        editor = editor_screen.editor
        kyiv = token_index(editor_screen.sentence, "Kyiv")
        delta = kyiv - editor.cursor
        await pilot.press(*(["right"] * delta if delta > 0 else ["left"] * -delta))
        await pilot.press("g")  # relabel Kyiv GPE, with the annotate screen's hotkey
        await pilot.press("right", "right", "right", "shift+right", "w")  # "long-range" ... as WEAPON
        await pilot.press("a")
        assert app.screen is screen
        assert screen._load_sentence(screen.queue.current.sentence_id).position == 4
    sentence, gold = sentence_and_gold(db, 3)
    found = words(sentence, gold.spans)
    assert ("Kyiv", "GPE") in found and ("Kyiv", "PERSON") not in found
    assert any(label == "WEAPON" for _text, label in found)
    assert gold.meta["method"] == "edited" and gold.meta["versions"] == ["bob"]
    assert sorted(gold.meta["resolves"]) == sorted(ids.values())


@sync
async def test_keys_typed_ahead_are_handled_in_order(db, scheme):
    """``] e 2`` arriving at once (a paste, tmux send-keys) edits version 2 of the next sentence."""
    from textual import events

    from annotator.tui.screens.review_edit import VersionEditScreen

    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        for key, character in (("right_square_bracket", "]"), ("e", "e"), ("2", "2")):
            app.post_message(events.Key(key, character))
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, VersionEditScreen)
        assert app.screen.edit_sentence.position == 4 and "version 2 (bob)" in app.screen.description
    _sentence, gold = sentence_and_gold(db, 3)
    assert gold is None  # nothing was taken on the way


@sync
async def test_edit_discard_needs_two_q_and_stores_nothing(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("e", "e")  # e twice: the selected version (1)
        editor_screen = app.screen
        assert "version 1 (alice, carol)" in text_of(editor_screen, "#header")
        await pilot.press("d", "q")  # delete a span, then leave
        assert app.screen is editor_screen and "unsaved" in text_of(editor_screen, "#status")
        await pilot.press("q")
        assert app.screen is screen and "discarded" in text_of(screen, "#status")
        await pilot.press("e", "escape")
        assert "edit cancelled" in text_of(screen, "#status") and app.screen is screen
    sentence, gold = sentence_and_gold(db, 3)
    assert gold is None
    with Store(db) as store:  # editing a version keeps no draft (drafts are the annotate screen's)
        assert store.draft(sentence.id, REVIEWER) is None


@sync
async def test_undo_adds_an_undo_row_and_goes_back(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("1")
        assert screen._load_sentence(screen.queue.current.sentence_id).position == 4
        await pilot.press("u")
        assert screen._load_sentence(screen.queue.current.sentence_id).position == 3
        assert "gold so far 0 of 2" in text_of(screen, "#review-progress")
        await pilot.press("u")
        assert "nothing to undo" in text_of(screen, "#status")
    sentence, gold = sentence_and_gold(db, 3)
    assert gold.kind == "undo" and gold.answer is None and gold.gold
    with Store(db) as store:
        rows = store.history(sentence.id, REVIEWER)
    assert [(r.kind, r.answer) for r in rows] == [("decision", "accept"), ("undo", None)]
    assert rows[1].meta == {"undoes": rows[0].id} and rows[1].supersedes == rows[0].id


@sync
async def test_undo_walks_back_two_gold_decisions_of_one_sentence(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("1", "[", "2")  # version 1, back, then version 2 of the same sentence
        await pilot.press("u")
        _sentence, gold = sentence_and_gold(db, 3)
        assert gold.kind == "undo"
        assert gold.answer == "accept" and ("Kyiv", "GPE") in words(_sentence, gold.spans)  # version 1 is back
        await pilot.press("u")
        assert "no gold again" in text_of(screen, "#status")
    sentence, gold = sentence_and_gold(db, 3)
    assert gold.answer is None and gold.kind == "undo"
    with Store(db) as store:
        kinds = [(r.kind, r.answer) for r in store.history(sentence.id, REVIEWER)]
    assert kinds == [("decision", "accept"), ("decision", "accept"), ("undo", "accept"), ("undo", None)]


@sync
async def test_accept_all_agreed_stores_gold_in_one_go_and_undo_reverts_them(db, scheme):
    ids = version_ids(db, 2)
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("A")
        assert "1 sentence where everyone agreed stored as gold" in text_of(screen, "#status")
        assert "every agreed sentence is gold" in text_of(screen, "#review-progress")
        sentence, gold = sentence_and_gold(db, 2)
        assert words(sentence, gold.spans) == [("US", "GPE"), ("Ukraine", "GPE")]
        assert gold.meta["method"] == "agreed" and gold.meta["versions"] == ["alice", "bob", "carol"]
        assert sorted(gold.meta["resolves"]) == sorted(ids.values())
        await pilot.press("A")
        assert "has gold already" in text_of(screen, "#status")
        await pilot.press("u")
        assert "1 agreed sentence no longer gold" in text_of(screen, "#status")
        assert "1 agreed sentence not gold yet" in text_of(screen, "#review-progress")
    _sentence, gold = sentence_and_gold(db, 2)
    assert gold.kind == "undo" and gold.answer is None


@sync
async def test_toggle_shows_agreed_sentences_and_keeps_the_place(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("]", "t")  # on sentence 4, show agreed too
        queue = screen.queue
        assert len(queue) == 3 and queue.index == 2
        assert "item 3 of 3" in text_of(screen, "#review-progress")
        await pilot.press("[", "[")
        assert screen._load_sentence(queue.current.sentence_id).position == 2
        assert "all 3 annotators agree: alice, bob, carol" in text_of(screen, "#review-summary")
        await pilot.press("1")  # taking the one version of an agreed sentence works too
        await pilot.press("t")
        assert len(queue) == 2
    _sentence, gold = sentence_and_gold(db, 2)
    assert gold.answer == "accept" and gold.meta["method"] == "chosen"


@sync
async def test_an_agreed_sentence_undone_by_everyone_after_the_queue_is_read_shows_no_versions(db, scheme):
    """Items are read when shown: sentence 2 (agreed) loses every version after start-up, and
    showing it says so instead of failing, and ``A`` does not store it."""
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        with Store(db) as other:  # the annotators undo sentence 2 from their own screens
            sentence = other.sentence_at("demo", 2).sentence
            for name in ("alice", "bob", "carol"):
                other.undo(other.current_decision(sentence.id, name))
        await pilot.press("t", "[")
        queue = screen.queue
        assert screen._load_sentence(queue.current.sentence_id).position == 2
        assert queue.current.groups == () and not queue.current.agreed
        assert "no decided version now" in text_of(screen, "#review-summary")
        await pilot.press("A")
        assert "has gold already" in text_of(screen, "#status")
    _sentence, gold = sentence_and_gold(db, 2)
    assert gold is None


@sync
async def test_sentences_with_gold_are_settled_and_skipped_at_start(db, scheme):
    with Store(db) as store:
        s3 = store.sentence_at("demo", 3).sentence
        store.add_decision(s3, annotator=REVIEWER, answer="reject", gold=True, session="earlier")
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        assert screen._load_sentence(screen.queue.current.sentence_id).position == 4
        assert "gold so far 1 of 2" in text_of(screen, "#review-progress")
        assert "had gold from rev already" in text_of(screen, "#status")
        await pilot.press("[")
        assert "★ gold: reject" in text_of(screen, "#header")
        gold_panel = screen.query_one("#gold-panel")
        assert gold_panel.display and "gold by rev" in gold_panel.border_title
        await pilot.press("2")  # replace it with bob's version
    _sentence, gold = sentence_and_gold(db, 3)
    assert gold.answer == "accept" and gold.meta["versions"] == ["bob"] and gold.supersedes is not None


@sync
async def test_help_lists_review_and_editing_keys(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help-text").render())
        assert "Take version N as gold" in text and "Start a relation" in text
        await pilot.press("escape")
        assert app.screen is app.review_screen


@sync
async def test_review_keys_from_the_scheme_rebind_the_review_screen(db, scheme):
    from dataclasses import replace

    remapped = replace(scheme, review_keys={**scheme.review_keys, "reject": "ctrl+x", "next": "n"})
    app = make_app(db, remapped)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        await pilot.press("x")  # no longer reject: nothing stored
        assert sentence_and_gold(db, 3)[1] is None
        await pilot.press("n")  # next, without deciding
        assert screen._load_sentence(screen.queue.current.sentence_id).position == 4
        await pilot.press("ctrl+x")
        await pilot.press("question_mark")
        help_text = str(app.screen.query_one("#help-text").render())
        assert "ctrl+x" in help_text and "Store gold 'reject'" in help_text
    _sentence, gold = sentence_and_gold(db, 4)
    assert gold.answer == "reject"
    assert sentence_and_gold(db, 3)[1] is None


@sync
async def test_the_version_editor_refuses_to_move_and_says_why(db, scheme):
    from annotator.tui.screens.review_edit import VersionEditScreen

    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("e", "1")
        editor_screen = app.screen
        assert isinstance(editor_screen, VersionEditScreen)
        for key in ("space", "right_square_bracket", "left_square_bracket", "colon", "slash"):
            await pilot.press(key)
            assert app.screen is editor_screen and editor_screen.position == 3
            assert "this is an edit of one sentence" in text_of(editor_screen, "#status")
        assert editor_screen.context.suggestions is None and editor_screen.context.annotator == REVIEWER


# -- the queue state, without the UI ---------------------------------------------------------


def test_queue_state_counts_and_toggle(db, scheme):
    from annotator.tui.review_state import load_queue

    with Store(db) as store:
        queue = load_queue(store, "demo", REVIEWER)
        positions = [store.sentence(item.sentence_id).position for item in queue.items]
        assert positions == [2, 3, 4]  # sentence 5 has one version only
        assert len(queue) == 2 and queue.unsettled == 2 and queue.agreed_pending == 1
        s2 = store.sentence_at("demo", 2).sentence
        assert queue.index_of(s2.id) is None
        current = queue.current.sentence_id
        queue.set_include_agreed(True)
        assert queue.index_of(s2.id) == 0 and queue.current.sentence_id == current  # stays on its sentence
        assert queue.move(-1) and queue.current.sentence_id == s2.id and not queue.move(-1)
        gold = store.add_decision(s2, annotator=REVIEWER, answer="accept", gold=True)
        queue.set_gold(s2.id, gold)
        assert queue.agreed_pending == 0 and queue.settled == 1 and queue.first_unsettled() == 1
        queue.set_include_agreed(False)
        assert queue.settled == 0 and queue.current.agreed is False
        undo = store.undo(gold)
        queue.set_gold(s2.id, undo)
        assert queue.agreed_pending == 1


def test_run_review_refuses_unknown_datasets_and_single_annotators(db, tmp_path):
    from annotator.errors import DatasetError
    from annotator.tui.review_app import run_review

    with pytest.raises(DatasetError, match="no dataset 'nope'"):
        run_review(dataset="nope", reviewer=REVIEWER, db=db)
    single = tmp_path / "single.db"
    with Store(single) as store:
        from annotator.importer import ArticleImporter, ArticleInput

        store.ensure_dataset("demo")
        ArticleImporter(store, "demo").import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))])
        store.add_decision(store.sentence_at("demo", 1).sentence, annotator="alice", answer="accept")
    with pytest.raises(DatasetError, match="at least two annotators"):
        run_review(dataset="demo", reviewer=REVIEWER, db=single)


def test_imports_stay_light():
    """The queue state needs neither Textual nor spaCy; the review app never loads spaCy."""
    code = (
        "import sys, annotator.tui.review_state; assert 'textual' not in sys.modules and 'spacy' not in sys.modules; "
        "import annotator.tui.review_app, annotator.tui.screens.review, annotator.annotated_import, annotator.export; assert 'spacy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_cli_reports_a_missing_dataset_in_one_line(db):
    result = run_cli("review", "nope", "--reviewer", REVIEWER, "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"annotator: {db}: no dataset 'nope' (datasets: demo)"]


@sync
async def test_keys_typed_right_after_colon_reach_the_prompt(db, scheme):
    """Issue #17 item 8 in the review screen: ":2⏎" arriving at once goes to item 2; so does ":1⏎" after it."""
    from textual import events

    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app, pilot)
        assert screen.queue.index == 0
        for key, character in (("colon", ":"), ("2", "2"), ("enter", None)):
            app._driver.send_message(events.Key(key, character))
        await pilot.pause()
        assert screen.queue.index == 1 and not screen.prompt_bar.is_open
        for key, character in (("colon", ":"), ("9", "9"), ("enter", None)):
            app._driver.send_message(events.Key(key, character))
        await pilot.pause()
        assert screen.queue.index == 1 and "no item '9'" in text_of(screen, "#status")
