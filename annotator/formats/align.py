"""Tokens and spaCy Docs for Examples: everything that has to agree on token boundaries.

* :func:`tokenize` — spaCy's English tokenizer, plus a split at every span boundary, because
  doccano and brat spans often start or end inside what spaCy calls one token (``"AL-AIN"`` vs an
  entity ``"AIN"``).
* :func:`assign_token_indices` — ``token_start``/``token_end`` for spans given by offsets only.
* :func:`doc_from_example` — a ``Doc`` whose ``doc.text`` is the Example's text exactly.

spaCy is imported inside the functions that need it: ``import spacy`` costs ~0.6 s and the formats
package is part of the headless core that commands like ``export --format jsonl`` load.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from annotator.errors import InputError
from annotator.model import Example, Span, Token, tokens_from_offsets

if TYPE_CHECKING:  # pragma: no cover - typing only, spaCy is not imported at runtime here
    from spacy.tokens import Doc
    from spacy.vocab import Vocab


@functools.lru_cache(maxsize=1)
def blank_english() -> Any:
    """The cached ``spacy.blank("en")`` pipeline (only its tokenizer and vocab are used)."""
    import spacy  # deferred: ~0.6 s, only needed when text must be tokenised

    return spacy.blank("en")


def shared_vocab() -> "Vocab":
    """The vocab of :func:`blank_english`, for building Docs outside a pipeline."""
    return blank_english().vocab


def _offsets(items: Iterable[Any]) -> list[tuple[int, int]]:
    pairs = []
    for item in items:
        if isinstance(item, tuple):
            pairs.append((int(item[0]), int(item[1])))
        else:
            pairs.append((int(item.start), int(item.end)))
    return pairs


def tokenize(text: str, spans: Iterable[Span | tuple[int, int]] = ()) -> list[Token]:
    """Tokens of ``text`` from spaCy's English tokenizer, split so every span is on token boundaries.

    Whitespace that spaCy keeps as tokens (``"\\n"``, a second space) stays a token, as in Prodigy.
    A span boundary inside a token splits that token; a span that starts or ends in whitespace
    between tokens turns that piece of whitespace into a token of its own.

    >>> [t for t in tokenize("AL-AIN won", [(3, 6)])]  # doctest: +NORMALIZE_WHITESPACE
    [Token(start=0, end=2, ws=False), Token(start=2, end=3, ws=False),
     Token(start=3, end=6, ws=True), Token(start=7, end=10, ws=False)]
    """
    doc = blank_english().make_doc(text)
    token_offsets = [(token.idx, token.idx + len(token.text)) for token in doc]
    return split_at_boundaries(text, token_offsets, _offsets(spans))


def split_at_boundaries(text: str, token_offsets: Sequence[tuple[int, int]], span_offsets: Sequence[tuple[int, int]]) -> list[Token]:
    """Cut ``token_offsets`` at every span boundary (see :func:`tokenize`)."""
    length = len(text)
    span_starts = {start for start, _ in span_offsets if 0 <= start <= length}
    span_ends = {end for _, end in span_offsets if 0 <= end <= length}
    cuts = {0, length} | span_starts | span_ends
    for start, end in token_offsets:
        cuts.add(start)
        cuts.add(end)
    ordered = sorted(cuts)
    token_iter = iter(token_offsets)
    current = next(token_iter, None)
    pieces: list[tuple[int, int]] = []
    for left, right in zip(ordered, ordered[1:]):
        while current is not None and current[1] <= left:
            current = next(token_iter, None)
        inside_token = current is not None and current[0] <= left and right <= current[1]
        if inside_token or left in span_starts or right in span_ends:
            pieces.append((left, right))
    return list(tokens_from_offsets(text, pieces))


def token_index_maps(tokens: Sequence[Token]) -> tuple[dict[int, int], dict[int, int]]:
    """``({token.start: i}, {token.end: i})`` for looking spans up by their offsets."""
    return {t.start: i for i, t in enumerate(tokens)}, {t.end: i for i, t in enumerate(tokens)}


def boundary_problem(span: Span, text: str, starts: dict[int, int], ends: dict[int, int]) -> str | None:
    """Why the span's offsets are not on token boundaries, or ``None``."""
    where = f"span {span.start}-{span.end} {text[span.start:span.end]!r}"
    if span.start not in starts:
        return f"{where} does not start on a token boundary"
    if span.end not in ends:
        return f"{where} does not end on a token boundary"
    return None


def assign_token_indices(example: Example, path: str | Path | None = None) -> Example:
    """Set ``token_start``/``token_end`` of every span from its offsets (tokenising when needed).

    When ``example.tokens`` is ``None`` the text is tokenised with :func:`tokenize`, which puts
    every span on token boundaries. With given tokens a span that is not on their boundaries is an
    ``InputError`` naming ``path`` and ``example.line``. The Example is updated and returned.
    """
    if example.tokens is None:
        example.tokens = tokenize(example.text, example.spans)
    starts, ends = token_index_maps(example.tokens)
    spans = []
    for span in example.spans:
        problem = boundary_problem(span, example.text, starts, ends)
        if problem is not None:
            raise InputError(problem, path, example.line)
        spans.append(replace(span, token_start=starts[span.start], token_end=ends[span.end]))
    example.spans = spans
    return example


def doc_from_example(nlp_vocab: "Vocab", example: Example) -> tuple["Doc", list[str]]:
    """A spaCy ``Doc`` of the Example's tokens with ``doc.text == example.text`` exactly.

    Tokens become ``words``; a single space after a token becomes its ``spaces`` flag; any other
    text between tokens (a second space, ``"\\r\\n"``, a tab, leading whitespace) becomes a token of
    its own, so nothing is lost. Doc token indices therefore differ from Example token indices when
    such tokens are inserted: look spans up by character offsets (``doc.char_span``). Text between
    tokens that is not whitespace is kept the same way and reported as a problem.
    """
    from spacy.tokens import Doc  # deferred: spaCy is only needed when a Doc is built

    text = example.text
    tokens = example.tokens if example.tokens is not None else tokenize(text, example.spans)
    words: list[str] = []
    spaces: list[bool] = []
    problems: list[str] = []

    def add_gap(start: int, end: int) -> None:
        gap = text[start:end]
        if not gap:
            return
        if gap[0] == " " and words and not spaces[-1]:
            spaces[-1] = True
            gap = gap[1:]
            start += 1
        if gap:
            if not gap.isspace():
                problems.append(f"text {gap!r} at {start}-{end} is not covered by any token; kept as a token")
            words.append(gap)
            spaces.append(False)

    position = 0
    for token in tokens:
        if token.start < position or token.end <= token.start:
            raise ValueError(f"tokens overlap or are empty at {token.start}-{token.end}")
        add_gap(position, token.start)
        words.append(text[token.start : token.end])
        spaces.append(False)
        position = token.end
    add_gap(position, len(text))
    doc = Doc(nlp_vocab, words=words, spaces=spaces)
    if doc.text != text:  # pragma: no cover - a bug, not bad input
        raise AssertionError("doc_from_example lost text")
    return doc, problems


SNAP_MODES = ("expand", "contract", "split")
"""``--snap``: snap a span that cuts a word to whole tokens (``expand``/``contract``), or keep it
(``split``: the token is split for its decision); every mode trims whitespace at a span's edges."""


def word_cut(text: str, offset: int, token_bounds: set[int]) -> bool:
    """Whether a span boundary at ``offset`` falls inside a word: letters or digits on both sides
    and no boundary of spaCy's tokens there (``"Merke|l"`` is a cut, ``"AL-|AIN"`` and ``"10|km"``
    are not)."""
    return (
        0 < offset < len(text)
        and offset not in token_bounds
        and text[offset - 1].isalnum()
        and text[offset].isalnum()
    )


def snap_span(text: str, span: Span, tokens: Sequence[Token], mode: str | None) -> tuple[Span | None, str | None]:
    """``(span, None)`` when no boundary of ``span`` cuts a word; otherwise, with ``mode``
    ``"expand"``/``"contract"``, the span snapped to the enclosing/enclosed boundaries of spaCy's
    ``tokens`` of ``text`` (``None`` when contracting leaves nothing), like spaCy's
    ``Doc.char_span(alignment_mode=...)``; with ``"split"`` the span as it is (its word is split);
    without a mode, ``(None, problem)``."""
    trimmed, problem = trim_whitespace(text, span, mode)
    if problem is not None or trimmed is None:
        return trimmed, problem
    span = trimmed  # whitespace at an edge goes first, as no token of spaCy's holds it
    bounds = {t.start for t in tokens} | {t.end for t in tokens}
    cut_start = word_cut(text, span.start, bounds)
    cut_end = word_cut(text, span.end, bounds)
    if not (cut_start or cut_end) or mode == "split":
        return span, None
    if mode is None:
        where = span.start if cut_start else span.end
        left = where
        while left > 0 and text[left - 1].isalnum():
            left -= 1
        right = where
        while right < len(text) and text[right].isalnum():
            right += 1
        side = "starts" if cut_start else "ends"
        return None, (
            f"span {span.start}-{span.end} {text[span.start:span.end]!r} {span.label} {side} inside the word "
            f"{text[left:right]!r}; fix the offsets or import with --snap expand|contract (whole tokens) or --snap split "
            "(keep it, splitting the word)"
        )
    if mode not in SNAP_MODES:
        raise ValueError(f"unknown snap mode {mode!r}")
    start, end = span.start, span.end
    if mode == "expand":
        if cut_start:
            start = max(t.start for t in tokens if t.start <= span.start)
        if cut_end:
            end = min(t.end for t in tokens if t.end >= span.end)
    else:
        if cut_start:
            start = min((t.start for t in tokens if t.start >= span.start), default=span.end)
        if cut_end:
            end = max((t.end for t in tokens if t.end <= span.end), default=span.start)
        if end <= start:
            return None, None
    return replace(span, start=start, end=end, token_start=-1, token_end=-1), None


def trim_whitespace(text: str, span: Span, mode: str | None) -> tuple[Span | None, str | None]:
    """``(span, None)`` when ``span`` neither starts nor ends with whitespace; otherwise, with a
    ``mode``, the span without its edge whitespace (``None`` when it is only whitespace), as spaCy's
    ``Doc.char_span(alignment_mode="expand"|"contract")`` gives it (whitespace is never part of a
    token, so both modes trim); without a mode, ``(None, problem)``. Tokens are never split on
    whitespace to fit a span."""
    covered = text[span.start : span.end]
    if covered == covered.strip():
        return span, None
    if mode is None:
        where = "is only" if not covered.strip() else ("starts with" if covered[:1].isspace() else "ends with")
        return None, (
            f"span {span.start}-{span.end} {covered!r} {span.label} {where} whitespace; "
            "fix the offsets or import with --snap expand|contract|split (trimmed)"
        )
    if mode not in SNAP_MODES:
        raise ValueError(f"unknown snap mode {mode!r}")
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end <= start:
        return None, None
    return replace(span, start=start, end=end, token_start=-1, token_end=-1), None
