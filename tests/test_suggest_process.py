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
