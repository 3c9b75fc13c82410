"""The annotation screen opens, renders and edits a 100,000-character sentence and text with control
characters, RTL scripts, combining marks and emoji (the test finishing is the "no freeze" check)."""

from __future__ import annotations

from annotator.importer import ArticleImporter, ArticleInput
from annotator.store import Store

from .test_tui import SIZE, make_app, sync

ODD = ("Control\x07chars and \u202eRTL override\u202c; עברית ומילים; Cafe\u0301 emoji 🇺🇦👩‍👩‍👧 end.\n\n"
       + "long " * 20_000 + "end.")


@sync
async def test_long_and_odd_sentences_open_render_and_save(tmp_path, scheme):
    db = tmp_path / "odd.db"
    with Store(db) as store:
        store.ensure_dataset("demo")
        ArticleImporter(store, "demo").import_articles([ArticleInput(ODD, "odd")])
        assert store.sentence_count("demo") == 2
    for position in (1, 2):
        app = make_app(db, scheme, start=position)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for key in ("right", "right", "shift+right", "p", "end", "left"):
                await pilot.press(key)
            await pilot.press("a")
            await pilot.pause()
        with Store(db) as store:
            sentence = store.sentence_at("demo", position).sentence
            decision = store.current_decision(sentence.id, "ann")
            assert decision is not None and decision.answer == "accept"
            assert any(span.label == "PERSON" for span in decision.spans)


def screen_text(app) -> str:
    """The screen as plain text (from the SVG screenshot; spaces dropped, as the SVG splits on them)."""
    import html
    import re

    svg = app.export_screenshot()
    body = svg[svg.index("<g class") :] if "<g class" in svg else svg
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", "").replace(" ", "")


@sync
async def test_bracketed_user_text_is_shown_literally_never_as_markup(tmp_path, scheme):
    """Issue #17: "[bold]", "[/]", "[to]" in article text, title, annotator and dataset names are text."""
    import re

    from annotator.model import tokens_from_offsets
    from annotator.tui.app import AnnotatorApp

    db = tmp_path / "markup.db"
    text = "He said [to] them [bold]now[/] and left [sic] ."
    with Store(db) as store:
        store.ensure_dataset("d[i]")
        tokens = tokens_from_offsets(text, [(m.start(), m.end()) for m in re.finditer(r"\S+", text)])
        store.add_article("d[i]", title="[bold]Title[/] [to]", text=text, content_hash="h", source="t", meta={},
                          sentences=[(0, len(text), tokens)])
    app = AnnotatorApp(db, "d[i]", "ann[to]", scheme, suggester=None)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "p")  # "[to]" becomes a PERSON span (span list, sentence view)
        header = str(app.screen.query_one("#header").render())
        assert "d[i] · ann[to] · sentence 1 of 1" in header and "[bold]Title[/] [to]" in header
        shown = screen_text(app)
        assert "said[to]¹PERSONthem[bold]now[/]andleft[sic]." in shown
        assert "1PERSON[to]" in shown
        await pilot.press("slash", *"[/]")
        assert "[/]" in screen_text(app).split("Searchthetext")[1]  # the prompt line
        await pilot.press("enter")
        assert "found '[/]' in sentence 1" in str(app.screen.query_one("#status").render())
        assert app._exception is None


@sync
async def test_the_command_palette_shows_a_label_description_with_brackets_literally(tmp_path, scheme):
    from dataclasses import replace

    from .test_tui import plain_dataset

    db = tmp_path / "plain.db"
    plain_dataset(db, 2)
    person = replace(scheme.entities[0], description="a person [bold]named[/] [to] anyone")
    odd_scheme = replace(scheme, entities=(person, *scheme.entities[1:]))
    from annotator.tui.app import AnnotatorApp

    app = AnnotatorApp(db, "plain", "ann", odd_scheme, suggester=None)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"Label", "space", *"PER")
        await pilot.pause(0.3)
        assert app._exception is None
        assert "aperson[bold]named[/][to]anyone" in screen_text(app)
