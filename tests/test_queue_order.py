"""``annotate --order uncertain``: the sentences where the suggestion sources disagree most come first."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotator.model import Suggestion
from annotator.queue_order import UncertainQueue, disagreement, uncertain_order
from annotator.store import Store

from .test_tui import ANNOTATOR, SIZE, model_span, sync, template_db, wait_for_workers  # noqa: F401 (fixture)


def test_disagreement_counts_the_spans_not_every_source_proposes():
    from annotator.model import Span

    a, b, c = Span(0, 4, "GPE", 0, 0), Span(0, 4, "PERSON", 0, 0), Span(9, 12, "ORG", 2, 2)
    assert disagreement([Suggestion(1, "model", (a, c))]) == 0  # one source: nothing to disagree with
    assert disagreement([Suggestion(1, "model", (a, c)), Suggestion(1, "trained", (a, c))]) == 0
    assert disagreement([Suggestion(1, "model", (a, c)), Suggestion(1, "trained", (b, c))]) == 2
    assert disagreement([Suggestion(1, "model", (a,)), Suggestion(1, "patterns", ()), Suggestion(1, "trained", (b, c))]) == 3
    assert uncertain_order([(1, 0), (2, 3), (3, 1), (4, 3)]) == [2, 4, 3, 1]


@pytest.fixture
def db(template_db, tmp_path) -> Path:  # noqa: F811
    """The seed with a "trained" source that disagrees with the model on sentences 3 (one span
    relabelled) and 5 (both relabelled, one added)."""
    target = tmp_path / "uncertain.db"
    shutil.copy(template_db, target)
    with Store(target) as store:
        s3, s5 = (store.sentence_at("demo", p).sentence for p in (3, 5))
        store.add_suggestions([
            Suggestion(s3.id, "trained", (model_span(s3, "Kyiv", None, "GPE"), model_span(s3, "Russia", None, "GPE"))),
            Suggestion(s5.id, "trained", (model_span(s5, "Umerov", None, "ORG"), model_span(s5, "Marquardt", None, "PERSON"),
                                          model_span(s5, "battlefield", None, "LOC"))),
        ])
    return target


def scores(db: Path) -> dict[int, int]:
    with Store(db) as store:
        return {p: disagreement(store.suggestions(store.sentence_at("demo", p).sentence.id))
                for p in range(1, store.sentence_count("demo") + 1)}


def test_the_queue_goes_by_score_and_skips_decided_sentences_window_by_window(db):
    expected = uncertain_order(scores(db).items())
    with Store(db) as store:
        queue = UncertainQueue(store, "demo", ANNOTATOR, window=4)  # small windows: crossing them is tested too
        first_window = uncertain_order((p, s) for p, s in scores(db).items() if p <= 4)
        assert queue(0) == first_window[0]
        seen = [first_window[0]]
        for _ in range(len(expected) - 1):
            seen.append(queue(seen[-1]))
        wrapped = queue(seen[-1])  # past the end: the undecided sentences left behind, from the top
    assert sorted(seen) == sorted(expected)  # every sentence offered once per pass (nothing was decided)
    assert wrapped == first_window[0]
    assert seen[:4] == first_window


@sync
async def test_uncertain_order_shows_the_most_disagreed_sentence_first_then_the_next_by_score(db, scheme):
    from annotator.tui.app import AnnotatorApp

    ranking = uncertain_order(scores(db).items())
    # sentence 3: patterns 4 spans, model and trained share "Russia" only (7 disputed); 4: patterns vs model (6)
    assert ranking[:3] == [3, 4, 5] and scores(db)[3] == 7 and scores(db)[4] == 6
    app = AnnotatorApp(db, "demo", ANNOTATOR, scheme, suggester=None, order="uncertain")
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        screen = app.screen
        assert screen.position == 3
        await pilot.press("a")
        await wait_for_workers(app, pilot)
        assert screen.position == 4
        await pilot.press("a")
        await wait_for_workers(app, pilot)
        assert screen.position == 5
    with Store(db) as store:
        decided = [p for p in range(1, store.sentence_count("demo") + 1)
                   if store.current_decision(store.sentence_at("demo", p).sentence.id, ANNOTATOR) is not None]
        assert decided == [3, 4]
        assert store.first_undecided("demo", ANNOTATOR) == 1  # document order would have started here


@sync
async def test_document_order_is_the_default(db, scheme):
    from annotator.tui.app import AnnotatorApp

    app = AnnotatorApp(db, "demo", ANNOTATOR, scheme, suggester=None)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        assert app.screen.position == 1
        await pilot.press("a")
        await wait_for_workers(app, pilot)
        assert app.screen.position == 2


def test_annotate_refuses_an_unknown_order(tmp_path):
    from typer.testing import CliRunner

    from annotator.cli import app

    result = CliRunner().invoke(app, ["annotate", "demo", "--annotator", "ann", "--db", str(tmp_path / "x.db"), "--order", "random"])
    assert result.exit_code == 2
    assert "--order" in result.output
