"""Property tests: offsets survive segmentation, storage and export/import through the store."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from annotator.importer import ArticleImporter, ArticleInput
from annotator.model import Relation, Span, span_problem
from annotator.store import Store

ALPHABET = st.sampled_from(list("abcXYZ ,.!?\n\t\r—“”’") + ["🇺🇦", "é", "e\u0301", "שלום", "\u200b", "U.S.", "Kyiv"])
TEXTS = st.lists(ALPHABET, min_size=1, max_size=80).map("".join).filter(lambda t: t.strip() != "")


@settings(max_examples=60)
@given(text=TEXTS, data=st.data())
def test_segmentation_storage_and_decisions_round_trip(tmp_path_factory, text, data):
    db = tmp_path_factory.mktemp("p") / "p.db"
    with Store(db) as store:
        store.ensure_dataset("d")
        ArticleImporter(store, "d").import_articles([ArticleInput(text, "gen")])
        article = next(store.articles("d"))
        assert article.text == text
        sentences = store.article_sentences(article.id)
        for sentence in sentences:
            assert text[sentence.start : sentence.end] == sentence.text
            for tok in sentence.tokens:
                assert sentence.text[tok.start : tok.end].strip()
        sentence = data.draw(st.sampled_from(sentences))
        n = len(sentence.tokens)
        cuts = sorted(data.draw(st.sets(st.integers(0, n - 1), max_size=min(n, 6))))
        spans = []
        last_end = -1
        for i in range(0, len(cuts) - 1, 2):
            a, b = cuts[i], cuts[i + 1]
            if a > last_end:
                spans.append(Span(sentence.tokens[a].start, sentence.tokens[b].end, "PERSON", a, b))
                last_end = b
        relations = [Relation(spans[i].key, spans[i + 1].key, "MEETS_WITH") for i in range(len(spans) - 1)]
        stored = store.add_decision(sentence, annotator="p", answer="accept", spans=spans, relations=relations,
                                    allow_overlaps=False)
        again = store.current_decision(sentence.id, "p")
        assert again.spans == stored.spans == tuple(sorted(spans))
        assert set(again.relations) == set(relations)
        for span in again.spans:
            assert span_problem(span, sentence.text, sentence.tokens) is None
