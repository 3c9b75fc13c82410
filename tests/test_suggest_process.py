"""Suggestions from the child process match the in-process Preannotator."""

from __future__ import annotations

from annotator.labels import load_scheme
from annotator.preannotate import Preannotator, SentenceInput
from annotator.segment import Segmenter
from annotator.suggest_process import SubprocessSuggester

from .conftest import ROOT, SEED


def test_child_process_suggestions_equal_in_process_ones(tmp_path):
    labels = tmp_path / "labels.yaml"
    labels.write_text((ROOT / "labels.yaml").read_text(encoding="utf-8").replace("model: en_core_web_sm", "model: null"),
                      encoding="utf-8")
    scheme = load_scheme(labels)
    text = SEED.read_text(encoding="utf-8")
    inputs = [SentenceInput(text[s.start:s.end], s.tokens) for s in Segmenter().segment(text)]
    expected = list(Preannotator(scheme).suggest(inputs))
    child = SubprocessSuggester(str(labels))
    try:
        assert child.source == "patterns"
        got = list(child.suggest(inputs))
        assert [([(s.start, s.end, s.label) for s in spans], rels) for spans, rels in got] == [
            ([(s.start, s.end, s.label) for s in spans], rels) for spans, rels in expected
        ]
        assert any(spans for spans, _ in got)
    finally:
        child.close()
    assert child._process.poll() is not None


# -- the annotate screen's real default suggester (issue #17: never reached by a test before) -----

import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from annotator.store import Store  # noqa: E402

from .test_tui import SIZE, sync  # noqa: E402


def patterns_only_labels(tmp_path):
    labels = tmp_path / "labels.yaml"
    labels.write_text((ROOT / "labels.yaml").read_text(encoding="utf-8").replace("model: en_core_web_sm", "model: null"),
                      encoding="utf-8")
    return labels


def seed_without_suggestions(path) -> None:
    from annotator.importer import ArticleImporter, ArticleInput

    with Store(path) as store:
        store.ensure_dataset("demo")
        ArticleImporter(store, "demo").import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))])
        assert store.suggestions(store.sentence_at("demo", 2).sentence.id) == []


def default_app(tmp_path, labels_path=None):
    from annotator.tui.app import AnnotatorApp

    labels = patterns_only_labels(tmp_path)
    db = tmp_path / "suggest.db"
    seed_without_suggestions(db)
    scheme = load_scheme(labels)
    if labels_path is not None:
        from dataclasses import replace

        scheme = replace(scheme, path=str(labels_path))
    app = AnnotatorApp(db, "demo", "ann", scheme, start=2)  # suggester="default": the child process
    app.animation_level = "none"
    return app, db


def status(app) -> str:
    return str(app.screen.query_one("#status").render())


@sync
async def test_the_default_suggester_runs_in_a_child_process_from_the_annotate_screen(tmp_path):
    app, db = default_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.screen.editor
        shown = [(editor.span_text(s.key), s.label, s.suggested) for s in editor.spans]
        assert ("defense minister", "ROLE", True) in shown
        assert "suggestions arrived" in status(app)
        child = app._suggester._process
        assert child.poll() is None and child.pid != 0
        await pilot.press("a")  # accept as shown: the child's suggestions become the decision
    assert child.poll() is not None  # stopped with the app
    with Store(db) as store:
        sentence = store.sentence_at("demo", 2).sentence
        assert {s.source for s in store.suggestions(sentence.id)} == {"patterns"}
        decision = store.current_decision(sentence.id, "ann")
        assert ("defense minister", "ROLE") in [(sentence.text[s.start : s.end], s.label) for s in decision.spans]


@sync
async def test_a_child_that_cannot_load_its_labels_is_reported_and_the_screen_works_on(tmp_path):
    app, db = default_app(tmp_path, labels_path=tmp_path / "missing.yaml")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "no suggestions on the fly" in status(app) and "missing.yaml" in status(app)
        assert app.screen.editor.spans == ()
        await pilot.press("p", "a")  # keys still work: a PERSON span, accepted
        assert app.screen.position == 3 and app._exception is None
    with Store(db) as store:
        sentence = store.sentence_at("demo", 2).sentence
        assert [s.label for s in store.current_decision(sentence.id, "ann").spans] == ["PERSON"]


@sync
async def test_a_child_that_cannot_start_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    app, _db = default_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "no suggestions on the fly: the suggestion process could not start" in status(app)
        await pilot.press("right_square_bracket")
        assert app.screen.position == 3 and app._exception is None


@sync
async def test_a_child_that_dies_is_reported_and_the_screen_works_on(tmp_path):
    app, _db = default_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        child = app._suggester._process
        child.kill()
        child.wait()
        await pilot.press("colon", *"15", "enter")  # far enough to ask for new suggestions
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.position == 15
        assert "suggestions stopped: the suggestion process stopped" in status(app)
        await pilot.press("p", "a")
        assert app.screen.position == 16 and app._exception is None
        assert all(worker.error is None for worker in app.workers)


def test_a_failing_request_is_answered_with_its_error_and_the_child_serves_on(tmp_path):
    from annotator.suggest_process import serve

    labels = patterns_only_labels(tmp_path)
    good = json.dumps([{"text": "the defense minister said", "tokens": [0, 3, 4, 11, 12, 20, 21, 25]}])
    bad = json.dumps([{"text": "no tokens given"}])
    out = io.StringIO()
    serve(str(labels), None, [bad + "\n", good + "\n"], out)
    header, first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert header["source"] == "patterns"
    assert "error" in first
    assert first["error"].startswith("KeyError")
    assert [(s["start"], s["end"], s["label"]) for s in second[0]["spans"]] == [(4, 20, "ROLE")]


def test_the_parent_raises_the_childs_error(tmp_path):
    from annotator.suggest_process import SuggesterError

    try:
        SubprocessSuggester(str(tmp_path / "missing.yaml"))
    except SuggesterError as exc:
        assert "missing.yaml" in str(exc)
    else:
        raise AssertionError("no SuggesterError")


def test_close_kills_a_child_that_does_not_finish_and_reaps_it():
    """A child busy past the 2 s grace (a long batch, a loaded machine) is killed, and ``close``
    returns only once it is gone: no process left running or unreaped."""
    import subprocess
    import sys

    suggester = SubprocessSuggester.__new__(SubprocessSuggester)
    suggester._process = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
        stdin=subprocess.PIPE,
    )
    suggester.close()
    assert suggester._process.poll() is not None
