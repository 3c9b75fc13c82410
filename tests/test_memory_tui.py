"""Pilot tests of the annotation memory in the annotate screen: a correction changes the suggestions
of the sentences ahead before the annotator reaches them (issue #11's first acceptance point), undo
takes it back, the active suggestion source filters the stored rows, and the span list says where
each suggestion came from."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from annotator.model import Suggestion
from annotator.store import Store

from .seed_corrections import import_seed, patterns_only_labels
from .test_tui import ANNOTATOR, SIZE, current, make_app, model_span, spans_of, sync, wait_for_workers

KYIV_POSITIONS = (3, 9, 15)
"""Sentences of the seed with "Kyiv" (the hand-made model rows call it PERSON in each)."""


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory) -> Path:
    """The seed imported as a user would, with pattern suggestions (no model), plus "model" rows
    with the English model's known errors: PERSON for every "Kyiv", GPE for "Marquardt"."""
    folder = tmp_path_factory.mktemp("memory")
    path = folder / "seed.db"
    import_seed(path, patterns_only_labels(folder))
    with Store(path) as store:
        rows = []
        for position in KYIV_POSITIONS:
            sentence = store.sentence_at("demo", position).sentence
            rows.append(Suggestion(sentence.id, "en_core_web_sm", (model_span(sentence, "Kyiv", None, "PERSON"),)))
        s5 = store.sentence_at("demo", 5).sentence
        rows.append(Suggestion(s5.id, "en_core_web_sm", (model_span(s5, "Marquardt", None, "GPE"),)))
        store.add_suggestions(rows)
    return path


@pytest.fixture
def db(seed_db, tmp_path) -> Path:
    target = tmp_path / "memory.db"
    shutil.copy(seed_db, target)
    return target


def shown(screen) -> list[tuple[str, str, str | None]]:
    editor = screen.editor
    return [(editor.span_text(s.key), s.label, s.span.source) for s in editor.spans]


def kyiv(screen) -> list[tuple[str, str, str | None]]:
    return [item for item in shown(screen) if item[0] == "Kyiv"]


async def correct_kyiv_and_accept(pilot) -> None:
    screen = pilot.app.screen
    number = [n for n, s in enumerate(screen.editor.spans, 1) if screen.editor.span_text(s.key) == "Kyiv"][0]
    await pilot.press(str(number), "g", "a")  # Kyiv PERSON -> GPE, accept


@sync
async def test_correcting_kyiv_once_makes_the_later_kyiv_suggestions_gpe_before_the_annotator_gets_there(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        screen = app.screen
        assert kyiv(screen) == [("Kyiv", "PERSON", "en_core_web_sm")]
        await correct_kyiv_and_accept(pilot)
        assert screen.position == 4
        await wait_for_workers(app, pilot)
        # Sentence 4 was refreshed from memory (Umerov, CNN... were decided in 3): the status line
        # still says the decision was saved.
        assert screen.notice.startswith("suggestions arrived") and "from memory · ✔ accepted: sentence 3 saved" in screen.notice
        # Before the annotator gets there: sentence 9's suggestions already say GPE, from memory.
        with Store(db) as store:
            s9 = store.sentence_at("demo", 9).sentence
        rows = app.suggestion_rows(s9.id)
        assert rows[-1].source == "memory"
        assert [(s9.text[s.start:s.end], s.label) for row in rows for s in row.spans if s9.text[s.start:s.end] == "Kyiv"] == [
            ("Kyiv", "GPE")
        ]
        for _ in range(5):  # ] ] ] ] ]: sentences 5 to 9, deciding nothing
            await pilot.press("right_square_bracket")
        assert screen.position == 9
        assert kyiv(screen) == [("Kyiv", "GPE", "memory")]
        span_list = screen.query_one("#spans")
        assert "Kyiv? · memory" in span_list.render().plain
        await pilot.press("a")
        await wait_for_workers(app, pilot)
        # Accepted as shown: the database holds GPE, and sentence 15 (beyond the first window) too.
        sentence, decision = current(db, 9)
        assert ("Kyiv", "GPE") in spans_of(sentence, decision)
        await pilot.press("colon", *"15", "enter")
        await wait_for_workers(app, pilot)
        assert screen.position == 15
        assert kyiv(screen) == [("Kyiv", "GPE", "memory")]
        await pilot.press("a")
    sentence, decision = current(db, 15)
    assert ("Kyiv", "GPE") in spans_of(sentence, decision) and ("Kyiv", "PERSON") not in spans_of(sentence, decision)


@sync
async def test_with_memory_off_the_later_kyiv_stays_as_the_model_said(db, scheme):
    app = make_app(db, scheme, start=3)
    app.memory_mode = "off"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        await correct_kyiv_and_accept(pilot)
        await wait_for_workers(app, pilot)
        await pilot.press("colon", *"9", "enter")
        await wait_for_workers(app, pilot)
        assert kyiv(app.screen) == [("Kyiv", "PERSON", "en_core_web_sm")]


@sync
async def test_undo_takes_the_correction_back_out_of_the_memory(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        await correct_kyiv_and_accept(pilot)
        await wait_for_workers(app, pilot)
        with Store(db) as store:
            s9 = store.sentence_at("demo", 9).sentence
        assert [s.label for row in app.suggestion_rows(s9.id) for s in row.spans if s.start == model_span(s9, "Kyiv", None, "X").start] == ["GPE"]
        await pilot.press("u")  # undo the decision of sentence 3
        await wait_for_workers(app, pilot)
        assert app.screen.position == 3
        await pilot.press("colon", *"9", "enter")
        await wait_for_workers(app, pilot)
        assert kyiv(app.screen) == [("Kyiv", "PERSON", "en_core_web_sm")]
        assert app.memory is not None and len(app.memory) == 0


@sync
async def test_memory_is_built_from_decisions_stored_before_the_app_started(db, scheme):
    with Store(db) as store:
        s3 = store.sentence_at("demo", 3).sentence
        store.add_decision(s3, annotator=ANNOTATOR, answer="accept", spans=[model_span(s3, "Kyiv", None, "GPE")])
        store.add_decision(s3, annotator="someone-else", answer="accept", spans=[model_span(s3, "Kyiv", None, "LOC")])
    app = make_app(db, scheme, start=9)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        await wait_for_workers(app, pilot)
        # Only the annotator's own decisions feed it (by default): GPE, not the other annotator's LOC.
        assert kyiv(app.screen) == [("Kyiv", "GPE", "memory")]
        assert "suggestions arrived" in app.screen.notice


@sync
async def test_shared_memory_and_gold_outranking(db, scheme):
    with Store(db) as store:
        s3 = store.sentence_at("demo", 3).sentence
        store.add_decision(s3, annotator="someone-else", answer="accept", spans=[model_span(s3, "Kyiv", None, "LOC")])
    app = make_app(db, scheme, start=9, annotator="newcomer")
    app.memory_mode = "shared"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        await wait_for_workers(app, pilot)
        assert kyiv(app.screen) == [("Kyiv", "LOC", "memory")]
    with Store(db) as store:
        store.add_decision(s3, annotator="reviewer", answer="accept", gold=True, spans=[model_span(s3, "Kyiv", None, "GPE")])
    app = make_app(db, scheme, start=9, annotator="newcomer")
    app.memory_mode = "shared"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        await wait_for_workers(app, pilot)
        assert kyiv(app.screen) == [("Kyiv", "GPE", "memory")]


@sync
async def test_the_active_suggestion_source_shows_its_rows_plus_patterns_and_memory(db, scheme):
    with Store(db) as store:
        s9 = store.sentence_at("demo", 9).sentence
        trained = replace(model_span(s9, "Kursk", "region", "LOC"), source="demo-trained-1")
        store.add_suggestions([Suggestion(s9.id, "demo-trained-1", (trained,))])
    from annotator.tui.app import AnnotatorApp

    app = AnnotatorApp(db, "demo", ANNOTATOR, scheme, start=9, suggester=None, suggestions="demo-trained-1")
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        spans = shown(app.screen)
        assert ("Kursk region", "LOC", "demo-trained-1") in spans
        assert not kyiv(app.screen)  # en_core_web_sm's PERSON is not the active source
        assert {source for _, _, source in spans} <= {"demo-trained-1", "patterns"}
    # The dataset's setting does the same when no source is passed.
    with Store(db) as store:
        store.set_dataset_settings("demo", {"suggestions": "demo-trained-1", "memory": "off"})
    app = make_app(db, scheme, start=9)
    assert app.active_source == "demo-trained-1" and app.memory_mode == "off"


@sync
async def test_source_names_are_shown_as_text_never_as_markup(db, scheme):
    with Store(db) as store:
        s9 = store.sentence_at("demo", 9).sentence
        span = model_span(s9, "Kursk", None, "LOC")
        store.add_suggestions([Suggestion(s9.id, "[b]odd[/b]", (replace(span, source="[red]odd[/red]"),))])
    app = make_app(db, scheme, start=9)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        assert "Kursk? · [red]odd[/red]" in app.screen.query_one("#spans").render().plain


@sync
async def test_a_memory_that_fails_says_so_once_and_the_screen_goes_on_without_it(db, scheme):
    app = make_app(db, scheme, start=3)

    def broken(store):
        raise RuntimeError("disk I/O error")

    app._build_memory = broken
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        await pilot.pause()
        assert app.memory_mode == "off"
        assert "annotation memory stopped: disk I/O error" in app.screen.notice
        assert kyiv(app.screen) == [("Kyiv", "PERSON", "en_core_web_sm")]
        await correct_kyiv_and_accept(pilot)
        await wait_for_workers(app, pilot)
    sentence, decision = current(db, 3)
    assert ("Kyiv", "GPE") in spans_of(sentence, decision)


# -- the app's bookkeeping: decisions made before, while and after the first pass reads --------


def scratch_memory(app, db: Path):
    """The memory built afresh from what the database holds now."""
    from annotator.memory import AnnotationMemory

    with Store(db) as store:
        return AnnotationMemory.build(
            app.scheme,
            [(sentence, decision, app._offered(store, sentence.id)) for sentence, decision in store.current_decisions("demo", [ANNOTATOR])],
        )


def kyiv_decision(store: Store, position: int, label: str):
    sentence = store.sentence_at("demo", position).sentence
    return sentence, store.add_decision(sentence, annotator=ANNOTATOR, answer="accept", spans=[model_span(sentence, "Kyiv", None, label)])


@pytest.mark.parametrize("when", ["before the first pass", "read by the first pass, queued after", "after the first pass"])
def test_each_decision_is_counted_once_whenever_it_was_committed(db, scheme, when):
    app = make_app(db, scheme)
    with Store(db) as store:
        if when == "after the first pass":
            app.memory = app._build_memory(store)
        sentence, first = kyiv_decision(store, 3, "GPE")
        app._pending.append((sentence, first))
        if when == "before the first pass":
            app._pending.clear()  # what the first pass does before it reads
            app.memory = app._build_memory(store)
        elif when == "read by the first pass, queued after":
            app._pending.clear()
            app.memory = app._build_memory(store)  # reads `first`...
            app._pending.append((sentence, first))  # ...and the hook queues it only now
        app._apply_pending(store)
        assert app.memory.snapshot() == scratch_memory(app, db).snapshot()
        assert app.memory.verdict(("Kyiv",))[0] == "GPE"
        # Then undo (back to undecided) and a later relabel, both applied by passes.
        undone = store.undo(first, session="s")
        app._pending.append((sentence, undone))
        app._apply_pending(store)
        assert app.memory.snapshot() == scratch_memory(app, db).snapshot()
        assert app.memory.verdict(("Kyiv",))[0] is None
        s9, later = kyiv_decision(store, 9, "LOC")
        _, again = kyiv_decision(store, 9, "GPE")
        app._pending.extend([(s9, later), (s9, again)])
        app._apply_pending(store)
        assert app.memory.snapshot() == scratch_memory(app, db).snapshot()
        assert app.memory.verdict(("Kyiv",))[0] == "GPE"
    app.store.close()


def test_an_undo_committed_while_the_first_pass_reads_is_not_counted_twice(db, scheme):
    app = make_app(db, scheme)
    with Store(db) as store:
        sentence, first = kyiv_decision(store, 3, "GPE")  # before the first pass: not queued
        app.memory = app._build_memory(store)  # reads `first`
        undone = store.undo(first, session="s")  # committed after: the hook queues it
        app._pending.append((sentence, undone))
        app._apply_pending(store)
        assert app.memory.snapshot() == scratch_memory(app, db).snapshot()
        assert len(app.memory) == 0  # undone: nothing counted (not minus one)
    app.store.close()
