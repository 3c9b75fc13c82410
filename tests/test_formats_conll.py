"""CoNLL: scheme detection (IOB1/IOB2/BILUO), documents, writing, overlaps, broken sequences."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from annotator.errors import ExportError, InputError
from annotator.formats.conll import read_conll, write_conll
from annotator.model import Example, Span, Token

GOLDEN = Path(__file__).parent / "golden" / "formats"
UPDATE = os.environ.get("ANNOTATOR_UPDATE_GOLDEN") == "1"


def check_golden(produced: Path, golden: Path) -> None:
    if UPDATE:
        golden.write_bytes(produced.read_bytes())
    assert produced.read_bytes() == golden.read_bytes(), f"{produced} differs from {golden}"


def entities(example: Example) -> list[tuple[str, str]]:
    return [(example.text[s.start : s.end], s.label) for s in example.spans]


def test_iob1_is_detected_and_b_separates_adjacent_entities() -> None:
    [sentence] = read_conll(GOLDEN / "conll_iob1.txt")
    assert sentence.text == "U.N. official Ekeus John Smith ."
    assert entities(sentence) == [("U.N.", "ORG"), ("Ekeus", "PER"), ("John Smith", "PER")]
    assert [(s.token_start, s.token_end) for s in sentence.spans] == [(0, 0), (2, 2), (3, 4)]
    assert sentence.line == 3 and sentence.meta == {"document": 0, "sentence": 0}
    assert sentence.tokens is not None and sentence.tokens[0] == Token(0, 4, True)


def test_iob1_read_as_iob2_when_forced_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        list(read_conll(GOLDEN / "conll_iob1.txt", scheme="iob2"))
    assert caught.value.line == 3 and "I-ORG after O" in caught.value.problem


def test_iob2_documents_and_space_separated_columns() -> None:
    examples = list(read_conll(GOLDEN / "conll_iob2.conll"))
    assert [(e.meta["document"], e.meta["sentence"], e.line) for e in examples] == [(0, 0, 3), (0, 1, 9), (1, 0, 14)]
    assert entities(examples[0]) == [("Japan", "LOC"), ("Asian Cup", "MISC")]
    assert entities(examples[1]) == [("Nadim Ladki", "PER")]
    assert entities(examples[2]) == [("RUGBY UNION", "ORG"), ("CUTTITTA", "PER")]


def test_bioes_is_read_as_biluo() -> None:
    examples = list(read_conll(GOLDEN / "conll_bioes.txt"))
    assert [entities(e) for e in examples] == [[("New York City", "LOC"), ("big", "MISC")], [("Paris", "LOC"), ("Le Mans", "LOC")]]


@pytest.mark.parametrize("scheme", ["iob2", "biluo"])
def test_golden_output(tmp_path: Path, scheme: str) -> None:
    examples = list(read_conll(GOLDEN / "conll_iob2.conll"))
    out = tmp_path / f"{scheme}.conll"
    assert write_conll(examples, out, scheme=scheme) == []
    check_golden(out, GOLDEN / f"conll_output_{scheme}.conll")
    back = list(read_conll(out))
    assert [(e.text, e.spans, e.meta) for e in back] == [(e.text, e.spans, e.meta) for e in examples]


def test_overlapping_spans_keep_the_longest_and_report_the_others(tmp_path: Path) -> None:
    example = Example(
        text="New York City Hall",
        spans=[Span(0, 8, "GPE", -1, -1), Span(0, 18, "FAC", -1, -1), Span(9, 13, "X", -1, -1)],
    )
    problems = write_conll([example], tmp_path / "o.conll")
    assert len(problems) == 2 and all("overlaps a longer span" in p for p in problems)
    assert (tmp_path / "o.conll").read_text() == "New\tB-FAC\nYork\tI-FAC\nCity\tI-FAC\nHall\tI-FAC\n\n"


def test_whitespace_tokens_are_dropped_and_spans_trimmed(tmp_path: Path) -> None:
    text = "Kyiv\r\n\tis  big"
    example = Example(text=text, spans=[Span(0, 6, "GPE", -1, -1)], meta={"article_id": 1})
    other = Example(text="Next one", meta={"article_id": 2})
    problems = write_conll([example, other], tmp_path / "w.conll")
    assert problems == [f"example 1: span 0-6 GPE begins or ends with whitespace; written without it"]
    assert (tmp_path / "w.conll").read_text() == "Kyiv\tB-GPE\nis\tO\nbig\tO\n\n-DOCSTART- -X- O O\n\nNext\tO\none\tO\n\n"


def test_split_tokens_follow_span_boundaries(tmp_path: Path) -> None:
    example = Example(text="AL-AIN , UAE", spans=[Span(0, 6, "LOC", -1, -1), Span(9, 12, "LOC", -1, -1)])
    write_conll([example], tmp_path / "s.conll", scheme="biluo")
    assert (tmp_path / "s.conll").read_text() == "AL\tB-LOC\n-\tI-LOC\nAIN\tL-LOC\n,\tO\nUAE\tU-LOC\n\n"


def test_unknown_write_scheme(tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        write_conll([], tmp_path / "x.conll", scheme="iob1")


def test_jsonl_variant(tmp_path: Path) -> None:
    path = tmp_path / "hf.jsonl"
    path.write_text(
        json.dumps({"words": ["CHICAGO", "AT", "ATLANTA"], "ner": ["B-ORG", "O", "B-LOC"]}) + "\n"
        + json.dumps({"tokens": ["Bill", "Clinton"], "ner_tags": [1, 2]}) + "\n"
    )
    with pytest.raises(InputError) as caught:
        list(read_conll(path))
    assert caught.value.line == 2 and "unknown numeric label id 1" in caught.value.problem
    examples = list(read_conll(path, label_names={0: "O", 1: "B-PER", 2: "I-PER"}))
    assert [entities(e) for e in examples] == [[("CHICAGO", "ORG"), ("ATLANTA", "LOC")], [("Bill Clinton", "PER")]]


@pytest.mark.parametrize(
    ("content", "scheme", "line", "message"),
    [
        ("a\tO\nb\tI-PER\nc\tO\nd\tB-PER\n", None, 2, "so it is not IOB1"),  # mixed: B- begins entities too
        ("a\tB-PER\nb\tI-ORG\n", "iob2", 2, "I-ORG after a PER entity"),
        ("a\tB-PER\nb\tO\n", "biluo", 2, "must end with L-"),
        ("a\tL-PER\n", "biluo", 1, "L- must continue"),
        ("a\tB-PER\nb\tU-PER\n", "biluo", 2, "must end with L-"),
        ("a\tB-PER\nb\tI-PER\n", "biluo", 2, "sentence ends inside a PER entity"),
        ("a\tB-PER\nb\tL-ORG\n", "biluo", 2, "inside a PER entity"),
        ("a\tU-PER\n", "iob2", 1, "not an IOB2 tag"),
        ("SOCCERO SOCCERO SOCCERO\n", None, 1, "invalid tag 'SOCCERO'"),
        ("a\tB-\n", None, 1, "invalid tag"),
        ("lonely\n", None, 1, "one column"),
    ],
)
def test_broken_sequences(tmp_path: Path, content: str, scheme: str | None, line: int, message: str) -> None:
    path = tmp_path / "bad.conll"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_conll(path, scheme=scheme))
    assert caught.value.line == line and message in caught.value.problem


def test_unknown_scheme_name(tmp_path: Path) -> None:
    path = tmp_path / "a.conll"
    path.write_text("a\tO\n")
    with pytest.raises(InputError, match="unknown tag scheme"):
        list(read_conll(path, scheme="xml"))


def test_comments_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "multiconer.conll"
    path.write_bytes("\ufeff# id 1f2e domain=en\r\n#\t_\tO\r\nKyiv\t_\tB-LOC\r\n\r\nLviv\t_\tB-LOC\r\n".encode("utf-8"))
    examples = list(read_conll(path))
    assert [e.text for e in examples] == ["# Kyiv", "Lviv"]  # a "#" token with a tag is a token
    assert [entities(e) for e in examples] == [[("Kyiv", "LOC")], [("Lviv", "LOC")]]
    assert examples[1].line == 5
