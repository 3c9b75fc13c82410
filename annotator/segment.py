"""Article text → paragraphs → sentences → tokens, with offsets that always reconstruct the text.

Paragraphs are separated by blank lines (lines holding only whitespace; ``\\n`` or ``\\r\\n``), so a
sentence never crosses a paragraph break and the headline (its own paragraph) is its own sentence.
Within a paragraph spaCy's English tokenizer makes the tokens and a sentencizer-style rule splits
sentences after ``.``, ``!``, ``?`` (closing quotes and brackets stay with the sentence they close,
an opening quote starts the next one; ``U.S.`` followed by a capitalised function word ends one).
Whitespace is never part of a sentence or a token.

spaCy is imported the first time a ``Segmenter`` is used, never at module import.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from .model import Token

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc

# A blank line: a line break, optional horizontal whitespace, another line break (any number more).
_PARAGRAPH_BREAK = re.compile(r"\r?\n(?:[^\S\r\n]*\r?\n)+")
_SENTENCE_END = frozenset({".", "!", "?", "。", "…", "!", "?", "...", "?!", "!?", "!!", "??"})
_OPENING = frozenset({"“", "‘", "«", "„", "(", "[", "{", "‹"})
_STRAIGHT_QUOTES = frozenset({'"', "'"})


def content_hash(text: str) -> str:
    """The identity of an article's text (used to make imports idempotent)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each non-empty paragraph, stripped of surrounding whitespace.

    >>> list(paragraphs("Title\\n\\nBody one.\\r\\n\\r\\n\\n  Body two.  "))
    [(0, 5), (7, 16), (24, 33)]
    """
    position = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield from _stripped(text, position, match.start())
        position = match.end()
    yield from _stripped(text, position, len(text))


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield (start, end)


def headline(text: str) -> tuple[str, str | None]:
    """The article's title and an optional kicker (section line) above it.

    The title is the first non-empty line. A first line of one or two words without sentence
    punctuation that stands alone above another one-line paragraph (``International`` above the
    headline in wire copy) is taken as the kicker and the next line as the title.
    """
    spans = list(_first_paragraphs(text, 2))
    if not spans:
        return "", None
    first = text[spans[0][0] : spans[0][1]]
    first_line = first.splitlines()[0].strip()
    if len(spans) > 1 and "\n" not in first:
        second = text[spans[1][0] : spans[1][1]]
        words = first_line.split()
        if 1 <= len(words) <= 2 and not re.search(r"[.!?:;,]$", first_line) and "\n" not in second.strip():
            return second.strip(), first_line
    return first_line, None


def _first_paragraphs(text: str, count: int) -> Iterator[tuple[int, int]]:
    for i, span in enumerate(paragraphs(text)):
        if i >= count:
            return
        yield span


@dataclass(frozen=True)
class SegmentedSentence:
    """A sentence found in an article: offsets into the article and tokens relative to the sentence."""

    start: int
    end: int
    tokens: tuple[Token, ...]


class Segmenter:
    """Splits articles into sentences and tokens with spaCy's English tokenizer (loaded lazily)."""

    def __init__(self, lang: str = "en", batch_size: int = 256):
        self.lang = lang
        self.batch_size = batch_size
        self._nlp = None

    @property
    def nlp(self):
        if self._nlp is None:
            import spacy  # ~0.6 s: only commands that segment text pay for it

            self._nlp = spacy.blank(self.lang)
        return self._nlp

    def segment(self, text: str) -> list[SegmentedSentence]:
        """Sentences of one article."""
        return next(iter(self.segment_many([text])))

    def segment_many(self, texts: Iterable[str]) -> Iterator[list[SegmentedSentence]]:
        """Sentences of each article, streaming; paragraphs are tokenized in batches."""
        tokenizer = self.nlp.tokenizer
        for text in texts:
            spans = list(paragraphs(text))
            sentences: list[SegmentedSentence] = []
            docs = tokenizer.pipe((text[a:b] for a, b in spans), batch_size=self.batch_size)
            for (para_start, _), doc in zip(spans, docs):
                sentences.extend(_split_paragraph(doc, para_start))
            yield sentences


def _split_paragraph(doc: "Doc", offset: int) -> list[SegmentedSentence]:
    """Sentences of one tokenized paragraph, with article offsets (``offset`` = paragraph start)."""
    words = [(t.idx, t.idx + len(t.text), t.text, bool(t.whitespace_)) for t in doc if not t.text.isspace()]
    if not words:
        return []
    n = len(words)
    boundaries = [0]
    seen_end = False
    for i, (_, _, word, _) in enumerate(words):
        if seen_end:
            if _continues_sentence(word, words, i):
                pass
            else:
                boundaries.append(i)
                seen_end = False
        if word in _SENTENCE_END or (len(word) > 1 and word[-1] in ".!?" and _all_punct(word)):
            seen_end = True
        elif (
            len(word) > 2
            and word.endswith(".")
            and word[:-1].replace(".", "").isalpha()
            and word.count(".") >= 2
            and i + 1 < n
            and _starts_sentence_after_abbreviation(words[i + 1][2])
        ):
            seen_end = True  # "... supplied by the U.S. When asked ..."
    boundaries.append(n)
    sentences = []
    for a, b in zip(boundaries, boundaries[1:]):
        if a >= b:
            continue
        start = words[a][0]
        end = words[b - 1][1]
        tokens = tuple(Token(w[0] - start, w[1] - start, False) for w in words[a:b])
        sentences.append(SegmentedSentence(offset + start, offset + end, _with_ws(doc.text[start:end], tokens)))
    return sentences


def _with_ws(text: str, tokens: Sequence[Token]) -> tuple[Token, ...]:
    out = []
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1].start if i + 1 < len(tokens) else len(text)
        out.append(Token(tok.start, tok.end, nxt > tok.end))
    return tuple(out)


def _all_punct(word: str) -> bool:
    return all(unicodedata.category(ch).startswith("P") for ch in word)


def _continues_sentence(word: str, words: list[tuple[int, int, str, bool]], i: int) -> bool:
    """After a sentence end: does this token still belong to the ending sentence?"""
    if not _all_punct(word):
        return False
    if word in _OPENING or (word in _STRAIGHT_QUOTES and i > 0 and words[i - 1][3]):
        # An opening quote or bracket starts the next sentence, unless nothing but punctuation follows.
        return all(_all_punct(w[2]) for w in words[i:])
    return True


_FUNCTION_WORDS = frozenset(
    "a an the he she it they we i you his her its their our this that these those when while but and "
    "so yet if as after before then there here in on at for with by from meanwhile however".split()
)


def _starts_sentence_after_abbreviation(word: str) -> bool:
    return word[:1].isupper() and word.lower() in _FUNCTION_WORDS
