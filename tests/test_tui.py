"""Pilot tests of the annotate screen: keys in, rows in the database out.

The dataset is the seed article imported once per module with pattern-only suggestions (spaCy's
blank tokenizer, no model) plus a few hand-made "model" suggestions with the seed's known errors
(Kyiv PERSON, Marquardt GPE); each test works on its own copy of the file.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from annotator.editing import Mode
from annotator.model import Relation, Span, Suggestion, overlapping_pairs, relation_problem, span_at_tokens, span_problem, tokens_from_offsets
from annotator.store import Store

from .conftest import ROOT, SEED

SIZE = (120, 40)
ANNOTATOR = "ann"


def sync(test):
    """Run an ``async def`` test with ``asyncio.run`` (no async pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


def token_index(sentence, word: str, nth: int = 0) -> int:
    found = [i for i, t in enumerate(sentence.tokens) if sentence.text[t.start : t.end] == word]
    return found[nth]


def model_span(sentence, first: str, last: str | None, label: str) -> Span:
    return span_at_tokens(sentence.text, sentence.tokens, token_index(sentence, first), token_index(sentence, last or first), label, "en_core_web_sm")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """The seed article with pattern suggestions plus the model's typical errors as suggestions."""
    from annotator.importer import ArticleImporter, ArticleInput
    from annotator.labels import load_scheme
    from annotator.preannotate import Preannotator

    scheme = load_scheme(ROOT / "labels.yaml")
    path = tmp_path_factory.mktemp("tui") / "template.db"
    preannotator = Preannotator(scheme, use_model=False)

    def suggest(items):
        from annotator.preannotate import SentenceInput

        # The importer hands (text, SegmentedSentence) pairs.
        return list(preannotator.suggest([SentenceInput(text, sent.tokens, sent.pattern_matches) for text, sent in items]))

    with Store(path) as store:
        store.ensure_dataset("demo")
        ArticleImporter(store, "demo", suggest=suggest, suggestion_source="patterns").import_articles(
            [ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))]
        )
        s3 = store.sentence_at("demo", 3).sentence
        s4 = store.sentence_at("demo", 4).sentence
        s5 = store.sentence_at("demo", 5).sentence
        cnn, alex = model_span(s4, "CNN", None, "ORG"), model_span(s4, "Alex", "Marquardt", "PERSON")
        store.add_suggestions(
            [
                Suggestion(s3.id, "en_core_web_sm", (model_span(s3, "Kyiv", None, "PERSON"), model_span(s3, "Russia", None, "GPE"))),
                Suggestion(
                    s4.id,
                    "en_core_web_sm",
                    (cnn, alex, model_span(s4, "Washington", None, "GPE")),
                    (Relation(alex.key, cnn.key, "MEMBER_OF"),),
                ),
                Suggestion(s5.id, "en_core_web_sm", (model_span(s5, "Umerov", None, "PERSON"), model_span(s5, "Marquardt", None, "GPE"))),
            ]
        )
    return path


@pytest.fixture
def db(template_db, tmp_path) -> Path:
    target = tmp_path / "annotate.db"
    shutil.copy(template_db, target)
    return target


def make_app(db: Path, scheme, start: int | None = None, suggester=None, annotator: str = ANNOTATOR):
    from annotator.tui.app import AnnotatorApp

    app = AnnotatorApp(db, "demo", annotator, scheme, start=start, suggester=suggester)
    app.animation_level = "none"
    return app


async def wait_for_workers(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def current(db: Path, position: int, annotator: str = ANNOTATOR):
    with Store(db) as store:
        sentence = store.sentence_at("demo", position).sentence
        return sentence, store.current_decision(sentence.id, annotator)


def spans_of(sentence, decision) -> list[tuple[str, str]]:
    return [(sentence.text[s.start : s.end], s.label) for s in decision.spans]


async def go_to_token(pilot, screen, index: int) -> None:
    delta = index - screen.editor.cursor
    await pilot.press(*(["right"] * delta if delta > 0 else ["left"] * -delta))
    assert screen.editor.cursor == index


# -- entity spans --------------------------------------------------------------------------------


@sync
async def test_start_shows_header_and_first_undecided_sentence(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert screen.position == 1
        header = str(screen.query_one("#header").render())
        assert "demo" in header and ANNOTATOR in header and "sentence 1 of 22" in header and "decided 0/22" in header
        assert "Ukraine defense minister presses US" in header  # the article title
        await pilot.press("a")
        assert screen.position == 2
        assert "decided 1/22" in str(screen.query_one("#header").render())


@sync
async def test_create_span_by_keys_and_accept(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        sentence = screen.sentence
        await go_to_token(pilot, screen, 0)
        await pilot.press("p")
        await go_to_token(pilot, screen, token_index(sentence, "list"))
        await pilot.press("shift+right", "shift+right", "n")  # "list of targets" as NORP, then relabel
        await pilot.press("left", "left", "shift+right", "shift+right", "e")
        await pilot.press("a")
        assert screen.position == 5
    sentence, decision = current(db, 4)
    assert decision.answer == "accept" and decision.session.startswith(f"{ANNOTATOR}-")
    found = spans_of(sentence, decision)
    assert ("Umerov", "PERSON") in found
    assert ("list of targets", "EVENT") in found
    assert ("Alex Marquardt", "PERSON") in found and ("ATACMS", "WEAPON") in found  # suggestions accepted as shown
    assert decision.seconds >= 0


@sync
async def test_fix_the_seed_model_errors_by_keyboard(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        kyiv = [n for n, s in enumerate(screen.editor.spans, 1) if screen.editor.span_text(s.key) == "Kyiv"][0]
        await pilot.press(str(kyiv), "g", "a")  # Kyiv PERSON -> GPE
        assert screen.position == 4
        await pilot.press("a")
        marquardt = [n for n, s in enumerate(screen.editor.spans, 1) if screen.editor.span_text(s.key) == "Marquardt"][0]
        await pilot.press(str(marquardt), "p", "a")  # Marquardt GPE -> PERSON
    sentence, decision = current(db, 3)
    assert ("Kyiv", "GPE") in spans_of(sentence, decision)
    sentence, decision = current(db, 5)
    assert ("Marquardt", "PERSON") in spans_of(sentence, decision) and ("Marquardt", "GPE") not in spans_of(sentence, decision)


@sync
async def test_relabel_delete_and_confirm(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        editor = screen.editor
        assert editor.span_under_cursor() is not None and editor.span_under_cursor().suggested
        washington = token_index(screen.sentence, "Washington")
        await go_to_token(pilot, screen, washington)
        await pilot.press("d")  # delete the suggestion
        await go_to_token(pilot, screen, token_index(screen.sentence, "CNN"))
        await pilot.press("c")  # confirm CNN as ORG
        assert not screen.editor.span_under_cursor().suggested
        await go_to_token(pilot, screen, token_index(screen.sentence, "Alex"))
        await pilot.press("c", "c")  # confirm, then cycle PERSON -> ORG
        assert screen.editor.span_under_cursor().label == "ORG"
        await pilot.press("p")  # and relabel back by hotkey
        await pilot.press("a")
    sentence, decision = current(db, 4)
    found = spans_of(sentence, decision)
    assert ("Washington", "GPE") not in found
    assert ("CNN", "ORG") in found and ("Alex Marquardt", "PERSON") in found


@sync
async def test_reject_skip_and_navigation(db, scheme):
    app = make_app(db, scheme, start=2)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("x")  # reject 2
        assert screen.position == 3
        await pilot.press("space")  # skip 3
        assert screen.position == 4
        await pilot.press("pageup", "pageup")
        assert screen.position == 2
        assert "rejected" in str(screen.query_one("#header").render())
        await pilot.press("]", "]", "]")
        assert screen.position == 5
    _, decision = current(db, 2)
    assert decision.answer == "reject"
    _, decision = current(db, 3)
    assert decision is None


@sync
async def test_undo_three_times_walks_back_the_session(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("a", "x")
        await go_to_token(pilot, screen, token_index(screen.sentence, "Umerov"))
        await pilot.press("o", "a")
        assert screen.position == 6
        await pilot.press("u")
        assert screen.position == 5
        # The sentence is back as it was when decided (Umerov relabelled ORG), and undecided in the store.
        assert screen.editor.span_under_cursor().label == "ORG"
        await pilot.press("u")  # the edit made before that decision
        assert screen.position == 5 and screen.editor.span_under_cursor().label == "PERSON"
        await pilot.press("u", "backspace")
        assert screen.position == 3
        await pilot.press("u")
        assert "nothing to undo" in str(screen.query_one("#status").render())
    with Store(db) as store:
        for position in (3, 4, 5):
            sentence = store.sentence_at("demo", position).sentence
            history = store.history(sentence.id, ANNOTATOR)
            assert [d.answer for d in history][-1] is None
            assert history[-1].kind == "undo"
        assert store.progress("demo", ANNOTATOR) == 0


@sync
async def test_undo_first_undoes_an_edit_in_the_sentence(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        before = len(screen.editor.spans)
        await pilot.press("d")
        assert len(screen.editor.spans) == before - 1
        await pilot.press("u")
        assert len(screen.editor.spans) == before


@sync
async def test_resume_at_first_undecided_after_reopening(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "a", "x")
        assert app.screen.position == 4
        await pilot.press("q")
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.position == 4
        assert "decided 3/22" in str(app.screen.query_one("#header").render())


@sync
async def test_all_decided_opens_the_last_sentence(db, scheme):
    with Store(db) as store:
        for sentence in store.iter_sentences("demo"):
            store.add_decision(sentence, annotator=ANNOTATOR, answer="accept")
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.position == 22
        assert "all 22 sentences are decided" in str(app.screen.query_one("#status").render())


@sync
async def test_a_decision_is_shown_instead_of_suggestions(db, scheme):
    with Store(db) as store:
        sentence = store.sentence_at("demo", 4).sentence
        store.add_decision(sentence, annotator="other", answer="accept")
        store.add_decision(sentence, annotator=ANNOTATOR, answer="accept", spans=[model_span(sentence, "Umerov", None, "PERSON")])
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE):
        editor = app.screen.editor
        assert [(editor.span_text(s.key), s.label, s.suggested) for s in editor.spans] == [("Umerov", "PERSON", False)]


@sync
async def test_goto_search_help_and_context(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("colon", *"12", "enter")
        assert screen.position == 12
        await pilot.press("slash", *"ATACMS", "enter")
        assert screen.position == 16  # the next sentence with ATACMS after 12 (wraps otherwise)
        await pilot.press("slash")
        await pilot.press("enter")  # same search again
        assert screen.position == 4
        await pilot.press("question_mark")
        from annotator.tui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "Accept the sentence as shown" in text and "PERSON" in text and "SPEAKS_TO" in text and "relabel_relation" in text
        # What q and v do, exactly (issue #17 item 11): q keeps drafts, v cycles three views.
        assert "Save and quit" not in text and "edits not accepted are kept as drafts (a 2nd q confirms)" in text
        assert "sentences around → paragraph → whole article" in text
        await pilot.press("escape")
        assert app.screen is screen
        view = screen.query_one("#sentence")
        await pilot.press("v")
        assert "paragraph" in view.note
        await pilot.press("v")
        assert "article" in view.note and len(view.before) == 3
        await pilot.press("v")
        assert view.note == ""
        await pilot.press("colon", *"99", "enter")
        assert screen.position == 4 and "no sentence" in str(screen.query_one("#status").render())


@sync
async def test_mouse_click_drag_and_label_bar(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        view = screen.query_one("#sentence")
        row, x0, _x1 = view._token_rows[token_index(screen.sentence, "list")]
        y = row - int(view.scroll_y)
        offset = view.content_region.offset - view.region.offset
        await pilot.click(view, offset=(offset.x + x0, offset.y + y))
        assert screen.editor.cursor == token_index(screen.sentence, "list")
        row2, x2, _ = view._token_rows[token_index(screen.sentence, "targets")]
        await pilot.mouse_down(view, offset=(offset.x + x0, offset.y + y))
        await pilot.hover(view, offset=(offset.x + x2, offset.y + row2 - int(view.scroll_y)))
        await pilot.mouse_up(view, offset=(offset.x + x2, offset.y + row2 - int(view.scroll_y)))
        assert screen.editor.selection == (token_index(screen.sentence, "list"), token_index(screen.sentence, "targets"))
        # Click the EVENT chip of the label bar.
        bar = screen.query_one("#labels")
        text = str(bar.render())
        await pilot.click(bar, offset=(text.index("EVENT") + 1, 0))
        assert ("list of targets", "EVENT") in [(screen.editor.span_text(s.key), s.label) for s in screen.editor.spans]


@sync
async def test_command_palette_lists_the_actions(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Accept the sentence as shown and go to the next" in titles
        assert "Start a relation from the span under the cursor" in titles
        assert "Label PERSON" in titles


@sync
async def test_keymap_overrides_from_the_scheme(db, scheme):
    remapped = replace(scheme, keys={**scheme.keys, "accept": "enter", "reject": "ctrl+x"})
    app = make_app(db, remapped)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        assert app.screen.position == 1
        await pilot.press("ctrl+x")
        assert app.screen.position == 2
    _, decision = current(db, 1)
    assert decision.answer == "reject"


# -- relations -----------------------------------------------------------------------------------


def number_of(editor, text: str) -> str:
    return str([n for n, s in enumerate(editor.spans, 1) if editor.span_text(s.key) == text][0])


@sync
async def test_acceptance_relations_on_the_umerov_sentence(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await go_to_token(pilot, screen, 0)
        await pilot.press("p")  # Umerov PERSON (the model missed it)
        editor = screen.editor
        await pilot.press("r", number_of(editor, "Alex Marquardt"), "7")  # SPEAKS_TO
        await pilot.press(number_of(editor, "Alex Marquardt"), "r", number_of(editor, "CNN"))
        # CNN's MEMBER_OF was suggested by the rule: picking it confirms it.
        await pilot.press("2")
        assert screen.editor.mode is Mode.NORMAL
        labels = {(editor.span_text(r.relation.head), r.relation.label, editor.span_text(r.relation.child)) for r in screen.editor.relations}
        assert ("Umerov", "SPEAKS_TO", "Alex Marquardt") in labels and ("Alex Marquardt", "MEMBER_OF", "CNN") in labels
        listed = str(screen.query_one("#relations").render())
        assert "SPEAKS_TO" in listed and "MEMBER_OF" in listed
        await pilot.press("a")
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE):
        editor = app.screen.editor
        found = {(editor.span_text(r.relation.head), r.relation.label, editor.span_text(r.relation.child)) for r in editor.relations}
        assert {("Umerov", "SPEAKS_TO", "Alex Marquardt"), ("Alex Marquardt", "MEMBER_OF", "CNN")} <= found
    sentence, decision = current(db, 4)
    stored = {(sentence.text[r.head[0] : r.head[1]], r.label, sentence.text[r.child[0] : r.child[1]]) for r in decision.relations}
    assert ("Umerov", "SPEAKS_TO", "Alex Marquardt") in stored and ("Alex Marquardt", "MEMBER_OF", "CNN") in stored


@sync
async def test_relation_refusal_relabel_reverse_delete(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        editor = screen.editor
        await pilot.press(number_of(editor, "Washington"), "r", number_of(editor, "CNN"))
        assert screen.editor.mode is Mode.PICK_RELATION
        await pilot.press("1")  # HAS_ROLE: GPE -> ORG is not allowed
        assert "HAS_ROLE does not allow GPE → ORG" in str(screen.query_one("#status").render())
        await pilot.press("4")  # SUPPLIES: GPE -> ORG
        rel = screen.editor.selected_relation
        assert rel.label == "SUPPLIES"
        await pilot.press("ctrl+l", "6")  # relabel: MEETS_WITH
        assert screen.editor.selected_relation.label == "MEETS_WITH"
        await pilot.press("ctrl+r")  # symmetric: reversing is allowed
        assert screen.editor.selected_relation.head == rel.child
        await pilot.press("ctrl+l", "4")  # SUPPLIES ORG -> GPE allowed
        await pilot.press("ctrl+r")  # back to GPE -> ORG
        await pilot.press("escape", "full_stop")
        while screen.editor.selected_relation.label != "SUPPLIES":
            await pilot.press("full_stop")
        await pilot.press("ctrl+d")
        assert all(r.relation.label != "SUPPLIES" for r in screen.editor.relations)
        await pilot.press("escape")
        # A reverse that the label does not allow: MEMBER_OF (suggested) PERSON -> ORG.
        await pilot.press("comma")
        while screen.editor.selected_relation.label != "MEMBER_OF":
            await pilot.press("comma")
        await pilot.press("ctrl+r")
        assert "not reversed" in str(screen.query_one("#status").render())
        await pilot.press("a")
    sentence, decision = current(db, 4)
    assert [r.label for r in decision.relations] == ["MEMBER_OF"]


@sync
async def test_deleting_a_span_with_relations_asks_and_undo_restores(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        editor = screen.editor
        await pilot.press(number_of(editor, "Washington"), "r", number_of(editor, "CNN"), "4")
        await pilot.press(number_of(screen.editor, "CNN"), "d")
        status = str(screen.query_one("#status").render())
        assert "removes the relation" in status and "press the same key again" in status
        assert len(screen.editor.relations) == 2
        await pilot.press("d")
        assert screen.editor.relations == ()
        await pilot.press("a")
        sentence, decision = current(db, 4)
        assert decision.relations == () and ("CNN", "ORG") not in spans_of(sentence, decision)
        await pilot.press("u")  # undo the decision: the sentence is back as it was accepted
        await pilot.press("u")  # undo the delete in the sentence
        assert len(screen.editor.relations) == 2
        await pilot.press("a")
    sentence, decision = current(db, 4)
    assert {r.label for r in decision.relations} == {"SUPPLIES", "MEMBER_OF"}


@sync
async def test_relation_by_mouse(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        view = screen.query_one("#sentence")
        offset = view.content_region.offset - view.region.offset

        def point_of(target):
            for row, hits in view._hits.items():
                for x0, _x1, found in hits:
                    if found == target:
                        return (offset.x + x0, offset.y + row - int(view.scroll_y))
            raise AssertionError(target)

        washington = [s for s in screen.editor.spans if screen.editor.span_text(s.key) == "Washington"][0]
        cnn = [s for s in screen.editor.spans if screen.editor.span_text(s.key) == "CNN"][0]
        await pilot.click(view, offset=point_of(("tag", washington.key)))
        assert screen.editor.mode is Mode.PICK_CHILD
        await pilot.click(view, offset=point_of(("token", cnn.token_start)))
        assert screen.editor.mode is Mode.PICK_RELATION
        bar = screen.query_one("#labels")
        text = str(bar.render())
        assert "HAS_ROLE" not in text and "SUPPLIES" in text
        await pilot.click(bar, offset=(text.index("SUPPLIES") + 1, 0))
        assert any(r.relation.label == "SUPPLIES" for r in screen.editor.relations)


# -- suggestions on the fly ----------------------------------------------------------------------


class FakeSuggester:
    """Labels every capitalised word ORG; records what it was asked."""

    source = "fake"
    model_name = "fake"
    notice = "fake suggestions"

    def __init__(self):
        self.calls: list[int] = []

    def suggest(self, sentences):
        for sentence in sentences:
            self.calls.append(len(sentence.tokens))
            spans = [
                Span(t.start, t.end, "ORG", i, i, "fake")
                for i, t in enumerate(sentence.tokens)
                if sentence.text[t.start : t.start + 1].isupper()
            ]
            yield spans, []


def plain_dataset(path: Path, sentences: int = 14) -> None:
    """A dataset made without spaCy: whitespace tokens, no suggestions at all."""
    text = " ".join(f"Sentence {n} mentions Acme and Globex here ." for n in range(1, sentences + 1))
    bounds = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.", text)]
    with Store(path) as store:
        store.ensure_dataset("plain")
        rows = []
        for start, end in bounds:
            while text[start] == " ":
                start += 1
            piece = text[start:end]
            rows.append((start, end, tokens_from_offsets(piece, [(m.start(), m.end()) for m in re.finditer(r"\S+", piece)])))
        store.add_article("plain", title="Plain", text=text, content_hash="h", source="t", meta={}, sentences=rows)


@sync
async def test_suggestions_arrive_from_the_worker(tmp_path, scheme):
    from annotator.tui.app import AnnotatorApp

    path = tmp_path / "plain.db"
    plain_dataset(path)
    fake = FakeSuggester()
    app = AnnotatorApp(path, "plain", ANNOTATOR, scheme, suggester=lambda: fake)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        editor = app.screen.editor
        assert [editor.span_text(s.key) for s in editor.spans] == ["Sentence", "Acme", "Globex"]
        assert all(s.suggested for s in editor.spans)
        assert "suggestions arrived" in str(app.screen.query_one("#status").render())
        assert len(fake.calls) == 11
        await pilot.press("a")
        await wait_for_workers(app, pilot)
        assert len(fake.calls) == 11  # nothing new to do for 2..11
        await pilot.press("colon", *"12", "enter")
        await wait_for_workers(app, pilot)
        assert len(fake.calls) == 14
    with Store(path) as store:
        assert len(store.positions_without_suggestions("plain", 1, 100)) == 0
        sentence = store.sentence_at("plain", 1).sentence
        assert len(store.current_decision(sentence.id, ANNOTATOR).spans) == 3


def test_start_does_not_import_spacy(tmp_path):
    """The app starts and shows a sentence without spaCy in the process (no worker needs it here)."""
    path = tmp_path / "plain.db"
    plain_dataset(path, 3)
    with Store(path) as store:
        store.add_suggestions(Suggestion(s.id, "patterns", ()) for s in store.iter_sentences("plain"))
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from dataclasses import replace
        from annotator.labels import load_scheme
        from annotator.tui.app import AnnotatorApp

        async def main():
            scheme = replace(load_scheme({str(ROOT / 'labels.yaml')!r}), model=None)
            app = AnnotatorApp({str(path)!r}, "plain", "ann", scheme)
            async with app.run_test(size=(120, 40)) as pilot:
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert app.screen.sentence.position == 1
            print("spacy" in sys.modules, "thinc" in sys.modules)

        asyncio.run(main())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


# -- robustness ----------------------------------------------------------------------------------

RANDOM_KEYS = [
    "left", "right", "shift+left", "shift+right", "tab", "shift+tab", "h", "l", "d", "delete", "c", "escape",
    "a", "enter", "x", "space", "u", "backspace", "pageup", "pagedown", "left_square_bracket",
    "right_square_bracket", "v", "r", "full_stop", "comma", "ctrl+d", "ctrl+r", "ctrl+l",
    "p", "o", "g", "i", "n", "f", "e", "t", "w", "s", "P", "z",
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "0",
    "colon", "slash", "question_mark",
    # Jumps, selections, splits and boundary moves (a find takes the next key as its character).
    "home", "end", "circumflex_accent", "dollar_sign", "ctrl+left", "ctrl+right", "W", "B", "j", "J", "k", "K",
    "m", "M", "C", "less_than_sign", "greater_than_sign", "vertical_line", "left_curly_bracket",
    "right_curly_bracket", "left_parenthesis", "right_parenthesis",
]
RANDOM_CHARACTERS = {
    "space": " ", "full_stop": ".", "comma": ",", "colon": ":", "slash": "/", "question_mark": "?",
    "left_square_bracket": "[", "right_square_bracket": "]", "circumflex_accent": "^", "dollar_sign": "$",
    "less_than_sign": "<", "greater_than_sign": ">", "vertical_line": "|", "left_curly_bracket": "{",
    "right_curly_bracket": "}", "left_parenthesis": "(", "right_parenthesis": ")",
}


@sync
async def test_random_keys_never_crash_or_store_invalid_spans(db, scheme):
    from textual import events

    rng = random.Random(20240825)
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        driver = app._driver
        for _batch in range(40):
            for _ in range(50):
                key = rng.choice(RANDOM_KEYS)
                character = key if len(key) == 1 else RANDOM_CHARACTERS.get(key)
                driver.send_message(events.Key(key, character))
            await pilot.pause()
            assert app.is_running and app._exception is None
    assert app._exception is None
    with Store(db) as store:
        decided = 0
        for sentence in store.iter_sentences("demo"):
            for decision in store.history(sentence.id):
                decided += 1
                for span in decision.spans:
                    assert span_problem(span, sentence.text, decision.tokens_of(sentence)) is None
                assert overlapping_pairs(decision.spans) == []
                for relation in decision.relations:
                    assert relation_problem(relation, decision.spans) is None
                    label = scheme.relation(relation.label)
                    spans = {s.key: s.label for s in decision.spans}
                    assert label.allows(spans[relation.head], spans[relation.child])
        assert decided > 20


@sync
async def test_keys_typed_in_a_burst_run_in_order(db, scheme):
    """Hotkeys and digits are bindings like the rest, so "r 3 7" arriving at once is not reordered."""
    from textual import events

    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await go_to_token(pilot, screen, 0)
        alex = str(int(number_of(screen.editor, "Alex Marquardt")) + 1)  # once Umerov is a span, before it
        for key in ("p", "r", alex, "7"):
            app._driver.send_message(events.Key(key, key))
        await pilot.pause()
        editor = screen.editor
        assert editor.mode is Mode.NORMAL
        assert ("Umerov", "SPEAKS_TO", "Alex Marquardt") in {
            (editor.span_text(r.relation.head), r.relation.label, editor.span_text(r.relation.child)) for r in editor.relations
        }


@sync
async def test_quit_warns_about_unsaved_edits(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "q")
        assert app.is_running
        assert "q again quits and keeps them as a draft for next time" in str(app.screen.query_one("#status").render())
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


@sync
async def test_undo_after_deciding_a_sentence_twice(db, scheme):
    app = make_app(db, scheme, start=5)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("a", "[", "x")  # accept 5, go back, reject it
        assert screen.position == 6
        await pilot.press("u")
        assert screen.position == 5
        _, decision = current(db, 5)
        assert decision.answer == "accept"
        await pilot.press("u")
        assert screen.position == 5
        _, decision = current(db, 5)
        assert decision.answer is None and decision.kind == "undo"


def test_annotate_command_refuses_bad_input(db):
    from .conftest import run_cli

    result = run_cli("annotate", "nosuch", "--annotator", "ann", "--db", str(db))
    assert result.returncode == 2 and "no dataset 'nosuch'" in result.stderr
    result = run_cli("annotate", "demo", "--annotator", "a/b", "--db", str(db))
    assert result.returncode == 2 and "invalid annotator name" in result.stderr
    result = run_cli("annotate", "demo", "--annotator", "ann", "--db", str(db), "--start", "99")
    assert result.returncode == 2 and "has 22 sentences" in result.stderr


@sync
async def test_enter_chooses_the_child_then_accepts(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        editor = screen.editor
        await pilot.press(number_of(editor, "Alex Marquardt"), "r", "shift+tab", "enter")
        assert screen.editor.mode is Mode.PICK_RELATION
        await pilot.press("enter")  # not a relation key: refused, nothing saved
        assert screen.position == 4
        await pilot.press("escape", "enter")
        assert screen.position == 5


def burst(app, *keys: str) -> None:
    """Send keys the way a terminal delivers a fast typist's keys: all queued at once, no pause."""
    from textual import events

    names = {" ": "space", ":": "colon", "/": "slash", "?": "question_mark", "[": "left_square_bracket", "]": "right_square_bracket"}
    for key in keys:
        character = key if len(key) == 1 else {"colon": ":", "slash": "/", "space": " "}.get(key)
        app._driver.send_message(events.Key(names.get(key, key), character))


@sync
async def test_keys_typed_right_after_slash_or_colon_reach_the_prompt(db, scheme):
    """Issue #17 item 8: "/Obama⏎" and ":12⏎" in one burst search "Obama" / go to 12, every time."""
    app = make_app(db, scheme, start=1)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        burst(app, "colon", *"12", "enter")
        await pilot.pause()
        assert screen.position == 12
        burst(app, "slash", *"ATACMS", "enter")
        await pilot.pause()
        assert screen.position == 16 and "found 'ATACMS' in sentence 16" in str(screen.query_one("#status").render())
        # A different word right after a search: the previous one must not be re-run, nor a tail of it.
        burst(app, "slash", *"Umerov", "enter")
        await pilot.pause()
        with Store(db) as store:
            expected = store.search("demo", "Umerov", after_position=16)
        assert screen.position == expected and "found 'Umerov'" in str(screen.query_one("#status").render())
        # Keys after the prompt closes are bindings again, in order: go to 3, then skip to 4.
        burst(app, "colon", "3", "enter", "space")
        await pilot.pause()
        assert screen.position == 4
        # Escape cancels; the keys after it act on the sentence.
        burst(app, "colon", "9", "escape", "right_square_bracket")
        await pilot.pause()
        assert screen.position == 5 and not screen.prompt_bar.is_open
        # A paste goes to the open prompt too.
        from textual import events

        burst(app, "colon")
        app._driver.send_message(events.Paste("12"))
        burst(app, "enter")
        await pilot.pause()
        assert screen.position == 12


# -- drafts (issue #17 item 13) ------------------------------------------------------------------


def draft_of(db: Path, position: int, annotator: str = ANNOTATOR):
    with Store(db) as store:
        return store.draft(store.sentence_at("demo", position).sentence.id, annotator)


def shown(editor) -> list[tuple[str, str]]:
    return [(editor.span_text(s.key), s.label) for s in editor.spans]


@sync
async def test_a_draft_survives_quitting_and_is_restored_on_reopen(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        suggested = shown(screen.editor)
        await go_to_token(pilot, screen, token_index(screen.sentence, "CNN"))
        await pilot.press("d")  # delete the CNN suggestion
        edited = shown(screen.editor)
        assert edited != suggested
        assert draft_of(db, 4) is not None  # kept at once, not only at quit
        await pilot.press("q", "q")
        await pilot.pause()
        assert not app.is_running
    spans, _relations = draft_of(db, 4)
    sentence, decision = current(db, 4)
    assert [(sentence.text[s.start : s.end], s.label) for s in spans] == edited and decision is None
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert shown(screen.editor) == edited
        assert "draft restored" in str(screen.query_one("#status").render())
        assert screen.progress == 0 and "decided 0/22" in str(screen.query_one("#header").render())
        await pilot.press("u")  # back to the suggestions: the draft is gone
        assert shown(screen.editor) == suggested
        assert draft_of(db, 4) is None
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running  # nothing unsaved: one q quits


@sync
async def test_a_draft_comes_back_when_navigating_and_goes_with_the_decision(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await go_to_token(pilot, screen, token_index(screen.sentence, "CNN"))
        await pilot.press("d")
        edited = shown(screen.editor)
        await pilot.press("right_square_bracket", "left_square_bracket")
        assert screen.position == 4 and shown(screen.editor) == edited
        with Store(db) as store:
            assert store.progress("demo", ANNOTATOR) == 0  # a draft is not a decision
        await pilot.press("a")
        assert screen.position == 5 and screen.progress == 1
    assert draft_of(db, 4) is None
    sentence, decision = current(db, 4)
    assert [(sentence.text[s.start : s.end], s.label) for s in decision.spans] == edited


@sync
async def test_a_draft_of_a_decided_sentence_is_restored_over_the_decision(db, scheme):
    app = make_app(db, scheme, start=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "left_square_bracket")  # accept 5 and come back
        screen = app.screen
        saved = shown(screen.editor)
        await pilot.press("tab", "d")
        edited = shown(screen.editor)
        assert edited != saved and draft_of(db, 5) is not None
        await pilot.press("q", "q")
    app = make_app(db, scheme, start=5)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert shown(screen.editor) == edited
        assert "u goes back to the saved decision" in str(screen.query_one("#status").render())
        assert screen.progress == 1
        await pilot.press("u")
        assert shown(screen.editor) == saved and draft_of(db, 5) is None


@sync
async def test_a_draft_over_an_accepted_sentence_says_so_when_navigating_back(db, scheme):
    # The reviewer's sequence (issue #17 item 13): sentence 2 accepted with Ukraine, `:2`, delete
    # Ukraine, `]`, `[` -> the status says "draft restored" and the header does not claim the shown
    # spans are the accepted decision -- the same as after reopening.
    app = make_app(db, scheme, start=2)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await go_to_token(pilot, screen, token_index(screen.sentence, "Ukraine"))
        await pilot.press("g", "a")  # accept sentence 2 with Ukraine GPE
        await pilot.press("colon", "2", "enter")
        assert screen.position == 2
        header = str(screen.query_one("#header").render())
        assert "✔ accepted" in header and "not saved" not in header
        await go_to_token(pilot, screen, token_index(screen.sentence, "Ukraine"))
        await pilot.press("d")
        edited = shown(screen.editor)
        assert ("Ukraine", "GPE") not in edited
        assert "✔ accepted · edited, not saved" in str(screen.query_one("#header").render())
        await pilot.press("right_square_bracket", "left_square_bracket")
        assert screen.position == 2 and shown(screen.editor) == edited
        header = str(screen.query_one("#header").render())
        status = str(screen.query_one("#status").render())
        assert "✔ accepted · edited, not saved" in header
        assert "draft restored" in status and "u goes back to the saved decision" in status
        await pilot.press("q", "q")
    sentence, decision = current(db, 2)
    assert ("Ukraine", "GPE") in spans_of(sentence, decision)  # the decision is unchanged
    app = make_app(db, scheme, start=2)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert shown(screen.editor) == edited
        assert "✔ accepted · edited, not saved" in str(screen.query_one("#header").render())
        assert "draft restored" in str(screen.query_one("#status").render())
        await pilot.press("u")  # back to the decision: the header is plain again
        assert ("Ukraine", "GPE") in shown(screen.editor)
        header = str(screen.query_one("#header").render())
        assert "✔ accepted" in header and "not saved" not in header
        assert "draft restored" not in str(screen.query_one("#status").render())


@sync
async def test_a_draft_of_an_undecided_sentence_says_restored_when_navigating_back(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        suggested = shown(screen.editor)
        await go_to_token(pilot, screen, token_index(screen.sentence, "CNN"))
        await pilot.press("d")
        await go_to_token(pilot, screen, token_index(screen.sentence, "Washington"))
        await pilot.press("d")  # two edits
        await pilot.press("right_square_bracket", "left_square_bracket")
        status = str(screen.query_one("#status").render())
        assert "draft restored" in status and "u goes back to the suggestions" in status
        await pilot.press("u")  # back to the suggestions (not one edit back), as the status says
        assert shown(screen.editor) == suggested and draft_of(db, 4) is None
        await pilot.press("right_square_bracket", "left_square_bracket")
        assert "draft restored" not in str(screen.query_one("#status").render())


# -- jumps, selections in fewer keys, spans inside a token (each checked in the database) ---------


async def accept_and_back(pilot, screen, position: int) -> None:
    """Accept, then come back to the sentence (it shows the saved decision) for the next edit."""
    await pilot.press("a")
    assert screen.position == position + 1
    await pilot.press("left_square_bracket")
    assert screen.position == position


@sync
async def test_sentence_ends_word_jumps_and_find(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("end", "home", "p")  # Umerov
        await pilot.press("W", "W", "W", "B", "ctrl+right", "ctrl+left", "ctrl+right", "e")  # interview (over the comma)
        await pilot.press("dollar_sign")
        assert screen.editor.cursor == len(screen.sentence.tokens) - 1
        await pilot.press("circumflex_accent", "j", "l", "k", "t", "e")  # list of targets
        await pilot.press("a")
    sentence, decision = current(db, 4)
    found = spans_of(sentence, decision)
    assert {("Umerov", "PERSON"), ("interview", "EVENT"), ("list of targets", "EVENT")} <= set(found)


@sync
async def test_gaps_capitalised_runs_and_a_span_inside_a_token(db, scheme):
    app = make_app(db, scheme, start=9)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("home", "m", "C", "greater_than_sign", "i")  # Kursk region
        await pilot.press("m", "p")  # Biden
        await pilot.press("M", "g")  # back to Ukraine, the first capitalised word outside a span
        await pilot.press("j", "U", "g", "left_parenthesis", "left_parenthesis")  # U.S. of U.S.-made
        assert ("U.S.", "GPE") in [(screen.editor.span_text(s.key), s.label) for s in screen.editor.spans]
        await pilot.press("J", "B", "greater_than_sign", "o")  # Biden administration replaces Biden
        await pilot.press("a")
    sentence, decision = current(db, 9)
    found = spans_of(sentence, decision)
    assert set(found) == {("Ukraine", "GPE"), ("Kursk region", "LOC"), ("Biden administration", "ORG"), ("U.S.", "GPE")}
    tokens = decision.tokens_of(sentence)
    assert [sentence.text[t.start : t.end] for t in tokens if sentence.text[t.start : t.end].startswith(("U.S.", "-made"))] == ["U.S.", "-made"]
    for span in decision.spans:
        assert span_problem(span, sentence.text, tokens) is None


@sync
async def test_split_and_boundary_keys(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        steps = [
            (["j", "C", "k", "M", "p"], ("CNN’s Alex Marquardt", "PERSON")),
            (["j", "A", "vertical_line"], ("Alex Marquardt", "PERSON")),  # split before Alex: CNN’s | Alex Marquardt
            (["j", "C", "left_parenthesis", "left_parenthesis", "o"], ("CNN", "ORG")),
            (["j", "M", "right_curly_bracket"], ("Marquardt", "PERSON")),
            (["j", "M", "left_curly_bracket"], ("Alex Marquardt", "PERSON")),
            (["j", "M", "right_parenthesis"], ("Alex Marquardt,", "PERSON")),
            (["j", "t", "K", "l", "less_than_sign", "e"], ("a list of targets", "EVENT")),
        ]
        for keys, expected in steps:
            await pilot.press(*keys)
            await accept_and_back(pilot, screen, 4)
            sentence, decision = current(db, 4)
            assert expected in spans_of(sentence, decision), (keys, spans_of(sentence, decision))
        assert ("CNN’s", "PERSON") not in spans_of(sentence, decision)


@sync
async def test_find_waits_for_its_character_and_escape_cancels(db, scheme):
    app = make_app(db, scheme, start=4)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("home", "j")
        assert screen.prompt_bar.is_open and screen.editor.pending == "find_next"
        await pilot.press("escape")
        assert not screen.prompt_bar.is_open and screen.editor.pending is None and screen.editor.cursor == 0
        await pilot.press("j", "p", "t")  # "p" is the character found (presented), not PERSON; then t labels it
        await pilot.press("a")
    sentence, decision = current(db, 4)
    assert ("presented", "DATE") in spans_of(sentence, decision) and ("Umerov", "PERSON") not in spans_of(sentence, decision)


@sync
async def test_ctrl_click_moves_a_span_boundary_by_character(db, scheme):
    app = make_app(db, scheme, start=9)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("j", "U", "g")
        view = screen.query_one("#sentence")
        row, x0, _x1 = view._token_rows[token_index(screen.sentence, "U.S.-made")]
        offset = view.content_region.offset - view.region.offset
        await pilot.click(view, offset=(offset.x + x0 + 4, offset.y + row - int(view.scroll_y)), control=True)  # the "-"
        await pilot.press("a")
    sentence, decision = current(db, 9)
    assert spans_of(sentence, decision) == [("U.S.", "GPE")] and decision.tokens is not None


@sync
async def test_a_draft_with_a_span_inside_a_token_comes_back(db, scheme):
    app = make_app(db, scheme, start=9)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("j", "U", "g", "left_parenthesis", "left_parenthesis", "right_square_bracket")
        with Store(db) as store:
            sentence = store.sentence_at("demo", 9).sentence
            spans, _relations = store.draft(sentence.id, ANNOTATOR)
            assert [sentence.text[s.start : s.end] for s in spans] == ["U.S."]
        await pilot.press("left_square_bracket")
        assert [(screen.editor.span_text(s.key), s.label) for s in screen.editor.spans] == [("U.S.", "GPE")]
        assert "draft restored" in str(screen.query_one("#status").render())
        await pilot.press("a")
    sentence, decision = current(db, 9)
    assert spans_of(sentence, decision) == [("U.S.", "GPE")] and decision.tokens is not None


@sync
async def test_reopening_starts_at_the_sentence_left_with_a_draft(db, scheme):
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert screen.position == 1
        await pilot.press("a", "a", "a")  # 1-3 decided, now on 4
        assert screen.position == 4
        await go_to_token(pilot, screen, token_index(screen.sentence, "CNN"))
        await pilot.press("d")  # an edit, not accepted
        edited = shown(screen.editor)
        await pilot.press("q", "q")
        await pilot.pause()
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert screen.position == 4 and shown(screen.editor) == edited  # also the first undecided: see 8 below
        assert "draft restored" in str(screen.query_one("#status").render())
        await pilot.press("a")  # the draft becomes the decision
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    with Store(db) as store:
        assert store.last_draft_position("demo", ANNOTATOR) is None
        sentence = store.sentence_at("demo", 8).sentence
        store.save_draft(sentence, ANNOTATOR, (), ())  # a draft further on, first undecided still 5
    app = make_app(db, scheme)
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.position == 8
