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
from dataclasses import dataclass, field
from itertools import repeat
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
    offsets_json: str | None = field(default=None, compare=False, repr=False)
    """``offsets`` as the store writes them (compact JSON, ``[0,3,4,9]``), made for a whole group
    of sentences at once by :func:`_json_lists`; None when not made."""

    @property
    def tokens(self) -> tuple[Token, ...]:
        """The tokens (``ws`` is true when a gap follows a token), made by ``tuple.__new__`` over
        ``zip`` (what the named tuple's own constructor does, without a Python call per token)."""
        flat = self.offsets
        starts, ends = flat[0::2], flat[1::2]
        ws = [after > end for end, after in zip(ends, starts[1:])]
        ws.append(False)
        return tuple(map(tuple.__new__, repeat(Token), zip(starts, ends, ws)))


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
        offsets, so pattern matching can run on them without tokenizing again.

        Articles are taken in groups of about ``ARTICLE_GROUP_CHARACTERS`` characters: their
        paragraphs go through one ``nlp.pipe`` and one array pass (:func:`_split_articles`), so
        memory stays bounded and the results still stream article by article.
        """
        nlp = self.nlp
        hashes = _Hashes.of(nlp.vocab)
        group: list[str] = []
        size = 0
        for text in texts:
            group.append(text)
            size += len(text)
            if size >= ARTICLE_GROUP_CHARACTERS:
                yield from self._segment_group(nlp, hashes, group, keep_docs)
                group, size = [], 0
        if group:
            yield from self._segment_group(nlp, hashes, group, keep_docs)

    def _segment_group(self, nlp, hashes: "_Hashes", texts: list[str], keep_docs: bool):
        spans = [list(paragraphs(text)) for text in texts]
        pieces = [text[a:b] for text, article in zip(texts, spans) for a, b in article]
        docs = list(nlp.pipe(pieces, batch_size=self.batch_size))
        whole = [_unsplit_paragraphs(text, article) for text, article in zip(texts, spans)]
        results = _split_articles(texts, spans, whole, docs, hashes, self._matcher)
        first = 0
        for text, article, sentences in zip(texts, spans, results):
            if keep_docs:
                yield text, sentences, [(a, doc) for (a, _), doc in zip(article, docs[first : first + len(article)])]
            else:
                yield text, sentences
            first += len(article)


ARTICLE_GROUP_CHARACTERS = 200_000
"""How much text :meth:`Segmenter.segment_docs` segments in one array pass (numpy's cost per
call is paid per group, not per paragraph)."""

_OPENING_QUOTES = _OPENING | _STRAIGHT_QUOTES
_ABBREVIATION_BREAK = re.compile(r"(?:\b[A-Z]\.){2,}\s+([A-Z][a-z]+)\b")
_AFTER_DOT = re.compile(r"\.\s+([A-Z][a-z]+)\b")


def _abbreviation_breaks(text: str) -> Iterator[int]:
    """Where a capitalised function word follows an abbreviation such as ``U.S.`` (``U.S. The``):
    the start of each group 1 of ``_ABBREVIATION_BREAK`` that is in ``_FUNCTION_WORDS``.

    The same places, found ~15× faster: the scan looks for ``.`` (a literal, which the regex
    engine skips to) followed by a capitalised word, and only then checks the two letter-dot
    pairs before it (``\\b`` before the first: the start or a character that is not a word
    character).
    """
    for match in _AFTER_DOT.finditer(text):
        if match.group(1).lower() not in _FUNCTION_WORDS:
            continue
        dot = match.start()
        if (
            dot >= 3
            and text[dot - 2] == "."
            and "A" <= text[dot - 1] <= "Z"
            and "A" <= text[dot - 3] <= "Z"
            and (dot == 3 or not (text[dot - 4].isalnum() or text[dot - 4] == "_"))
        ):
            yield match.start(1)


class _Hashes:
    """Vocab hashes of the sentence-ending and opening-quote tokens (cached per vocab), as sets
    and as sorted arrays for ``numpy.isin``."""

    _cache: dict[int, "_Hashes"] = {}

    def __init__(self, vocab):
        import numpy
        from spacy.pipeline import Sentencizer

        strings = vocab.strings
        self.enders = frozenset(strings.add(ch) for ch in Sentencizer.default_punct_chars)
        self.openers = frozenset(strings.add(ch) for ch in _OPENING_QUOTES)
        self.straight = frozenset(strings.add(ch) for ch in _STRAIGHT_QUOTES)
        self.in_names = frozenset(strings.add(ch) for ch in "!?")
        self.enders_are_punct = all(vocab[ch].is_punct for ch in Sentencizer.default_punct_chars)
        self.arrays = {
            name: numpy.array(sorted(getattr(self, name)), dtype=numpy.uint64)
            for name in ("enders", "openers", "straight", "in_names")
        }

    @classmethod
    def of(cls, vocab) -> "_Hashes":
        key = id(vocab)
        if key not in cls._cache:
            cls._cache[key] = cls(vocab)
        return cls._cache[key]


def _member(values, table):
    """Which of ``values`` are in the sorted array ``table`` (``numpy.isin`` is far slower on
    hashes: it sorts both arrays, or builds a table as wide as their range)."""
    import numpy

    found = numpy.searchsorted(table, values)
    numpy.minimum(found, len(table) - 1, out=found)
    return table[found] == values


def _split_articles(
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    whole: Sequence[frozenset[int]],
    docs: "Sequence[Doc]",
    hashes: _Hashes,
    matcher: "Callable[[Doc], list[tuple[int, int, str]]] | None" = None,
) -> list[list[SegmentedSentence]]:
    """Sentences of each article from its paragraph Docs: ``docs`` are the paragraphs of all the
    articles in order, ``spans[a][p]`` the place of article ``a``'s paragraph ``p`` in its text,
    ``whole[a]`` the paragraphs of article ``a`` that are one sentence each.

    The rule is spaCy's sentencizer's (a sentence ends after a token in its punctuation list,
    once a token follows that is not punctuation) with the fixes described in the module's
    docstring. It runs on the ``Doc.to_array`` columns of all the paragraphs at once with numpy:
    a word (not whitespace, not punctuation, not a sentence end) is a candidate start when a
    sentence end lies between it and the previous word of its paragraph. Python looks only at
    the candidates (about one per sentence), and closely only at those after a ``!``/``?`` that
    may belong to a name (:func:`_continues_name`) or behind an opening quote (moved back over
    it, which depends on the start found before). The sentences' token offsets are computed as
    arrays too: no spaCy ``Token`` object and no Python step per token.
    """
    import numpy
    from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, LENGTH, ORTH

    results: list[list[SegmentedSentence]] = [[] for _ in texts]
    sizes = [len(doc) for doc in docs]
    total = sum(sizes)
    if total == 0:
        return results
    columns = [IDX, LENGTH, IS_SPACE, IS_PUNCT, ORTH]
    table = numpy.concatenate([doc.to_array(columns) for doc in docs])
    size_array = numpy.array(sizes, dtype=numpy.int64)
    paragraph_article = [number for number, article in enumerate(spans) for _ in article]
    paragraph_start = [a for article in spans for a, _ in article]
    paragraph_end = [b for article in spans for _, b in article]
    paragraph_whole = [p in chosen for article, chosen in zip(spans, whole) for p in range(len(article))]
    first_token = numpy.zeros(len(docs) + 1, dtype=numpy.int64)
    numpy.cumsum(size_array, out=first_token[1:])
    first_list = first_token.tolist()
    # article offsets of each token
    begin = table[:, 0].astype(numpy.int64) + numpy.repeat(numpy.array(paragraph_start, dtype=numpy.int64), size_array)
    end = begin + table[:, 1].astype(numpy.int64)
    space = table[:, 2].astype(bool)
    orth = table[:, 4]
    punct = table[:, 3].astype(bool)
    if hashes.enders_are_punct:  # look up only the punctuation tokens
        ender = numpy.zeros(total, dtype=bool)
        ender[punct] = _member(orth[punct], hashes.arrays["enders"])
    else:
        ender = _member(orth, hashes.arrays["enders"])
    word = ~space & ~punct & ~ender
    positions = numpy.arange(total, dtype=numpy.int64)
    # the previous word of each token, never before its paragraph (-1 + its first token)
    previous_word = numpy.empty(total, dtype=numpy.int64)
    previous_word[0] = -1
    numpy.maximum.accumulate(numpy.where(word, positions, -1)[:-1], out=previous_word[1:])
    numpy.maximum(previous_word, numpy.repeat(first_token[:-1] - 1, size_array), out=previous_word)
    ends_before = numpy.zeros(total + 1, dtype=numpy.int64)  # sentence ends among tokens [0, i)
    numpy.cumsum(ender, out=ends_before[1:])
    candidate = word & (ends_before[:-1] > ends_before[previous_word + 1])
    for number, unsplit in enumerate(paragraph_whole):
        if unsplit:
            candidate[first_list[number] : first_list[number + 1]] = False
    candidates = numpy.flatnonzero(candidate)

    boundary = numpy.zeros(total, dtype=bool)
    boundary[first_token[:-1][size_array > 0]] = True
    if len(candidates):
        last_end = numpy.maximum.accumulate(numpy.where(ender, positions, -1))[candidates]
        maybe_name = _member(orth[last_end], hashes.arrays["in_names"])
        # an opening quote glued to the word before it (a straight one only after a gap)
        behind = candidates - 1
        quote = _member(orth[behind], hashes.arrays["openers"]) & ~space[behind]
        simple = ~maybe_name & ~quote
        boundary[candidates[simple]] = True
        if not simple.all():
            # the rest in order, each knowing the start found before it in its paragraph
            paragraph_of = numpy.searchsorted(first_token, candidates, side="right") - 1
            floor = -1
            paragraph = -1
            for i, bang, is_simple, number, check_name in zip(
                candidates.tolist(), last_end.tolist(), simple.tolist(), paragraph_of.tolist(), maybe_name.tolist()
            ):
                if number != paragraph:
                    paragraph, floor = number, first_list[number]  # never back past the paragraph's start
                if is_simple:
                    floor = i
                    continue
                text = texts[paragraph_article[number]]
                if check_name and _continues_name(text, begin, end, space, first_list[number], bang, i):
                    continue
                k = i  # move back over opening quotes that belong to this sentence
                while k - 1 > floor and int(orth[k - 1]) in hashes.openers and not space[k - 1] and (
                    int(orth[k - 1]) not in hashes.straight or begin[k - 1] > end[k - 2]
                ):
                    k -= 1
                floor = k  # nor past the previous sentence's start
                boundary[k] = True
    # "U.S. The": one scan of each article's text. A match whose word opens the next paragraph
    # (its "U.S." ends the one before) marks that paragraph's first token, a boundary already.
    first_paragraph = 0
    for number, (text, article) in enumerate(zip(texts, spans)):
        paragraph_lo = first_paragraph
        first_paragraph += len(article)
        for at in _abbreviation_breaks(text):
            paragraph = bisect.bisect_right(paragraph_start, at, paragraph_lo, first_paragraph) - 1
            if paragraph < paragraph_lo or paragraph_whole[paragraph] or at >= paragraph_end[paragraph]:
                continue
            lo, hi = first_list[paragraph], first_list[paragraph + 1]
            position = lo + int(numpy.searchsorted(begin[lo:hi], at))
            if position < hi and begin[position] == at:
                boundary[position] = True

    # sentences: the runs between boundaries, without their whitespace tokens
    kept = numpy.flatnonzero(~space)
    sentence_of = numpy.cumsum(boundary)[kept]
    kept_begin, kept_end = begin[kept], end[kept]
    opens = numpy.flatnonzero(numpy.concatenate(([True], sentence_of[1:] != sentence_of[:-1])))
    lengths = numpy.diff(numpy.append(opens, len(kept)))
    sentence_start = kept_begin[opens]
    own_start = numpy.repeat(sentence_start, lengths)
    flat = numpy.empty(2 * len(kept), dtype=numpy.int64)
    flat[0::2] = kept_begin - own_start
    flat[1::2] = kept_end - own_start
    offsets = flat.tolist()
    cuts = (2 * opens).tolist() + [len(offsets)]
    texts_json, json_cuts = _json_lists(flat, 2 * lengths)
    starts, stops = sentence_start.tolist(), kept_end[opens + lengths - 1].tolist()
    sentence_paragraph = (numpy.searchsorted(first_token, kept[opens], side="right") - 1).tolist()
    matches = [matcher(doc) if len(doc) else [] for doc in docs] if matcher is not None else None
    for j, (s, e, number) in enumerate(zip(starts, stops, sentence_paragraph)):
        found = None
        if matches is not None and not matches[number]:
            found = ()  # most paragraphs: no pattern matched
        elif matches is not None:
            shift = paragraph_start[number]
            x0, y0 = s - shift, e - shift  # paragraph offsets, as the matcher gives them
            found = tuple((x - x0, y - x0, label) for x, y, label in matches[number] if x0 <= x and y <= y0)
        results[paragraph_article[number]].append(SegmentedSentence(
            s, e, tuple(offsets[cuts[j] : cuts[j + 1]]), found, texts_json[json_cuts[j] : json_cuts[j + 1]]
        ))
    return results


def _json_lists(values, counts) -> tuple[str, list[int]]:
    """Non-negative integers ``values`` (a numpy array) cut into lists of ``counts`` items (each at least 1), written
    as compact JSON lists (``[0,3,4,9]``, exactly what ``json.dumps(..., separators=(",", ":"))``
    writes) one after the other in one string, and where each list starts in it (plus its end).

    The digits are made with numpy, one pass per decimal place, so no Python ``int`` is formatted
    one by one: each value is a lead character (``[`` first in its list, else ``,``) and its digits,
    and each list ends with ``]``.
    """
    import numpy

    values = numpy.asarray(values, dtype=numpy.int64)
    counts = numpy.asarray(counts, dtype=numpy.int64)
    digits = numpy.ones(len(values), dtype=numpy.int64)
    power = 10
    largest = int(values.max()) if len(values) else 0
    while power <= largest:
        digits += values >= power
        power *= 10
    list_of = numpy.repeat(numpy.arange(len(counts)), counts)
    first = numpy.zeros(len(values), dtype=bool)
    list_first = numpy.concatenate(([0], numpy.cumsum(counts)[:-1]))
    first[list_first[counts > 0]] = True
    # where each value's lead character goes: what comes before it, plus one "]" per list closed
    widths = digits + 1
    lead = numpy.concatenate(([0], numpy.cumsum(widths)[:-1])) + list_of
    closed = numpy.cumsum(counts)  # values up to and including each list's last
    size = int(widths.sum()) + len(counts)
    out = numpy.empty(size, dtype=numpy.uint8)
    out[lead] = numpy.where(first, ord("["), ord(","))
    last_digit = lead + digits
    remaining = values.copy()
    place = 0
    while True:
        has = digits > place
        if not has.any():
            break
        out[(last_digit - place)[has]] = ord("0") + remaining[has] % 10
        remaining //= 10
        place += 1
    list_end = numpy.cumsum(widths)[closed[counts > 0] - 1] + numpy.flatnonzero(counts > 0)
    out[list_end] = ord("]")
    starts = numpy.concatenate(([0], list_end + 1))
    return out.tobytes().decode("ascii"), starts.tolist()


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


def _continues_name(text: str, begin: list[int], end: list[int], space: list[bool], first: int, bang: int, nxt: int) -> bool:
    """Whether the word at ``nxt`` continues the sentence across the ``!``/``?`` at ``bang``
    (token indices; ``begin``/``end`` are the tokens' offsets in ``text``, ``first`` the index of
    the paragraph's first token).

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
    initial = text[begin[nxt]]
    if initial.islower():
        return True
    if not initial.isupper() or bang == first:
        return False
    before = bang - 1
    if space[before] or end[before] != begin[bang] or not text[begin[before]].isupper():
        return False
    return text[begin[nxt] : end[nxt]].lower() not in _SENTENCE_OPENERS
