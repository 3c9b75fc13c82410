"""The export's bulk read (``store.bulk.current_rows``, ``export.collect_examples``) gives the
Examples the per-decision read gives (``Store.current_decisions``, ``Decision`` objects)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.annotated_import import import_annotated
from annotator.export import ExportPlan, _OUR_META, collect_examples
from annotator.model import Example, Span, split_tokens, tokens_from_offsets
from annotator.store import Store
from annotator.store.bulk import decode_token_offsets
from annotator.store.codec import decode_tokens, encode_tokens


def _per_decision_examples(store: Store, plan: ExportPlan) -> list[tuple[Example, object]]:
    """What ``collect_examples`` gave before its bulk read: one ``Decision`` per row."""
    out = []
    for sentence, decision in store.current_decisions(plan.dataset, plan.annotators or None, gold=plan.gold):
        if decision.answer not in plan.answers:
            continue
        article = store.article(sentence.article_id)
        meta = {**{k: v for k, v in article.meta.items() if k not in _OUR_META}, "article_id": sentence.article_id,
                "article_hash": article.content_hash, "title": article.title, "sentence_index": sentence.index,
                "position": sentence.position, "annotator": decision.annotator}
        if decision.gold:
            meta["gold"] = True
        if decision.meta.get("_prodigy"):
            meta["_prodigy"] = decision.meta["_prodigy"]
        out.append((Example(text=sentence.text, tokens=list(decision.tokens_of(sentence)), spans=list(decision.spans),
                            relations=list(decision.relations), answer=decision.answer, annotator=decision.annotator,
                            session=decision.session or decision.annotator, timestamp=decision.created_at, meta=meta,
                            gold=decision.gold), sentence))
    return out


@pytest.mark.parametrize("text", ["", "a", "Umerov met  Austin.\n", "U.S.-made  weapons\t(ATACMS) ", "é ü  ß\u2028x"])
def test_decode_token_offsets_is_decode_tokens(text: str) -> None:
    offsets = [(i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]
    data = encode_tokens(tokens_from_offsets(text, offsets))
    assert decode_token_offsets(text, data) == decode_tokens(text, data)
    assert all(type(t).__name__ == "Token" for t in decode_token_offsets(text, data))


def test_collect_examples_equals_the_per_decision_read(seeded_store, scheme, tmp_path: Path) -> None:
    store = seeded_store
    sentences = [store.sentence_at("demo", p).sentence for p in range(1, 7)]
    first = sentences[0]
    word = first.tokens[0]
    store.add_decision(first, annotator="alice", answer="accept",
                       spans=[Span(word.start, word.end, "PERSON", 0, 0)], meta={"_prodigy": {"_view_id": "ner_manual"}})
    store.add_decision(first, annotator="bob", answer="reject")
    # a decision that splits a token (a span inside the first token)
    if word.end - word.start > 1:
        cut = word.start + 1
        tokens = split_tokens(first.text, first.tokens, [cut])
        store.add_decision(sentences[1], annotator="alice", answer="ignore")
        store.add_decision(first, annotator="carol", answer="accept", spans=[Span(word.start, cut, "ORG", 0, 0)], tokens=tokens)
    decision = store.add_decision(sentences[2], annotator="alice", answer="accept")
    store.undo(decision)  # undecided again: answer NULL, in no export
    store.add_decision(sentences[3], annotator="rev", answer="accept", gold=True)
    record = {"text": "Zelensky met Macron.", "spans": [{"start": 0, "end": 8, "label": "PERSON"}],
              "tokens": [{"start": 0, "end": 8}, {"start": 9, "end": 12}, {"start": 13, "end": 19}, {"start": 19, "end": 20}],
              "_annotator_id": "alice", "_timestamp": 1_700_000_000.25}
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    import_annotated(store, "demo", tmp_path / "a.jsonl", "prodigy", scheme)
    for annotators, gold in (([], False), (["alice"], False), (["alice", "bob", "carol"], False), ([], True)):
        plan = ExportPlan("demo", "jsonl", "x", annotators, gold, ("accept", "reject", "ignore"), tmp_path)
        got = [(e, s) for e, s in collect_examples(store, plan)]
        assert got == _per_decision_examples(store, plan)
        assert got or gold is False
    plan = ExportPlan("demo", "jsonl", "x", [], False, ("accept", "reject", "ignore"), tmp_path)
    assert len(list(collect_examples(store, plan))) >= 5
