"""The key-count benchmark's planner: its key sequences do on the real screen what it planned.

``benchmarks/keycount.py`` plans on the headless editor and types into the app in tmux (too slow for
the default run); here the same plans are pressed with the pilot and the database is read back.
"""

from __future__ import annotations

import asyncio
import sys

from annotator.importer import ArticleImporter, ArticleInput
from annotator.keymap import key_name
from annotator.labels import load_scheme
from annotator.model import Span, Suggestion, span_problem
from annotator.store import Store

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import keycount  # noqa: E402

TEXT = "North and South Korea exchanged fire on Thursday afternoon with U.S.-made guns, said KCNA."
TMUX_NAMES = {"Tab": "tab", "BTab": "shift+tab", "S-Left": "shift+left", "S-Right": "shift+right"}


def pilot_keys(plan) -> list[str]:
    return [key_name(name) if literal else TMUX_NAMES[name] for key in plan.keys for name, literal in key.strokes]


def test_planned_keys_make_the_reference_on_the_screen(tmp_path):
    from annotator.tui.app import AnnotatorApp

    scheme = load_scheme(ROOT / "labels.yaml")
    db = tmp_path / "k.db"
    with Store(db) as store:
        store.ensure_dataset("demo")
        ArticleImporter(store, "demo").import_articles([ArticleInput(TEXT, "k.txt")])
        sentence = store.sentence_at("demo", 1).sentence
        start = TEXT.index("North and South Korea")
        store.add_suggestions([
            Suggestion(sentence.id, "m", (Span(start, start + 21, "GPE", 0, 3, "m"), Span(TEXT.index("Thursday"), TEXT.index("Thursday") + 8, "DATE", 7, 7, "m")))
        ])
        editor = keycount.SentenceEditor.from_suggestions(sentence.text, sentence.tokens, scheme, store.suggestions(sentence.id))
    keycount.opening_cursor(editor)
    reference = frozenset({
        (0, 5, "GPE"), (10, 21, "GPE"),
        (TEXT.index("Thursday"), TEXT.index("Thursday") + 8, "DATE"),
        (TEXT.index("U.S."), TEXT.index("U.S.") + 4, "GPE"),  # inside the token "U.S.-made"
    })
    plan = keycount.Planner(scheme).plan(editor, reference)
    keys = pilot_keys(plan)
    assert plan.strokes == len(keys) <= 8

    async def run() -> None:
        app = AnnotatorApp(db, "demo", "ann", scheme, suggester=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press(*keys, "a")

    asyncio.run(run())
    with Store(db) as store:
        sentence = store.sentence_at("demo", 1).sentence
        decision = store.current_decision(sentence.id, "ann")
    assert decision.answer == "accept"
    assert frozenset((s.start, s.end, s.label) for s in decision.spans) == reference
    for span in decision.spans:
        assert span_problem(span, sentence.text, decision.tokens_of(sentence)) is None
