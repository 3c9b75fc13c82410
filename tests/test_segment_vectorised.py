"""The array-based segmentation gives exactly the sentences, tokens and pattern matches of the
per-token rule it replaced.

``reference_segment`` below is that rule as it was (one Python step per token over
``Doc.to_array`` columns, paragraph by paragraph), kept here as the oracle: the seed, the news
samples, the benchmark-like corpus texts and generated texts full of the cases the rule treats
specially (``!``/``?`` in names, opening quotes, ``U.S.`` + function word, whitespace tokens,
headlines) must segment identically.
"""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings, strategies as st

from annotator.segment import (
    _ABBREVIATION_BREAK,
    _FUNCTION_WORDS,
    _SENTENCE_OPENERS,
    Segmenter,
    SegmentedSentence,
    _Hashes,
    _unsplit_paragraphs,
    paragraphs,
)

from annotator.store.codec import encode_tokens

from .conftest import SEED, shared_data

SEGMENTER = Segmenter()


def _reference_continues_name(text, idx, lengths, space, bang, nxt):
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


def _reference_split_paragraph(doc, offset, matcher, text, hashes, whole):
    from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, LENGTH, ORTH

    n = len(doc)
    if n == 0:
        return []
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
            if orth[last_end] in in_names and _reference_continues_name(text, idx, lengths, space, last_end, i):
                seen_end = False
                continue
            k = i
            while k - 1 > (starts[-1] if starts else 0) and orth[k - 1] in openers and not space[k - 1] and (
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
    matches = matcher(doc) if matcher is not None else []
    sentences = []
    for a, b in zip([0, *bounds], [*bounds, n]):
        words = [i for i in range(a, b) if not space[i]]
        if not words:
            continue
        start = idx[words[0]]
        end = idx[words[-1]] + lengths[words[-1]]
        flat = tuple(v - start for i in words for v in (idx[i], idx[i] + lengths[i]))
        found = None
        if matcher is not None:
            found = tuple((x - start, y - start, label) for x, y, label in matches if start <= x and y <= end)
        sentences.append(SegmentedSentence(offset + start, offset + end, flat, found))
    return sentences


def reference_segment(segmenter: Segmenter, text: str) -> list[SegmentedSentence]:
    nlp = segmenter.nlp
    hashes = _Hashes.of(nlp.vocab)
    spans = list(paragraphs(text))
    whole = _unsplit_paragraphs(text, spans)
    out: list[SegmentedSentence] = []
    for number, (a, b) in enumerate(spans):
        piece = text[a:b]
        out.extend(_reference_split_paragraph(nlp(piece), a, segmenter._matcher, piece, hashes, number in whole))
    return out


def assert_same(texts: list[str], segmenter: Segmenter = SEGMENTER) -> int:
    """Every text segments as the reference does (one call for all: articles are batched); the
    number of sentences compared."""
    compared = 0
    for text, got in zip(texts, segmenter.segment_many(texts), strict=True):
        want = reference_segment(segmenter, text)
        assert got == want, text[:200]
        # the JSON written in bulk is what the store's codec writes for the offsets
        assert [s.offsets_json for s in got] == [encode_tokens(list(s.offsets)) for s in want]
        compared += len(want)
    return compared


def test_seed_and_news_samples_segment_as_the_per_token_rule():
    texts = [SEED.read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted(shared_data("news").glob("*.txt"))]
    assert assert_same(texts) == 22 + 750


def test_with_pattern_matches_as_the_per_token_rule():
    patterns = [
        {"label": "ORG", "pattern": "Yahoo! News"},
        {"label": "GPE", "pattern": [{"LOWER": "u.s."}]},
        {"label": "PERSON", "pattern": [{"IS_TITLE": True}, {"TEXT": {"REGEX": "^[A-Z][a-z]+$"}}]},
    ]
    segmenter = Segmenter(patterns=patterns)
    texts = [SEED.read_text(encoding="utf-8"),
             "Yahoo! News reported it.\n\nThe U.S. The army came. Ahmed Khan said \"Yes!\" Then Lee Smith left."]
    assert assert_same(texts, segmenter) > 5
    assert any(s.pattern_matches for sents in segmenter.segment_many(texts) for s in sents)


TRICKY = [
    "Fans flock to New Yahoo! Comedy Channel\n\nThe New Yahoo! Comedy Channel opened. Fans came.",
    "Wow! The crowd cheered. Who? Me? It was great! Ahmed said so.",
    "Jeopardy! host left. Yahoo! reported it! \"Quoted.\" 'Single.' (Bracketed.) «Guillemets.»",
    "He went to the U.S. The trip was long. The U.K. It rained. U.S. officials said.",
    "Line one.\nLine two!  \t Next  sentence?\r\n\r\nNew paragraph . . . ends here ...",
    "International\n\nHeadline with Yahoo! News? Here\n\nBody. \"Opening quote starts here.\"",
    "A.\n\n\n  \n\nB! c? D. “E” ‘f’ — g!!! H?! i",
    "Short\n\nTitle line\n\nBody text. More \" text. 'x' . y",
    "   \n\n  only body text here. And more!   ",
    "Yahoo!\n\n!?.\n\n\"\n\n. A",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts(text):
    assert_same([text])


def test_tricky_texts_batched_together():
    assert_same(TRICKY + TRICKY[::-1])


_PIECES = st.sampled_from([
    "The", "he", "Yahoo", "Yahoo!", "News", "!", "?", ".", "U.S.", "U.K.", "Me", "host", "Ahmed",
    '"', "'", "“", "”", "(", ")", "«", "»", "‘", "’", "said", "Wow", "...", "—", ",", ";", "it",
    " ", "  ", "\n", "\n\n", "\r\n", "\t", " \n \n", "Inc.", "Dr.", "a", "B", "x!", "Who?",
])


@settings(max_examples=300)
@given(st.lists(st.lists(_PIECES, min_size=1, max_size=30).map(lambda parts: " ".join(parts)), min_size=1, max_size=4))
def test_generated_texts(texts):
    texts = [t for t in texts if t.strip()]
    if texts:
        assert_same(texts)


def test_generated_glued_texts():
    """Pieces joined without spaces too (``Yahoo!News``, ``."The``)."""
    import random

    rng = random.Random(7)
    words = ["The", "Yahoo", "!", "?", ".", '"', "'", "“", "(", ")", "U.S.", "He", "news", " ", "\n\n", "Me", "x"]
    texts = ["".join(rng.choice(words) + rng.choice(["", " ", ""]) for _ in range(rng.randrange(1, 60)))
             for _ in range(400)]
    assert_same([t for t in texts if t.strip()])


@settings(max_examples=500)
@given(st.text(alphabet="US.AThe hisx_1é\n\t", max_size=40))
def test_abbreviation_breaks_are_the_regex_matches(text):
    from annotator.segment import _abbreviation_breaks

    want = [m.start(1) for m in _ABBREVIATION_BREAK.finditer(text) if m.group(1).lower() in _FUNCTION_WORDS]
    assert list(_abbreviation_breaks(text)) == want


@pytest.mark.parametrize("text", ["U.S. The", "xU.S. The", "_U.S. The", "éU.S. The", "1U.S. The", "xU.S.A. The",
                                  "U.S.  \n He", "U.S. Thesis", "U.S. The1", "A.B.C.D. However, U.K. Then"])
def test_abbreviation_breaks_examples(text):
    from annotator.segment import _abbreviation_breaks

    want = [m.start(1) for m in _ABBREVIATION_BREAK.finditer(text) if m.group(1).lower() in _FUNCTION_WORDS]
    assert list(_abbreviation_breaks(text)) == want
