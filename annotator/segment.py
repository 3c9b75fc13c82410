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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from .model import Token

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc

# A blank line: a line break, optional horizontal whitespace, another line break (any number more).
_PARAGRAPH_BREAK = re.compile(r"\r?\n(?:[^\S\r\n]*\r?\n)+")
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
    pattern_matches: tuple[tuple[int, int, str], ...] | None = None
    """``(start, end, label)`` pattern matches relative to the sentence, when patterns were given."""


class Segmenter:
    """Splits articles into sentences and tokens with spaCy (loaded lazily).

    spaCy's tokenizer and its (compiled) ``sentencizer`` do the work; token offsets are read with
    ``Doc.to_array`` rather than by creating a Python object per token. Two fixes are applied at
    the boundaries only: an opening quote after a sentence end starts the next sentence, and an
    abbreviation such as ``U.S.`` followed by a capitalised function word ends one.
    """

    def __init__(self, lang: str = "en", batch_size: int = 256, patterns: list[dict] | None = None):
        """``patterns`` (spaCy SpanRuler patterns) are matched on the same Docs, once."""
        self.lang = lang
        self.batch_size = batch_size
        self.patterns = patterns
        self._nlp = None

    @property
    def nlp(self):
        if self._nlp is None:
            import spacy  # ~0.6 s: only commands that segment text pay for it

            nlp = spacy.blank(self.lang)
            nlp.add_pipe("sentencizer")
            if self.patterns is not None:
                from .preannotate import add_pattern_ruler

                add_pattern_ruler(nlp, self.patterns)
            self._nlp = nlp
        return self._nlp

    def segment(self, text: str) -> list[SegmentedSentence]:
        """Sentences of one article."""
        return next(iter(self.segment_many([text])))

    def segment_many(self, texts: Iterable[str]) -> Iterator[list[SegmentedSentence]]:
        """Sentences of each article, streaming; paragraphs go through ``nlp.pipe`` in batches."""
        for text, sentences in self.segment_docs(texts):
            yield sentences

    def segment_docs(self, texts: Iterable[str], keep_docs: bool = False):
        """``(text, sentences)`` per article; with ``keep_docs`` also the paragraph Docs and their
        offsets, so pattern matching can run on them without tokenizing again."""
        nlp = self.nlp
        for text in texts:
            spans = list(paragraphs(text))
            sentences: list[SegmentedSentence] = []
            docs = []
            for (para_start, _), doc in zip(spans, nlp.pipe((text[a:b] for a, b in spans), batch_size=self.batch_size)):
                sentences.extend(_split_paragraph(doc, para_start, self.patterns is not None))
                if keep_docs:
                    docs.append((para_start, doc))
            yield (text, sentences, docs) if keep_docs else (text, sentences)


_OPENING_QUOTES = _OPENING | _STRAIGHT_QUOTES
_ABBREVIATION_BREAK = re.compile(r"(?:\b[A-Z]\.){2,}\s+([A-Z][a-z]+)\b")


def _split_paragraph(doc: "Doc", offset: int, with_patterns: bool = False) -> list[SegmentedSentence]:
    """Sentences of one paragraph Doc (sentencizer boundaries + fixes), with article offsets."""
    from spacy.attrs import IDX, IS_SPACE, LENGTH, SENT_START

    n = len(doc)
    if n == 0:
        return []
    array = doc.to_array([IDX, LENGTH, IS_SPACE, SENT_START]).tolist()
    starts = [i for i in range(1, n) if array[i][3] == 1]
    text = doc.text
    if starts:
        fixed = []
        for i in starts:
            j = i
            while j < n and array[j][2]:  # a boundary on whitespace moves to the next word
                j += 1
            k = j - 1
            # an opening quote glued to the end of the previous sentence starts this one
            while k > 0 and doc[k].text in _OPENING_QUOTES and (doc[k].text not in _STRAIGHT_QUOTES or doc[k - 1].whitespace_):
                k -= 1
            fixed.append(k + 1 if k + 1 < j else j)
        starts = fixed
    for match in _ABBREVIATION_BREAK.finditer(text):
        if match.group(1).lower() in _FUNCTION_WORDS:
            char = match.start(1)
            token = _token_at(array, char)
            if token is not None:
                starts.append(token)
    bounds = sorted(set(b for b in starts if 0 < b < n))
    matches: list[tuple[int, int, str]] = []
    if with_patterns:
        from .preannotate import pattern_matches

        matches = pattern_matches(doc)
    sentences = []
    for a, b in zip([0, *bounds], [*bounds, n]):
        words = [(row[0], row[0] + row[1]) for row in array[a:b] if not row[2]]
        if not words:
            continue
        start, end = words[0][0], words[-1][1]
        tokens = []
        for index, (s, e) in enumerate(words):
            next_start = words[index + 1][0] if index + 1 < len(words) else end
            tokens.append(Token(s - start, e - start, next_start > e))
        found = None
        if with_patterns:
            found = tuple((a - start, b - start, label) for a, b, label in matches if start <= a and b <= end)
        sentences.append(SegmentedSentence(offset + start, offset + end, tuple(tokens), found))
    return sentences


def _token_at(array, char: int) -> int | None:
    lo, hi = 0, len(array)
    while lo < hi:
        mid = (lo + hi) // 2
        if array[mid][0] < char:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(array) and array[lo][0] == char else None


_FUNCTION_WORDS = frozenset(
    "a an the he she it they we i you his her its their our this that these those when while but and "
    "so yet if as after before then there here in on at for with by from meanwhile however".split()
)
