"""A plain import writes, chunk by chunk, exactly the rows of one ``Store.add_article`` per article
with the suggestions ``Preannotator.suggest`` gives each sentence (the oracle below), and leaves
the connection's and the garbage collector's settings as it found them."""

from __future__ import annotations

import gc
import json
import sqlite3

import pytest

import annotator.importer as importer
from annotator.errors import InputError
from annotator.importer import ArticleImporter, ArticleInput, SuggestOptions, article_analysis, sentence_inputs
from annotator.preannotate import Preannotator
from annotator.segment import Segmenter, content_hash, headline
from annotator.store import Store

from .conftest import SEED

TABLES = {
    "articles": "SELECT id, dataset_id, source, title, text, content_hash, meta FROM articles ORDER BY id",
    "sentences": "SELECT * FROM sentences ORDER BY id",
    "suggestions": "SELECT id, sentence_id, source, spans, relations FROM suggestions ORDER BY id",
    "search": "SELECT indexed_to FROM sentence_search_state",
}


def _articles() -> list[ArticleInput]:
    """The seed, pieces of it (pattern matches in some sentences, none in others) and repeats."""
    seed = SEED.read_text(encoding="utf-8")
    parts = [p for p in seed.split("\n\n") if p.strip()]
    texts = [seed] + [f"Piece {i}\n\n" + "\n\n".join(parts[i : i + 3]) for i in range(len(parts))]
    texts += ["A quiet day.\n\nNothing happened here at all. Nobody came.", texts[2], seed]
    return [ArticleInput(text, f"file.jsonl:{n}", line=n, meta={"n": n}) for n, text in enumerate(texts, start=1)]


def _oracle(store: Store, dataset: str, articles: list[ArticleInput], scheme) -> None:
    """One ``add_article`` per article, suggestions from ``Preannotator.suggest`` per sentence."""
    pre = Preannotator(scheme, use_model=False)
    segmenter = Segmenter(patterns=pre.patterns)
    with store.transaction():
        store.ensure_dataset(dataset, {"overlap": "all"})
        for article in articles:
            digest = content_hash(article.text)
            if store.has_article(dataset, digest):
                continue
            sents = segmenter.segment(article.text)
            flat = [(article.text[s.start : s.end], s) for s in sents]
            found = list(pre.suggest(sentence_inputs(flat, True)))
            title, kicker = headline(article.text)
            meta = dict(article.meta)
            if kicker:
                meta.setdefault("kicker", kicker)
            store.add_article(
                dataset, title=article.title or title, text=article.text, content_hash=digest, source=article.source,
                meta=meta, sentences=[(s.start, s.end, s.offsets) for s in sents],
                suggestions=[(pre.source, spans, relations) for spans, relations in found],
            )


def _rows(path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    finally:
        conn.close()


@pytest.mark.parametrize("chunk", [3, importer.ARTICLE_CHUNK])
def test_chunked_import_writes_the_rows_of_one_add_article_per_article(tmp_path, scheme, monkeypatch, chunk):
    monkeypatch.setattr(importer, "ARTICLE_CHUNK", chunk)
    articles = _articles()
    ours, oracle = tmp_path / "ours.db", tmp_path / "oracle.db"
    segmenter, suggest, source, _ = article_analysis(scheme, SuggestOptions(use_model=False))
    with Store(ours) as store:
        first = ArticleImporter(store, "news", segmenter=segmenter, suggest=suggest, suggestion_source=source,
                                dataset_settings={"overlap": "all"})
        counts = first.import_articles(articles[:4])  # then a file that repeats these and adds more
        again = first.import_articles(articles)
    with Store(oracle) as store:
        _oracle(store, "news", articles[:4], scheme)
        _oracle(store, "news", articles, scheme)
    got, want = _rows(ours), _rows(oracle)
    assert got == want
    assert any(spans != "[]" for _, _, _, spans, _ in got["suggestions"])  # patterns matched somewhere
    assert any(spans == "[]" for _, _, _, spans, _ in got["suggestions"])  # and not everywhere
    assert len(got["suggestions"]) == len(got["sentences"])
    assert counts.articles == 4 and counts.sentences + again.sentences == len(got["sentences"])
    assert again.skipped_articles == 4 and again.duplicate_articles == 2
    assert again.articles == len(articles) - 6
    spans = sum(len(json.loads(row[3])) for row in got["suggestions"])
    assert counts.suggestions + again.suggestions == spans


def test_import_without_suggestions_writes_no_suggestion_rows(tmp_path):
    with Store(tmp_path / "plain.db") as store:
        counts = ArticleImporter(store, "news").import_articles(_articles())
    rows = _rows(tmp_path / "plain.db")
    assert rows["suggestions"] == [] and counts.suggestions == 0
    assert counts.sentences == len(rows["sentences"]) > 0
    assert rows["search"] == [(rows["sentences"][-1][0],)]  # all indexed for search


def test_settings_are_restored_after_an_import_and_after_a_failed_one(tmp_path):
    thresholds = gc.get_threshold()
    with Store(tmp_path / "x.db") as store:
        temp_store = store.conn.execute("PRAGMA temp_store").fetchone()[0]
        ArticleImporter(store, "news").import_articles(_articles()[:2])
        bad = [*_articles()[2:4], ArticleInput("   \n\n  ", "bad.jsonl:9", line=9)]
        with pytest.raises(InputError, match="no text to annotate"):
            ArticleImporter(store, "news").import_articles(bad)
        assert store.conn.execute("PRAGMA temp_store").fetchone()[0] == temp_store
        assert not store.conn.in_transaction
        assert store.sentence_count("news") == sum(len(Segmenter().segment(a.text)) for a in _articles()[:2])
    assert gc.get_threshold() == thresholds
