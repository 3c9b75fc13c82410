"""spaCy DocBin: ents vs span groups, doc._.rel as in the relation-extraction tutorial, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.errors import InputError
from annotator.formats.align import shared_vocab
from annotator.formats.docbin import read_docbin, register_rel_extension, write_docbin
from annotator.model import Example, Relation, Span, Token


def load_docs(path: Path) -> list:
    from spacy.tokens import DocBin

    register_rel_extension()
    return list(DocBin().from_disk(path).get_docs(shared_vocab()))


def example() -> Example:
    text = "Rustem Umerov met Lloyd Austin in Washington.\r\n"
    return Example(
        text=text,
        spans=[
            Span(0, 13, "PERSON", -1, -1),
            Span(7, 13, "PERSON", -1, -1),  # nested: overlaps the first, stays in doc.spans only
            Span(18, 30, "PERSON", -1, -1),
            Span(34, 44, "GPE", -1, -1),
        ],
        relations=[Relation((0, 13), (34, 44), "LOCATED_IN"), Relation((18, 30), (0, 13), "MET"), Relation((7, 13), (18, 30), "MET")],
        meta={"article_id": 3, "sentence": 1, "tags": ["a", "b"]},
        annotator="alice",
        answer="accept",
    )


def test_docbin_contents(tmp_path: Path) -> None:
    path = tmp_path / "train.spacy"
    problems = write_docbin([example()], path, relation_labels=["LOCATED_IN", "MET", "WORKS_FOR"])
    assert any("overlaps a longer span" in p for p in problems)
    assert any("MET (7, 13)->(18, 30) names a span that is not an entity" in p for p in problems)
    [doc] = load_docs(path)
    assert doc.text == example().text
    assert [(e.text, e.label_) for e in doc.ents] == [("Rustem Umerov", "PERSON"), ("Lloyd Austin", "PERSON"), ("Washington", "GPE")]
    assert [(s.text, s.label_) for s in doc.spans["sc"]] == [
        ("Rustem Umerov", "PERSON"), ("Umerov", "PERSON"), ("Lloyd Austin", "PERSON"), ("Washington", "GPE")
    ]
    rel = doc._.rel
    starts = [e.start for e in doc.ents]
    assert set(rel) == {(h, c) for h in starts for c in starts if h != c}  # every ordered pair
    rustem, lloyd, washington = starts
    assert rel[(rustem, washington)] == {"LOCATED_IN": 1.0, "MET": 0.0, "WORKS_FOR": 0.0}
    assert rel[(lloyd, rustem)] == {"LOCATED_IN": 0.0, "MET": 1.0, "WORKS_FOR": 0.0}
    assert rel[(washington, rustem)] == {"LOCATED_IN": 0.0, "MET": 0.0, "WORKS_FOR": 0.0}
    assert doc.user_data["meta"]["article_id"] == 3


def test_round_trip_reproduces_every_span_and_relation(tmp_path: Path) -> None:
    path = tmp_path / "train.spacy"
    original = example()
    write_docbin([original], path)
    [back] = read_docbin(path)
    assert back.text == original.text
    assert sorted((s.start, s.end, s.label) for s in back.spans) == sorted((s.start, s.end, s.label) for s in original.spans)
    assert sorted(back.relations) == sorted(original.relations)
    assert back.meta == original.meta and back.annotator == "alice" and back.answer == "accept"


def test_misaligned_span_is_reported_never_assigned(tmp_path: Path) -> None:
    ex = Example(text="Alice Smith", tokens=[Token(0, 5, True), Token(6, 11)], spans=[Span(0, 3, "PERSON", -1, -1), Span(6, 11, "PERSON", 1, 1)])
    problems = write_docbin([ex], tmp_path / "a.spacy")
    assert any("not on token boundaries" in p for p in problems)
    [doc] = load_docs(tmp_path / "a.spacy")
    assert [e.text for e in doc.ents] == ["Smith"]


def test_whitespace_edges_are_reported(tmp_path: Path) -> None:
    ex = Example(text="Hi  Bob", spans=[Span(2, 7, "PERSON", -1, -1)])
    problems = write_docbin([ex], tmp_path / "a.spacy")
    assert any("begins or ends with whitespace" in p for p in problems)


def test_relations_from_third_party_rel_scores(tmp_path: Path) -> None:
    from spacy.tokens import Doc, DocBin

    register_rel_extension()
    doc = Doc(shared_vocab(), words=["Ann", "met", "Bob"])
    doc.ents = [doc.char_span(0, 3, "PER"), doc.char_span(8, 11, "PER")]
    doc._.rel = {(0, 2): {"MET": 1.0, "KNOWS": 0.2}, (2, 0): {"MET": 0.0, "KNOWS": 0.0}}
    docbin = DocBin(store_user_data=True)
    docbin.add(doc)
    docbin.to_disk(tmp_path / "t.spacy")
    [back] = read_docbin(tmp_path / "t.spacy")
    assert back.relations == [Relation((0, 3), (8, 11), "MET")]
    assert [(s.start, s.end, s.label) for s in back.spans] == [(0, 3, "PER"), (8, 11, "PER")]


def test_not_a_docbin(tmp_path: Path) -> None:
    (tmp_path / "x.spacy").write_bytes(b"not zlib")
    with pytest.raises(InputError, match="not a spaCy DocBin"):
        list(read_docbin(tmp_path / "x.spacy"))
    with pytest.raises(InputError, match="no such file"):
        list(read_docbin(tmp_path / "absent.spacy"))
