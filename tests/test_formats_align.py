"""Tokens and Docs: span-boundary splits, exact Doc text, token indices."""

from __future__ import annotations

import pytest

from annotator.errors import InputError
from annotator.formats.align import assign_token_indices, doc_from_example, shared_vocab, tokenize
from annotator.model import Example, Span, Token


def texts(text: str, tokens: list[Token]) -> list[str]:
    return [text[t.start : t.end] for t in tokens]


def test_tokenize_splits_inside_spacy_tokens_at_span_boundaries() -> None:
    text = "AL-AIN's win"
    tokens = tokenize(text, [Span(3, 6, "LOC", -1, -1)])
    assert texts(text, tokens) == ["AL", "-", "AIN", "'s", "win"]
    assert tokens[3].ws is True and tokens[2].ws is False


def test_tokenize_makes_whitespace_a_token_when_a_span_starts_or_ends_in_it() -> None:
    text = "President Obama"
    tokens = tokenize(text, [(9, 15)])
    assert texts(text, tokens) == ["President", " ", "Obama"]
    assert texts(text, tokenize(text, [(0, 10)])) == ["President", " ", "Obama"]
    assert texts(text, tokenize(text)) == ["President", "Obama"]


def test_tokenize_keeps_whitespace_tokens() -> None:
    text = "a\r\nb  c"
    assert texts(text, tokenize(text)) == ["a", "\r\n", "b", " ", "c"]


@pytest.mark.parametrize(
    "text",
    ["  leading and trailing  ", "tabs\tand\r\nCRLF\n\n", "emoji 😀👍🏽 and e\u0301 combining", "שלום world مرحبا", "x"],
)
def test_doc_text_is_exact(text: str) -> None:
    example = Example(text=text)
    doc, problems = doc_from_example(shared_vocab(), example)
    assert doc.text == text and problems == []


def test_doc_from_given_tokens_inserts_gaps() -> None:
    text = "Kyiv  is\tbig"
    example = Example(text=text, tokens=[Token(0, 4, True), Token(6, 8, False), Token(9, 12, False)])
    doc, problems = doc_from_example(shared_vocab(), example)
    assert doc.text == text and problems == []
    assert [t.text for t in doc] == ["Kyiv", " ", "is", "\t", "big"]
    assert doc.char_span(9, 12, alignment_mode="strict") is not None


def test_uncovered_text_is_kept_and_reported() -> None:
    example = Example(text="ab cd", tokens=[Token(0, 2, True)])
    doc, problems = doc_from_example(shared_vocab(), example)
    assert doc.text == "ab cd" and len(problems) == 1 and "'cd'" in problems[0]


def test_assign_token_indices() -> None:
    example = Example(text="New York City", spans=[Span(4, 13, "GPE", -1, -1)])
    assign_token_indices(example)
    assert example.spans == [Span(4, 13, "GPE", 1, 2)]
    bad = Example(text="New York", tokens=[Token(0, 8)], spans=[Span(0, 3, "X", -1, -1)], line=7)
    with pytest.raises(InputError) as caught:
        assign_token_indices(bad, "file.jsonl")
    assert caught.value.line == 7 and "token boundary" in caught.value.problem
