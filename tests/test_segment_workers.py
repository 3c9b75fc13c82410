"""``--workers N``: ``preannotate.entity_pipe`` with forked workers gives the entities of
``nlp.pipe`` in one process, in order, and stops cleanly when its consumer does."""

from __future__ import annotations

import spacy

from annotator.importer import ArticleImporter, ArticleInput, sentence_inputs
from annotator.preannotate import Preannotator, entity_pipe
from annotator.segment import Segmenter
from annotator.store import Store

from .conftest import SEED


def ruler_pipeline():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "GPE", "pattern": "Ukraine"},
        {"label": "GPE", "pattern": [{"LOWER": "russia"}]},
        {"label": "ORG", "pattern": "Pentagon"},
        {"label": "PERSON", "pattern": [{"TEXT": "Rustem"}, {"TEXT": "Umerov"}]},
    ])
    return nlp


def seed_sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    return [text[s.start : s.end] for s in Segmenter().segment(text)]


def test_workers_give_the_entities_of_one_process_in_order():
    nlp = ruler_pipeline()
    texts = seed_sentences() * 3 + ["nothing here", "Russia and Ukraine", ""]
    alone = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]
    assert any(alone)
    assert list(entity_pipe(nlp, iter(texts), batch_size=4, n_process=2)) == alone
    assert list(entity_pipe(nlp, texts, batch_size=1000, n_process=2)) == alone  # one batch, one busy worker
    assert list(entity_pipe(nlp, texts, batch_size=5, n_process=1)) == alone
    assert list(entity_pipe(nlp, [], batch_size=5, n_process=2)) == []


def test_a_consumer_that_stops_early_ends_the_workers():
    import multiprocessing

    nlp = ruler_pipeline()
    stream = entity_pipe(nlp, seed_sentences() * 20, batch_size=2, n_process=2)
    first = next(stream)
    assert isinstance(first, list)
    stream.close()  # terminates and joins the pool
    assert not multiprocessing.active_children()


def test_import_with_two_workers_stores_what_one_process_stores(tmp_path):
    """The importer's path (segmentation, model entities through the workers, patterns, store)."""
    from annotator.labels import find_scheme

    from .conftest import ROOT

    scheme = find_scheme(ROOT / "labels.yaml")
    pre = Preannotator(scheme, use_model=False)
    pre.nlp = ruler_pipeline()  # a pipeline with entities, no trained model needed
    pre.model_name = "ruler"
    rows = {}
    for workers in (1, 2):
        store = Store(tmp_path / f"w{workers}.db")

        def suggest(flat, workers=workers):
            return list(pre.suggest(sentence_inputs(flat, True), batch_size=3, n_process=workers))

        importer = ArticleImporter(store, "d", segmenter=Segmenter(patterns=pre.patterns), suggest=suggest,
                                   suggestion_source=pre.source)
        importer.import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), "seed")])
        rows[workers] = [(s.text, [(g.source, g.spans, g.relations) for g in store.suggestions(s.id)])
                         for s in store.iter_sentences("d")]
        store.close()
    assert rows[1] == rows[2]
    assert any(g[1] for _, found in rows[1] for g in found)
    assert any(span.source == "ruler" for _, found in rows[1] for g in found for span in g[1])


def test_a_worker_that_dies_is_one_error_not_a_hang():
    import multiprocessing
    import os
    import signal

    import pytest
    from spacy.language import Language

    from annotator.errors import ModelError

    @Language.component("dies_on_marker")
    def dies_on_marker(doc):
        if doc.text == "DIE":
            os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does
        return doc

    nlp = ruler_pipeline()
    nlp.add_pipe("dies_on_marker")
    texts = seed_sentences() * 4 + ["DIE"] + seed_sentences()
    with pytest.raises(ModelError, match="worker process ended abruptly"):
        list(entity_pipe(nlp, texts, batch_size=4, n_process=2))
    assert not multiprocessing.active_children()
