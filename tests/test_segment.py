"""Segmentation: paragraphs, sentences, tokens; offsets always reconstruct the article."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from annotator.segment import Segmenter, content_hash, headline, paragraphs

from .conftest import SEED

SEGMENTER = Segmenter()


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in SEGMENTER.segment(text)]


def check_offsets(text: str) -> None:
    for s in SEGMENTER.segment(text):
        sentence = text[s.start : s.end]
        assert sentence == sentence.strip(), "no surrounding whitespace"
        assert sentence, "no empty sentence"
        assert "\n\n" not in sentence.replace("\r", ""), "never crosses a blank line"
        for tok in s.tokens:
            piece = sentence[tok.start : tok.end]
            assert piece and not piece.isspace()
        assert s.tokens[0].start == 0 and s.tokens[-1].end == len(sentence)


def test_seed_article_headline_and_sentences():
    text = SEED.read_text(encoding="utf-8")
    found = sentences(text)
    assert found[0] == "International"
    assert found[1] == "Ukraine defense minister presses US to allow use of long-range weapons on Russia"
    assert found[2].startswith("Ukraine Defense Minister Rustem Umerov pressed U.S. officials Friday")
    assert found[2].endswith("against Russia.")
    assert len(found) == 22
    check_offsets(text)
    title, kicker = headline(text)
    assert title == "Ukraine defense minister presses US to allow use of long-range weapons on Russia"
    assert kicker == "International"


def test_abbreviation_us_does_not_split_but_ends_before_function_word():
    text = "Rustem Umerov pressed U.S. officials Friday. A pilot crashed a plane supplied by the U.S. When asked, he left."
    assert sentences(text) == [
        "Rustem Umerov pressed U.S. officials Friday.",
        "A pilot crashed a plane supplied by the U.S.",
        "When asked, he left.",
    ]


def test_curly_quotes_stay_with_their_sentence():
    text = "“They’re killing our citizens,” Umerov said Friday. “That’s why we want to deter them.”"
    assert sentences(text) == [
        "“They’re killing our citizens,” Umerov said Friday.",
        "“That’s why we want to deter them.”",
    ]


def test_dangling_quote_at_paragraph_end_is_not_a_sentence():
    text = "the pilot’s death was also “unfortunate. “"
    assert sentences(text) == [text]


def test_em_dash_does_not_split():
    text = "Zelensky fired his air force commander — a decision that came shortly after a crash."
    assert sentences(text) == [text]


def test_empty_paragraphs_and_crlf():
    text = "Headline here\r\n\r\n\r\n   \r\nFirst body sentence. Second one!\r\n\r\nLast paragraph?\r\n"
    found = sentences(text)
    assert found == ["Headline here", "First body sentence.", "Second one!", "Last paragraph?"]
    check_offsets(text)
    assert list(paragraphs("\n\n  \n")) == []


def test_single_newline_inside_paragraph_is_not_a_break():
    text = "A line that wraps\nonto the next line. Then more."
    assert sentences(text) == ["A line that wraps\nonto the next line.", "Then more."]
    s = SEGMENTER.segment(text)[0]
    assert all(not text[s.start + t.start : s.start + t.end].isspace() for t in s.tokens)


def test_emoji_and_combining_marks_keep_code_point_offsets():
    text = "Crowds cheered 🎉🇺🇦 in Kyiv. Cafe\u0301 owners said \u202bשלום\u202c too."
    check_offsets(text)
    found = sentences(text)
    assert found[0] == "Crowds cheered 🎉🇺🇦 in Kyiv."


def test_headline_without_kicker():
    assert headline("Big news today\n\nBody.") == ("Big news today", None)
    assert headline("   \n\n") == ("", None)


def test_content_hash_changes_with_text():
    assert content_hash("a") != content_hash("a ")
    assert content_hash("a") == content_hash("a")


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40), max_size=6))
def test_offsets_reconstruct_any_text(parts):
    text = "\n\n".join(parts)
    check_offsets(text)
    for s in SEGMENTER.segment(text):
        assert text[s.start : s.end].strip()


@pytest.mark.parametrize("text", ["", "   ", "\r\n\r\n"])
def test_blank_text_has_no_sentences(text):
    assert SEGMENTER.segment(text) == []
