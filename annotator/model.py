"""Plain data: the things the tool reads, shows, stores and writes.

Pure dataclasses with no I/O, no SQL, no spaCy and no Textual, so every layer can share them.
All character offsets are Unicode code points (Python ``str`` indices), start inclusive, end
exclusive. Offsets of tokens and spans are relative to their sentence's text; a sentence knows its
own offsets in its article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, NamedTuple, Sequence

Answer = Literal["accept", "reject", "ignore"]
ANSWERS: tuple[str, ...] = ("accept", "reject", "ignore")


class Token(NamedTuple):
    """A token of a sentence: ``text[start:end]``; ``ws`` says whether whitespace follows it.

    A named tuple rather than a dataclass: a million-sentence import makes ~25 million of them,
    and a tuple is several times cheaper to create than a frozen dataclass.
    """

    start: int
    end: int
    ws: bool = False


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A labelled entity span, always on token boundaries of its sentence.

    ``token_end`` is inclusive, as in Prodigy: a one-token span has ``token_start == token_end``.
    ``source`` names where a suggestion came from (a model name or ``patterns``); it is ``None`` for
    spans an annotator made or confirmed.
    """

    start: int
    end: int
    label: str
    token_start: int
    token_end: int
    source: str | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[int, int]:
        """The offsets that identify the span within its sentence (relations point at these)."""
        return (self.start, self.end)

    def overlaps(self, other: "Span") -> bool:
        """True when the two spans share at least one character."""
        return self.start < other.end and other.start < self.end

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "token_start": self.token_start,
            "token_end": self.token_end,
            "label": self.label,
        }
        if self.source is not None:
            data["source"] = self.source
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Span":
        return cls(
            start=int(data["start"]),
            end=int(data["end"]),
            label=str(data["label"]),
            token_start=int(data["token_start"]),
            token_end=int(data["token_end"]),
            source=data.get("source"),
        )


@dataclass(frozen=True, slots=True, order=True)
class Relation:
    """A labelled relation from the ``head`` span to the ``child`` span, named by their offsets."""

    head: tuple[int, int]
    child: tuple[int, int]
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"head": list(self.head), "child": list(self.child), "label": self.label}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Relation":
        head = data["head"]
        child = data["child"]
        return cls(head=(int(head[0]), int(head[1])), child=(int(child[0]), int(child[1])), label=str(data["label"]))

    def reversed(self) -> "Relation":
        return Relation(head=self.child, child=self.head, label=self.label)


@dataclass(frozen=True, slots=True)
class Article:
    """One imported document. ``text`` is kept verbatim; sentences point into it."""

    id: int | None
    dataset: str
    title: str
    text: str
    content_hash: str
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A unit of annotation: ``article.text[start:end] == text``.

    ``index`` is the sentence's place in its article (0-based); ``position`` its place in the
    dataset (1-based, what the UI shows as "sentence N of M").
    """

    id: int | None
    article_id: int | None
    index: int
    position: int
    start: int
    end: int
    text: str
    tokens: tuple[Token, ...]

    def token_texts(self) -> list[str]:
        return [self.text[t.start : t.end] for t in self.tokens]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Spans (and relations) proposed for a sentence by a model and/or patterns."""

    sentence_id: int
    source: str
    spans: tuple[Span, ...]
    relations: tuple[Relation, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """One row of an annotator's history for a sentence. Never changed once written.

    ``answer`` is ``None`` for an undo row that returns the sentence to "not decided".
    ``supersedes`` is the id of the decision this one replaces (the annotator's previous current
    decision for the sentence), or ``None``. ``gold`` marks reviewed decisions.
    """

    id: int | None
    uid: str
    sentence_id: int
    annotator: str
    session: str
    answer: str | None
    spans: tuple[Span, ...]
    relations: tuple[Relation, ...]
    created_at: float
    seconds: float = 0.0
    supersedes: int | None = None
    kind: str = "decision"
    gold: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    tokens: tuple[Token, ...] | None = None
    """The decision's own tokens when it splits some of the sentence's (a span inside a token:
    "U.S." of "U.S.-made"), a refinement of them (:func:`refinement_problem`); ``None``: the
    sentence's tokens. Span token indices refer to these tokens."""

    def tokens_of(self, sentence: "Sentence") -> tuple[Token, ...]:
        """The tokens this decision's spans refer to: its own split tokens, else the sentence's."""
        return self.tokens if self.tokens is not None else sentence.tokens


@dataclass(slots=True)
class Example:
    """A text with annotations as read from or written to an exchange format (format-neutral).

    ``tokens`` are given when the format carries them (Prodigy, CoNLL) and ``None`` otherwise.
    ``line`` is where the record started in its file, for error messages. ``versions`` holds the
    other annotators' versions of a reviewed record (Prodigy review output).
    """

    text: str
    tokens: list[Token] | None = None
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    answer: str | None = "accept"
    annotator: str | None = None
    session: str | None = None
    timestamp: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    versions: list["Example"] = field(default_factory=list)
    gold: bool = False


def tokens_from_offsets(text: str, offsets: Iterable[tuple[int, int]]) -> tuple[Token, ...]:
    """Build tokens from ``(start, end)`` pairs, deriving ``ws`` from the text between tokens.

    >>> tokens_from_offsets("a b", [(0, 1), (2, 3)])
    (Token(start=0, end=1, ws=True), Token(start=2, end=3, ws=False))
    """
    pairs = list(offsets)
    if not pairs:
        return ()
    length = len(text)
    starts = [p[0] for p in pairs[1:]]
    starts.append(length)
    return tuple(
        [Token(start, end, next_start > end and text[end].isspace()) for (start, end), next_start in zip(pairs, starts)]
    )


def span_problem(span: Span, text: str, tokens: Sequence[Token]) -> str | None:
    """Why ``span`` is not a valid span of a sentence with this text and tokens, or ``None``.

    >>> toks = tokens_from_offsets("Umerov met Austin", [(0, 6), (7, 10), (11, 17)])
    >>> span_problem(Span(0, 6, "PERSON", 0, 0), "Umerov met Austin", toks) is None
    True
    >>> span_problem(Span(0, 5, "PERSON", 0, 0), "Umerov met Austin", toks)
    "span 0-5 'Umero' does not end on a token boundary"
    """
    label = f"span {span.start}-{span.end}"
    if span.start < 0 or span.end > len(text):
        return f"{label} is outside the text (length {len(text)})"
    if span.end <= span.start:
        return f"{label} ends before it starts"
    if not (0 <= span.token_start <= span.token_end < len(tokens)):
        return f"{label} has token range {span.token_start}-{span.token_end} outside 0-{len(tokens) - 1}"
    if tokens[span.token_start].start != span.start:
        return f"{label} {text[span.start:span.end]!r} does not start on a token boundary"
    if tokens[span.token_end].end != span.end:
        return f"{label} {text[span.start:span.end]!r} does not end on a token boundary"
    return None


def relation_problem(relation: Relation, spans: Iterable[Span]) -> str | None:
    """Why ``relation`` is dangling (a span it names is not among ``spans``), or ``None``."""
    keys = {s.key for s in spans}
    if relation.head not in keys:
        return f"relation {relation.label} names a head span {relation.head} that is not annotated"
    if relation.child not in keys:
        return f"relation {relation.label} names a child span {relation.child} that is not annotated"
    return None


def overlapping_pairs(spans: Sequence[Span]) -> list[tuple[Span, Span]]:
    """Pairs of spans that overlap (sorted by start), for schemes that forbid overlaps."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    pairs = []
    for i, span in enumerate(ordered):
        for other in ordered[i + 1 :]:
            if other.start >= span.end:
                break
            pairs.append((span, other))
    return pairs


def span_at_tokens(text: str, tokens: Sequence[Token], token_start: int, token_end: int, label: str, source: str | None = None) -> Span:
    """The span covering tokens ``token_start..token_end`` (inclusive)."""
    return Span(tokens[token_start].start, tokens[token_end].end, label, token_start, token_end, source)


def split_tokens(text: str, tokens: Sequence[Token], cuts: Iterable[int]) -> tuple[Token, ...]:
    """``tokens`` with each token split at the ``cuts`` (character offsets) that fall inside it.

    Cuts on a token boundary change nothing; a cut in the text between tokens (whitespace) is a
    ``ValueError``. Pieces of one token have no whitespace between them; the last keeps the token's.

    >>> toks = tokens_from_offsets("U.S.-made jets", [(0, 9), (10, 14)])
    >>> split_tokens("U.S.-made jets", toks, [4])
    (Token(start=0, end=4, ws=False), Token(start=4, end=9, ws=True), Token(start=10, end=14, ws=False))
    """
    wanted = sorted(set(cuts))
    result: list[Token] = []
    i = 0
    for token in tokens:
        while i < len(wanted) and wanted[i] <= token.start:
            if wanted[i] != token.start and (not result or wanted[i] != result[-1].end):
                raise ValueError(f"offset {wanted[i]} is not inside a token")
            i += 1
        start = token.start
        while i < len(wanted) and wanted[i] < token.end:
            result.append(Token(start, wanted[i], False))
            start = wanted[i]
            i += 1
        result.append(Token(start, token.end, token.ws))
    for cut in wanted[i:]:
        if not result or cut != result[-1].end:
            raise ValueError(f"offset {cut} is not inside a token")
    return tuple(result)


def token_cuts(sentence_tokens: Sequence[Token], tokens: Sequence[Token]) -> list[int]:
    """The offsets at which ``tokens`` split ``sentence_tokens`` (``split_tokens``'s ``cuts``);
    ``ValueError`` naming the first difference when ``tokens`` is not such a split."""
    problem, cuts = _refinement(sentence_tokens, tokens)
    if problem:
        raise ValueError(problem)
    return cuts


def refinement_problem(text: str, sentence_tokens: Sequence[Token], tokens: Sequence[Token]) -> str | None:
    """Why ``tokens`` are not the sentence's tokens with some of them split at character offsets
    (nothing else changed: same text covered, same token boundaries kept), or ``None``.

    >>> toks = tokens_from_offsets("pro-Russian", [(0, 11)])
    >>> refinement_problem("pro-Russian", toks, tokens_from_offsets("pro-Russian", [(0, 4), (4, 11)])) is None
    True
    >>> refinement_problem("pro-Russian", toks, tokens_from_offsets("pro-Russian", [(0, 4)]))
    "token 0 'pro-Russian' is not covered by the split tokens"
    """
    problem, _ = _refinement(sentence_tokens, tokens, text)
    return problem


def _refinement(sentence_tokens: Sequence[Token], tokens: Sequence[Token], text: str | None = None) -> tuple[str | None, list[int]]:
    cuts: list[int] = []
    j = 0
    n = len(tokens)
    for i, token in enumerate(sentence_tokens):
        name = f"token {i} {text[token.start:token.end]!r}" if text is not None else f"token {i} ({token.start}-{token.end})"
        position = token.start
        while position < token.end:
            if j >= n or tokens[j].start != position or tokens[j].end <= position or tokens[j].end > token.end:
                return f"{name} is not covered by the split tokens", []
            position = tokens[j].end
            if position < token.end:
                cuts.append(position)
            j += 1
    if j != n:
        return f"split token {j} ({tokens[j].start}-{tokens[j].end}) is outside the sentence's tokens", []
    return None, cuts


def reindex_spans(spans: Iterable[Span], tokens: Sequence[Token]) -> list[Span] | None:
    """``spans`` with token indices recomputed for ``tokens`` from their offsets; ``None`` when a
    span is not on the boundaries of ``tokens``."""
    starts = {t.start: i for i, t in enumerate(tokens)}
    ends = {t.end: i for i, t in enumerate(tokens)}
    result = []
    for span in spans:
        if span.start not in starts or span.end not in ends:
            return None
        result.append(Span(span.start, span.end, span.label, starts[span.start], ends[span.end], span.source))
    return result


def split_for_spans(text: str, tokens: Sequence[Token], spans: Iterable[Span]) -> tuple[tuple[Token, ...] | None, list[Span]]:
    """The fewest splits of ``tokens`` that put every span boundary on a token boundary, and the
    spans indexed on them: ``(None, spans)`` when no span falls inside a token. ``ValueError`` when
    a boundary lies between tokens (whitespace) rather than inside one."""
    spans = list(spans)
    cuts = {offset for span in spans for offset in (span.start, span.end)}
    split = split_tokens(text, tokens, cuts)
    indexed = reindex_spans(spans, split)
    assert indexed is not None  # every boundary is now a token boundary
    return (None if len(split) == len(tokens) else split), indexed


# ----------------------------------------------------------- plain tuples for whole-dataset reads

SpanTuple = tuple[int, int, str, int, int, "str | None"]
"""A span as a plain tuple in :class:`Span`'s field order ``(start, end, label, token_start,
token_end, source)``, what reads of a whole dataset (agreement, the review queue) decode spans into:
a tuple costs a fraction of a frozen dataclass to create. ``Span(*t)`` is the span. Spans with
distinct ``(start, end, label)`` sort as their tuples do."""

RelationTuple = tuple[tuple[int, int], tuple[int, int], str]
"""A relation as a plain tuple in :class:`Relation`'s field order ``(head, child, label)``;
``Relation(*t)`` is the relation, and the two compare, hash and sort alike."""


def span_tuple(span: Span) -> SpanTuple:
    return (span.start, span.end, span.label, span.token_start, span.token_end, span.source)


def relation_tuple(relation: Relation) -> RelationTuple:
    return (relation.head, relation.child, relation.label)


class VersionRow(NamedTuple):
    """One annotator's current decision of a sentence, reduced to what agreement and the review
    queue compare: the store builds these without building :class:`Decision`s (see
    ``Store.current_versions``); :func:`version_rows` builds them from decisions."""

    annotator: str
    decision_id: int | None
    answer: str | None
    spans: tuple[SpanTuple, ...]
    relations: tuple[RelationTuple, ...]
    split: bool
    """True when the decision has its own split tokens: the spans' token indices refer to those,
    not to the sentence's tokens."""


def version_rows(versions: Mapping[str, Decision]) -> tuple[VersionRow, ...]:
    """``versions`` (annotator name -> decision) as :class:`VersionRow`s, in the mapping's order.

    Decisions that share one tuple of spans (or of relations) share one converted tuple, as rows
    decoded from the same stored JSON do.
    """
    span_tuples: dict[int, tuple[SpanTuple, ...]] = {}
    relation_tuples: dict[int, tuple[RelationTuple, ...]] = {}
    rows = []
    for name, decision in versions.items():
        spans = span_tuples.get(id(decision.spans))
        if spans is None:
            spans = span_tuples[id(decision.spans)] = tuple([span_tuple(s) for s in decision.spans])
        relations = relation_tuples.get(id(decision.relations))
        if relations is None:
            relations = relation_tuples[id(decision.relations)] = tuple([relation_tuple(r) for r in decision.relations])
        rows.append(VersionRow(name, decision.id, decision.answer, spans, relations, decision.tokens is not None))
    return tuple(rows)
