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
