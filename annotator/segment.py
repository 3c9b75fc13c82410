"""Article text → paragraphs → sentences → tokens, with offsets that always reconstruct the text.

Paragraphs are separated by blank lines (lines holding only whitespace; ``\\n`` or ``\\r\\n``), so a
sentence never crosses a paragraph break and the headline (its own paragraph) is its own sentence.
Within a paragraph spaCy's English tokenizer makes the tokens and a sentencizer-style rule splits
sentences after ``.``, ``!``, ``?`` (closing quotes and brackets stay with the sentence they close,
an opening quote starts the next one; ``U.S.`` followed by a capitalised function word ends one).
Whitespace is never part of a sentence or a token.

Names may contain ``!`` and ``?`` ("New Yahoo! Comedy Channel", "Jeopardy! host"), and an entity or
relation can never cross a sentence boundary, so a wrong split makes a correct annotation impossible
while a wrong join only makes a sentence longer. Where the text cannot tell, the rule therefore joins:

- the headline (the title line, and the kicker above it, see :func:`headline`) is never split: a
  one-line first paragraph (or the one-line paragraph after a kicker) of an article that has more
  paragraphs, unless it ends with ``.``, ``!`` or ``?`` (then it is read as body text, and the
  next rule still keeps names whole);
- after a ``!`` or ``?`` directly followed by a word, a sentence starts only if that word is
  capitalised, and, when the ``!``/``?`` is attached to a capitalised word (``Yahoo!``), only if the
  next word cannot continue a name: a function word, pronoun or similar sentence opener (``The``,
  ``He``, ``Me``, ``Nobody``…). So "Yahoo! News reported" and "Jeopardy! host" stay whole while
  "Wow! The crowd cheered", "Who? Me?" and "It was great! Ahmed said" split. The cost, by design:
  "Wow! Ahmed said." is one sentence.

spaCy is imported the first time a ``Segmenter`` is used, never at module import.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

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
    [(0, 5), (7, 16), (23, 32)]
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


_CLOSERS = "\"'”’»)]}›"


def _unsplit_paragraphs(text: str, spans: Sequence[tuple[int, int]]) -> frozenset[int]:
    """Indices (into ``spans``) of the headline paragraphs that are never split into sentences.

    The title is the first paragraph, or the second after a kicker (the same reading as
    :func:`headline`); it counts only when it is one line, the article has more paragraphs, and it
    does not end with ``.``, ``!`` or ``?`` (a line that does is read as body text).
    """
    if len(spans) < 2:
        return frozenset()
    first = text[spans[0][0] : spans[0][1]]
    if "\n" in first or "\r" in first:
        return frozenset()
    found = {0}
    title = 0
    words = first.split()
    if 1 <= len(words) <= 2 and not re.search(r"[.!?:;,]$", first):
        second = text[spans[1][0] : spans[1][1]]
        if "\n" not in second and "\r" not in second:
            title = 1
            found.add(1)
    if text[spans[title][0] : spans[title][1]].rstrip(_CLOSERS).endswith((".", "!", "?")):
        found.discard(title)
    return frozenset(found)


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
    offsets: tuple[int, ...]
    """Token offsets relative to the sentence, flat: ``(start0, end0, start1, end1, ...)``."""
    pattern_matches: tuple[tuple[int, int, str], ...] | None = None
    """``(start, end, label)`` pattern matches relative to the sentence, when patterns were given."""

    @property
    def tokens(self) -> tuple[Token, ...]:
        """The tokens (``ws`` is true when a gap follows a token)."""
        flat = self.offsets
        n = len(flat)
        return tuple(
            Token(flat[i], flat[i + 1], (flat[i + 2] if i + 2 < n else flat[i + 1]) > flat[i + 1]) for i in range(0, n, 2)
        )


class Segmenter:
    """Splits articles into sentences and tokens with spaCy (loaded lazily).

    spaCy's tokenizer makes the tokens; sentence boundaries follow the rule of spaCy's
    ``sentencizer`` (with its punctuation list), computed in one pass over ``Doc.to_array``
    columns rather than by creating a Python object per token, with two fixes: an opening quote
    after a sentence end starts the next sentence, and an abbreviation such as ``U.S.`` followed
    by a capitalised function word ends one.
    """

    def __init__(self, lang: str = "en", batch_size: int = 256, patterns: list[dict] | None = None):
        """``patterns`` (spaCy SpanRuler patterns) are matched on the same Docs, once."""
        self.lang = lang
        self.batch_size = batch_size
        self.patterns = patterns
        self._nlp = None
        self._matcher = None

    @property
    def nlp(self):
        if self._nlp is None:
            import spacy  # ~0.6 s: only commands that segment text pay for it

            nlp = spacy.blank(self.lang)
            if self.patterns is not None:
                from .preannotate import PatternMatcher

                self._matcher = PatternMatcher(nlp, self.patterns)
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
        hashes = _Hashes.of(nlp.vocab)
        for text in texts:
            spans = list(paragraphs(text))
            sentences: list[SegmentedSentence] = []
            docs = []
            pieces = [text[a:b] for a, b in spans]
            whole = _unsplit_paragraphs(text, spans)
            for number, ((para_start, _), piece, doc) in enumerate(zip(spans, pieces, nlp.pipe(pieces, batch_size=self.batch_size))):
                sentences.extend(
                    _split_paragraph(doc, para_start, self._matcher, piece, hashes, whole=number in whole)
                )
                if keep_docs:
                    docs.append((para_start, doc))
            yield (text, sentences, docs) if keep_docs else (text, sentences)


_OPENING_QUOTES = _OPENING | _STRAIGHT_QUOTES
_ABBREVIATION_BREAK = re.compile(r"(?:\b[A-Z]\.){2,}\s+([A-Z][a-z]+)\b")


def previous_word_floor(starts: list[int]) -> int:
    """Quotes are never moved back past the previous sentence's start."""
    return starts[-1] if starts else 0


class _Hashes:
    """Vocab hashes of the sentence-ending and opening-quote tokens (cached per vocab)."""

    _cache: dict[int, "_Hashes"] = {}

    def __init__(self, vocab):
        from spacy.pipeline import Sentencizer

        strings = vocab.strings
        self.enders = frozenset(strings.add(ch) for ch in Sentencizer.default_punct_chars)
        self.openers = frozenset(strings.add(ch) for ch in _OPENING_QUOTES)
        self.straight = frozenset(strings.add(ch) for ch in _STRAIGHT_QUOTES)
        self.in_names = frozenset(strings.add(ch) for ch in "!?")

    @classmethod
    def of(cls, vocab) -> "_Hashes":
        key = id(vocab)
        if key not in cls._cache:
            cls._cache[key] = cls(vocab)
        return cls._cache[key]


def _split_paragraph(
    doc: "Doc",
    offset: int,
    matcher: "Callable[[Doc], list[tuple[int, int, str]]] | None" = None,
    text: str | None = None,
    hashes: "_Hashes | None" = None,
    whole: bool = False,
) -> list[SegmentedSentence]:
    """Sentences of one paragraph Doc, with article offsets (one sentence when ``whole``).

    The rule is spaCy's sentencizer's (a sentence ends after a token in its punctuation list,
    once a token follows that is not punctuation), applied in one pass over ``Doc.to_array``
    columns so no spaCy ``Token`` object is made; whitespace tokens are skipped; an opening quote
    after a sentence end starts the next sentence; ``U.S.`` + a capitalised function word ends one;
    a ``!``/``?`` that may belong to a name does not end one (:func:`_continues_name`).
    """
    from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, LENGTH, ORTH

    n = len(doc)
    if n == 0:
        return []
    if text is None:
        text = doc.text
    if hashes is None:
        hashes = _Hashes.of(doc.vocab)
    idx, lengths, space, punct, orth = doc.to_array([IDX, LENGTH, IS_SPACE, IS_PUNCT, ORTH]).T.tolist()
    enders, openers, straight, in_names = hashes.enders, hashes.openers, hashes.straight, hashes.in_names
    starts: list[int] = []
    seen_end = False
    last_end = -1
    for i in range(0 if whole else n):
        if space[i]:
            continue
        o = orth[i]
        if seen_end and not punct[i] and o not in enders:
            if orth[last_end] in in_names and _continues_name(text, idx, lengths, space, last_end, i):
                seen_end = False
                continue
            # move back over opening quotes that belong to this sentence
            k = i
            while k - 1 > previous_word_floor(starts) and orth[k - 1] in openers and not space[k - 1] and (
                orth[k - 1] not in straight or idx[k - 1] > idx[k - 2] + lengths[k - 2]
            ):
                k -= 1
            starts.append(k)
            seen_end = False
        elif o in enders:
            seen_end = True
            last_end = i
    if "." in text and not whole:
        for match in _ABBREVIATION_BREAK.finditer(text):
            if match.group(1).lower() in _FUNCTION_WORDS:
                position = bisect.bisect_left(idx, match.start(1))
                if position < n and idx[position] == match.start(1):
                    starts.append(position)
    bounds = sorted(set(b for b in starts if 0 < b < n))
    with_patterns = matcher is not None
    matches = matcher(doc) if with_patterns else []
    any_space = 1 in space
    token_ends = [i + length for i, length in zip(idx, lengths)]
    sentences = []
    for a, b in zip([0, *bounds], [*bounds, n]):
        if any_space:
            words = [i for i in range(a, b) if not space[i]]
            if not words:
                continue
            starts_here = [idx[i] for i in words]
            ends_here = [token_ends[i] for i in words]
        else:
            starts_here = idx[a:b]
            ends_here = token_ends[a:b]
        start = starts_here[0]
        end = ends_here[-1]
        flat = tuple([value - start for pair in zip(starts_here, ends_here) for value in pair])
        found = None
        if with_patterns:
            found = tuple((x - start, y - start, label) for x, y, label in matches if start <= x and y <= end)
        sentences.append(SegmentedSentence(offset + start, offset + end, flat, found))
    return sentences


_FUNCTION_WORDS = frozenset(
    "a an the he she it they we i you his her its their our this that these those when while but and "
    "so yet if as after before then there here in on at for with by from meanwhile however".split()
)

_SENTENCE_OPENERS = _FUNCTION_WORDS | frozenset(
    "me my mine him us them your yours who whom whose what which where why how whoever whatever "
    "nobody somebody someone everyone everybody nothing something everything no yes not never none "
    "or nor because although though unless until since once all some many most every each both "
    "is are was were am be been do does did have has had will would can could shall should may "
    "might must let please thanks thank well oh ah wow ok okay hey hi hello now today".split()
)
"""Words that open a sentence and cannot continue a name: after ``Yahoo!`` they start a new one."""


def _continues_name(text: str, idx: list[int], lengths: list[int], space: list[int], bang: int, nxt: int) -> bool:
    """Whether the word at ``nxt`` continues the sentence across the ``!``/``?`` at ``bang``.

    Only when the mark is the token right before the word (no closing quote or bracket between):
    a lowercase word continues ("Jeopardy! host", "Yahoo! reported"); a capitalised word continues
    when the mark is attached to a capitalised word ("Yahoo! News", "New Yahoo! Comedy Channel")
    and the word is not a sentence opener ("Wow! The crowd", "Who? Me?" split).
    """
    k = nxt - 1
    while k > bang and space[k]:
        k -= 1
    if k != bang:
        return False
    first = text[idx[nxt]]
    if first.islower():
        return True
    if not first.isupper() or bang == 0:
        return False
    before = bang - 1
    if space[before] or idx[before] + lengths[before] != idx[bang] or not text[idx[before]].isupper():
        return False
    word = text[idx[nxt] : idx[nxt] + lengths[nxt]]
    return word.lower() not in _SENTENCE_OPENERS
