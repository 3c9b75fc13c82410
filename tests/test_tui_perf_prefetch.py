"""The next sentence is prepared while the current one is shown (issue #15: accept → next only
swaps), and what changed in the store in the meantime wins over what was prepared."""

from __future__ import annotations

from annotator.editing import SentenceEditor
from annotator.model import Suggestion
from annotator.store import Store
from annotator.tui.screens.annotate import content_of
from annotator.tui.widgets.relation_list import RelationList
from annotator.tui.widgets.sentence_view import SentenceView
from annotator.tui.widgets.span_list import SpanList

from .test_tui import ANNOTATOR, SIZE, db, model_span, sync, template_db  # noqa: F401 (fixtures)


def make_app(db, scheme, start: int):
    """The annotate app without the memory (its worker would post new suggestions after each
    accept and replace the editor shown, whichever way it was made)."""
    from annotator.tui.app import AnnotatorApp

    app = AnnotatorApp(db, "demo", ANNOTATOR, scheme, start=start, suggester=None, memory="off")
    app.animation_level = "none"
    return app


def fresh_editor(screen, position: int) -> SentenceEditor:
    """The editor go_to would make for an undecided sentence without anything prepared."""
    sentence = screen.context.store.sentence_at("demo", position).sentence
    editor = SentenceEditor.from_suggestions(sentence.text, sentence.tokens, screen.context.scheme, screen.context.rows_for(sentence.id))
    editor.place_cursor(editor.opening_cursor())
    return editor


def shown_text(screen) -> list[str]:
    view = screen.query_one(SentenceView)
    return [strip.text for strip in view._lines]


@sync
async def test_accept_shows_the_prepared_next_sentence_as_it_would_have_read_it(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        ahead = screen._ahead
        assert ahead is not None and ahead.position == 4 and ahead.editor is not None
        await pilot.press("a")
        await pilot.pause()
        assert screen.position == 4
        assert screen.editor is ahead.editor  # swapped in, not made again
        assert content_of(screen.editor) == content_of(fresh_editor(screen, 4))
        prepared_lines = shown_text(screen)
        spans = str(screen.query_one(SpanList).render())
        relations = str(screen.query_one(RelationList).render())
        # The same screen as a layout made now from the same editor.
        view = screen.query_one(SentenceView)
        view.show(screen.editor, *screen._context_lines())
        assert shown_text(screen) == prepared_lines
        assert "CNN" in spans and "MEMBER_OF" in relations
        assert screen._ahead is not None and screen._ahead.position == 5  # the next one is prepared in turn


@sync
async def test_suggestions_stored_after_the_next_sentence_was_prepared_are_the_ones_shown(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        prepared = screen._ahead.editor
        assert prepared is not None
        with Store(db) as other:  # e.g. a re-suggest run while the screen is open
            s4 = other.sentence_at("demo", 4).sentence
            other.add_suggestions([Suggestion(s4.id, "en_core_web_sm", (model_span(s4, "Washington", None, "GPE"),))])
        await pilot.press("a")
        await pilot.pause()
        assert screen.position == 4 and screen.editor is not prepared
        labels = {(screen.sentence.text[s.span.start : s.span.end], s.label) for s in screen.editor.spans}
        assert ("Washington", "GPE") in labels and ("CNN", "ORG") not in labels
        assert content_of(screen.editor) == content_of(fresh_editor(screen, 4))
        assert "CNN" not in str(screen.query_one(SpanList).render())


@sync
async def test_a_decision_stored_after_the_next_sentence_was_prepared_is_shown(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen._ahead.editor is not None
        with Store(db) as other:  # the same annotator in another window
            s4 = other.sentence_at("demo", 4).sentence
            other.add_decision(s4, annotator=ANNOTATOR, answer="reject", spans=(), relations=(), session="other")
        await pilot.press("a")
        await pilot.pause()
        assert screen.position == 4
        assert screen.decision is not None and screen.decision.answer == "reject"
        assert screen.editor.spans == ()
        assert "rejected" in str(screen.query_one("#header").render())
