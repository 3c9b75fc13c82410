"""Property tests: generated texts (emoji, combining marks, CRLF, tabs, RTL) with random
token-aligned spans and relations survive a write/read round trip through every format."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.formats.align import tokenize
from annotator.formats.brat import read_brat, write_brat
from annotator.formats.conll import read_conll, write_conll
from annotator.formats.docbin import read_docbin, register_rel_extension, write_docbin
from annotator.formats.doccano import read_doccano, write_doccano
from annotator.formats.prodigy import read_prodigy, write_prodigy
from annotator.model import ANSWERS, Example, Relation, Span, overlapping_pairs

CHARACTERS = (
    "abcxyzAKZ0129.,-'!?()"  # ASCII, with punctuation spaCy splits off
    "éü東京"
    "\u0301\u0308"  # combining marks
    "😀👍🏽\u200d🇺🇸"  # emoji, skin tone, zero-width joiner, flag letters (all outside the BMP but ZWJ)
    "שלוםمرحبا\u200f"  # Hebrew, Arabic, right-to-left mark
)
SEPARATORS = [" ", " ", " ", "  ", "\t", "\r\n", "\n", " \n", "\n\n"]
SPAN_LABELS = ["PERSON", "GPE", "ORG", "WORK-OF-ART"]
RELATION_LABELS = ["LOCATED_IN", "MET"]
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.text(alphabet=CHARACTERS, min_size=1, max_size=6), min_size=1, max_size=12))
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words) + 1, max_size=len(words) + 1))
    lead = separators[0] if draw(st.booleans()) else ""
    trail = separators[-1] if draw(st.booleans()) else ""
    return lead + "".join(word + sep for word, sep in zip(words, separators[1:-1] + [""])) + trail


@st.composite
def examples(draw: st.DrawFn, allow_overlaps: bool = True, with_tokens: bool = True, answers: bool = True) -> Example:
    text = draw(texts())
    tokens = tokenize(text)
    solid = [i for i, token in enumerate(tokens) if not text[token.start : token.end].isspace()]
    spans: list[Span] = []
    for _ in range(draw(st.integers(0, 5))):
        first = draw(st.sampled_from(solid))
        last = draw(st.sampled_from([i for i in solid if i >= first][:4]))
        span = Span(tokens[first].start, tokens[last].end, draw(st.sampled_from(SPAN_LABELS)), first, last)
        if allow_overlaps or not any(span.overlaps(other) for other in spans):
            spans.append(span)
    relations = []
    if spans:
        for _ in range(draw(st.integers(0, 4))):
            head, child = draw(st.sampled_from(spans)), draw(st.sampled_from(spans))
            relations.append(Relation(head.key, child.key, draw(st.sampled_from(RELATION_LABELS))))
    return Example(
        text=text,
        tokens=tokens if with_tokens else None,
        spans=spans,
        relations=relations,
        answer=draw(st.sampled_from(ANSWERS)) if answers else "accept",
        meta={"article_id": draw(st.integers(0, 2))},
    )


def content(example: Example) -> tuple:
    return (example.text, [(s.start, s.end, s.label) for s in example.spans], example.relations, example.answer)


@SETTINGS
@given(st.lists(examples(), min_size=1, max_size=4))
def test_prodigy_round_trip(originals: list[Example]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.jsonl"
        assert write_prodigy(originals, path) == []
        back = list(read_prodigy(path))
    assert [content(e) for e in back] == [content(e) for e in originals]
    assert [e.tokens for e in back] == [e.tokens for e in originals]
    assert [e.spans for e in back] == [e.spans for e in originals]  # token indices included


@SETTINGS
@given(st.lists(examples(with_tokens=False, answers=False), min_size=1, max_size=4))
def test_doccano_round_trip(originals: list[Example]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.jsonl"
        assert write_doccano(originals, path) == []
        back = list(read_doccano(path))
    assert [content(e) for e in back] == [content(e) for e in originals]


@SETTINGS
@given(st.lists(examples(with_tokens=False, answers=False), min_size=1, max_size=4))
def test_brat_round_trip(originals: list[Example]) -> None:
    for index, example in enumerate(originals):
        example.meta["name"] = f"doc{index:02d}"
    with tempfile.TemporaryDirectory() as folder:
        assert write_brat(originals, Path(folder)) == []
        back = list(read_brat(Path(folder)))
    assert [content(e) for e in back] == [content(e) for e in originals]


@SETTINGS
@given(st.lists(examples(allow_overlaps=False, answers=False), min_size=1, max_size=4))
def test_conll_round_trip(originals: list[Example]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.conll"
        for scheme in ("iob2", "biluo"):
            assert write_conll(originals, path, scheme=scheme) == []
            back = list(read_conll(path))
            assert len(back) == len(originals)
            for original, again in zip(originals, back):
                assert original.tokens is not None and again.tokens is not None
                solid = [i for i, t in enumerate(original.tokens) if not original.text[t.start : t.end].isspace()]
                assert [again.text[t.start : t.end] for t in again.tokens] == [
                    original.text[original.tokens[i].start : original.tokens[i].end] for i in solid
                ]  # whitespace tokens are not written; the text is the tokens joined by single spaces
                new_index = {old: new for new, old in enumerate(solid)}
                expected = sorted((new_index[s.token_start], new_index[s.token_end], s.label) for s in original.spans)
                assert [(s.token_start, s.token_end, s.label) for s in again.spans] == expected
                assert all(again.text[s.start : s.end].split(" ") == [again.text[t.start : t.end] for t in again.tokens[s.token_start : s.token_end + 1]] for s in again.spans)
            documents = [e.meta["document"] for e in back]
            changes = sum(1 for a, b in zip(originals, originals[1:]) if a.meta["article_id"] != b.meta["article_id"])
            assert documents[-1] == changes


@SETTINGS
@given(st.lists(examples(), min_size=1, max_size=3))
def test_docbin_round_trip(originals: list[Example]) -> None:
    from spacy.tokens import DocBin

    from annotator.formats.align import shared_vocab

    register_rel_extension()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.spacy"
        problems = write_docbin(originals, path, relation_labels=RELATION_LABELS)
        assert all("overlaps a longer span" in p or "is not an entity" in p for p in problems)
        back = list(read_docbin(path))
        docs = list(DocBin().from_disk(path).get_docs(shared_vocab()))
    assert [content(e) for e in back] == [content(e) for e in originals]
    for original, doc in zip(originals, docs):
        assert doc.text == original.text
        entities = {(e.start_char, e.end_char): e for e in doc.ents}
        assert not overlapping_pairs([Span(e.start_char, e.end_char, e.label_, 0, 0) for e in doc.ents])
        assert len(doc.spans["sc"]) == len(original.spans)
        for rel in original.relations:
            head, child = entities.get(rel.head), entities.get(rel.child)
            if head is not None and child is not None:
                assert doc._.rel[(head.start, child.start)][rel.label] == 1.0
        for key, scores in doc._.rel.items():
            assert set(scores) == set(RELATION_LABELS)
