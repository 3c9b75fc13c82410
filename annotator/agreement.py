"""Inter-annotator agreement over the annotators' current decisions.

Pure: standard library only (no numpy, spaCy, Textual or SQL), so ``annotator agreement`` starts fast
and the figures can be checked against reference libraries in the tests. The input is any iterable of
:class:`SentenceVersions` (a generator straight from the store is fine): it is read once, and the
work per sentence depends only on that sentence, so the cost is linear in the data.

Which sentences count
    A sentence is *compared* when at least two of the chosen annotators decided it (their current
    decision has an answer; an undo row with ``answer=None`` means "not decided"). Answers are
    compared over the sentences both annotators of a pair decided. Spans, tokens and relations only
    mean something in an accepted decision, so those metrics use, for a pair, the sentences **both**
    annotators accepted; Fleiss' kappa uses the sentences **all** chosen annotators accepted; and
    Krippendorff's alpha uses every token of a sentence that at least two chosen annotators accepted
    (annotators who did not accept it are missing values).

Pairs
    Pairs follow the order of ``annotators`` (given, or sorted by name): for the pair ``(a, b)`` the
    annotator ``a`` is the reference and ``b`` is scored against it, so precision is "how much of
    b's is also a's" and recall "how much of a's b found". Swapping them swaps precision and recall.

Spans
    EXACT: same start, end and label. OVERLAP: same label and at least one shared character; each
    span matches at most one span of the other annotator, chosen greedily by the largest overlap
    (ties: earlier reference span, then earlier compared span). Spans are compared as sets of
    ``(start, end, label)``. ``labels`` restricts every metric to spans with those labels (the
    others are dropped before anything else, so their tokens become ``"O"``); it does not filter
    relations. Per-label rows exist for every label (given, or seen in a compared accepted decision).

Tokens
    A token's label is the label of the span covering it (by the span's token range) or ``"O"``.
    When spans overlap, the longest span (in characters) wins, then the one that starts first, then
    the smaller label.

Relations
    Compared as sets of ``(head offsets, child offsets, label)`` and, unlabelled, of ``(head,
    child)``. A relation whose label is in ``symmetric_labels`` is compared as an unordered pair.

Edge cases (documented conventions)
    * ``precision = tp / (tp + fp)`` is ``None`` when b has nothing; ``recall = tp / (tp + fn)`` is
      ``None`` when a has nothing; ``F1 = 2tp / (2tp + fp + fn)`` is ``None`` only when neither has
      anything (so F1 is 0.0 when exactly one side is empty). ``None`` always means "nothing to
      compare", never a score.
    * Macro averages are means over the labels *present* for the pair (``tp + fp + fn > 0``); for a
      present label an undefined precision or recall counts as 0.0. ``None`` when no label is present.
    * Averages over pairs are means of the pairs' figures that are not ``None``.
    * Chance-corrected coefficients (Cohen's kappa, Fleiss' kappa, Krippendorff's alpha) are ``None``
      with no units; when the expected agreement is 1 (everyone used one and the same category) the
      coefficient is 1.0 if the observed agreement is 1 and 0.0 otherwise.
"""

from __future__ import annotations

import bisect
import gc
from contextlib import contextmanager
from dataclasses import FrozenInstanceError, dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from annotator.model import ANSWERS, Decision, Sentence, Span, SpanTuple, Token, VersionRow, version_rows

OUTSIDE = "O"
"""The token label of a token that no span covers."""

_SpanKey = tuple[int, int, str]
_RelationKey = tuple[tuple[int, int], tuple[int, int], str]
_PairKey = tuple[tuple[int, int], tuple[int, int]]


_NO_VERSIONS: dict = {}


class SentenceVersions:
    """One sentence with each annotator's current decision for it.

    ``tokens`` and span offsets are relative to the sentence. ``n_tokens`` is what token-level
    metrics use (span token ranges must lie within it; the metrics do not need ``tokens``, which
    are carried for review screens); ``versions`` maps an annotator name to that annotator's
    current :class:`~annotator.model.Decision`.

    Immutable, like a frozen dataclass. Built from decisions (``SentenceVersions(sentence_id,
    n_tokens, tokens, versions)``, :meth:`from_sentence`) or, when a whole dataset is read, from
    the store's rows (:meth:`stored`): then ``tokens`` and ``versions`` are decoded on first use
    only, and the metrics and the review queue read :attr:`rows`, the versions as plain tuples.
    """

    __slots__ = ("sentence_id", "n_tokens", "_tokens", "_versions", "_rows", "_load_tokens", "_load_versions")

    sentence_id: int
    n_tokens: int

    def __init__(self, sentence_id: int, n_tokens: int, tokens: tuple[Token, ...], versions: dict[str, Decision]):
        init = object.__setattr__
        init(self, "sentence_id", sentence_id)
        init(self, "n_tokens", n_tokens)
        init(self, "_tokens", tokens)
        init(self, "_versions", versions)
        init(self, "_rows", None)
        init(self, "_load_tokens", None)
        init(self, "_load_versions", None)

    @classmethod
    def from_sentence(cls, sentence: Sentence, versions: Mapping[str, Decision]) -> "SentenceVersions":
        """Build from a stored sentence and its current decisions."""
        if sentence.id is None:
            raise ValueError("the sentence has no id (it was never stored)")
        return cls(sentence.id, len(sentence.tokens), sentence.tokens, dict(versions))

    @classmethod
    def stored(
        cls,
        sentence_id: int,
        n_tokens: int,
        tokens: Callable[[], tuple[Token, ...]],
        versions: Callable[[], dict[str, Decision]],
        rows: tuple[VersionRow, ...],
    ) -> "SentenceVersions":
        """Build from a record of ``Store.current_versions``: ``tokens()`` and ``versions()`` are
        called on first use of the attributes; ``rows`` must be ``version_rows(versions())``."""
        item = object.__new__(cls)
        init = object.__setattr__
        init(item, "sentence_id", sentence_id)
        init(item, "n_tokens", n_tokens)
        init(item, "_tokens", ())
        init(item, "_versions", _NO_VERSIONS)  # replaced by ``versions()`` before it is read
        init(item, "_rows", rows)
        init(item, "_load_tokens", tokens)
        init(item, "_load_versions", versions)
        return item

    @property
    def tokens(self) -> tuple[Token, ...]:
        if self._load_tokens is not None:
            object.__setattr__(self, "_tokens", self._load_tokens())
            object.__setattr__(self, "_load_tokens", None)
        return self._tokens

    @property
    def versions(self) -> dict[str, Decision]:
        if self._load_versions is not None:
            object.__setattr__(self, "_versions", self._load_versions())
            object.__setattr__(self, "_load_versions", None)
        return self._versions

    @property
    def rows(self) -> tuple[VersionRow, ...]:
        """The versions as :class:`~annotator.model.VersionRow`s (plain tuples), in ``versions``' order."""
        if self._rows is not None:
            return self._rows
        return version_rows(self._versions)  # not kept: ``versions`` is a dict the caller may change

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _fields(self) -> tuple:
        return (self.sentence_id, self.n_tokens, self.tokens, self.versions)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # ``versions`` is a dict

    def __repr__(self) -> str:
        return (
            f"SentenceVersions(sentence_id={self.sentence_id!r}, n_tokens={self.n_tokens!r}, "
            f"tokens={self.tokens!r}, versions={self.versions!r})"
        )

    def __reduce__(self) -> tuple:
        return (SentenceVersions, self._fields())


# --------------------------------------------------------------------------------------- results


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts of matches between a reference (a) and a compared annotator (b), with P/R/F1."""

    tp: int = 0
    """Items both have (matched)."""
    fp: int = 0
    """Items only b has."""
    fn: int = 0
    """Items only a has."""

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def present(self) -> bool:
        """True when either side has at least one item."""
        return self.tp + self.fp + self.fn > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True, slots=True)
class MacroScores:
    """Unweighted means over the labels present for a pair (see the module's conventions)."""

    precision: float | None
    recall: float | None
    f1: float | None
    n_labels: int
    """How many labels were present (and averaged)."""

    @classmethod
    def of(cls, per_label: Iterable[Scores]) -> "MacroScores":
        present = [s for s in per_label if s.present]
        if not present:
            return cls(None, None, None, 0)
        n = len(present)
        return cls(
            precision=sum(s.precision or 0.0 for s in present) / n,
            recall=sum(s.recall or 0.0 for s in present) / n,
            f1=sum(s.f1 or 0.0 for s in present) / n,
            n_labels=n,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "n_labels": self.n_labels}


@dataclass(frozen=True, slots=True)
class LabelScores:
    """Scores per label, summed over labels (micro) and averaged over labels (macro)."""

    micro: Scores
    macro: MacroScores
    per_label: dict[str, Scores]

    @classmethod
    def of(cls, per_label: dict[str, Scores]) -> "LabelScores":
        micro = Scores(
            tp=sum(s.tp for s in per_label.values()),
            fp=sum(s.fp for s in per_label.values()),
            fn=sum(s.fn for s in per_label.values()),
        )
        return cls(micro=micro, macro=MacroScores.of(per_label.values()), per_label=per_label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
            "per_label": {label: scores.to_dict() for label, scores in self.per_label.items()},
        }


@dataclass(frozen=True, slots=True)
class SpanPair:
    """Span agreement of ``b`` against ``a`` over the sentences both accepted."""

    a: str
    b: str
    n_sentences: int
    exact: LabelScores
    overlap: LabelScores

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "n_sentences": self.n_sentences,
            "exact": self.exact.to_dict(),
            "overlap": self.overlap.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class RelationPair:
    """Relation agreement of ``b`` against ``a`` over the sentences both accepted."""

    a: str
    b: str
    n_sentences: int
    labelled: LabelScores
    unlabelled: Scores

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "n_sentences": self.n_sentences,
            "labelled": self.labelled.to_dict(),
            "unlabelled": self.unlabelled.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class KappaPair:
    """Cohen's kappa of two annotators over ``n_units`` units (tokens, or sentences for answers)."""

    a: str
    b: str
    n_sentences: int
    n_units: int
    observed: float | None
    """Observed agreement: the share of units both gave the same category."""
    expected: float | None
    """Agreement expected by chance from each annotator's own category distribution."""
    kappa: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "n_sentences": self.n_sentences,
            "n_units": self.n_units,
            "observed": self.observed,
            "expected": self.expected,
            "kappa": self.kappa,
        }


@dataclass(frozen=True, slots=True)
class MultiRaterScore:
    """A chance-corrected coefficient over several annotators (Fleiss' kappa, Krippendorff's alpha)."""

    n_sentences: int
    n_units: int
    """Token units that entered the coefficient."""
    n_values: int
    """Token labels that entered it (pairable values)."""
    observed: float | None
    expected: float | None
    value: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_sentences": self.n_sentences,
            "n_units": self.n_units,
            "n_values": self.n_values,
            "observed": self.observed,
            "expected": self.expected,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class AnnotatorCounts:
    """What one annotator did. ``decided`` counts every sentence; the rest only compared ones."""

    decided: int = 0
    compared: int = 0
    accept: int = 0
    reject: int = 0
    ignore: int = 0
    spans: int = 0
    """Distinct spans (with a counted label) in the compared sentences the annotator accepted."""
    relations: int = 0
    """Distinct relations in the compared sentences the annotator accepted."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "compared": self.compared,
            "accept": self.accept,
            "reject": self.reject,
            "ignore": self.ignore,
            "spans": self.spans,
            "relations": self.relations,
        }


def _prf_average(scores: Iterable[Scores | MacroScores]) -> dict[str, float | None]:
    items = list(scores)
    return {
        "precision": _mean(s.precision for s in items),
        "recall": _mean(s.recall for s in items),
        "f1": _mean(s.f1 for s in items),
    }


@dataclass(frozen=True, slots=True)
class SpanAgreement:
    pairs: tuple[SpanPair, ...]

    @property
    def average(self) -> dict[str, Any]:
        """Means over pairs: ``{exact|overlap: {micro|macro: {precision, recall, f1}}}``."""
        return {
            kind: {
                "micro": _prf_average(getattr(p, kind).micro for p in self.pairs),
                "macro": _prf_average(getattr(p, kind).macro for p in self.pairs),
            }
            for kind in ("exact", "overlap")
        }

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": [p.to_dict() for p in self.pairs], "average": self.average}


@dataclass(frozen=True, slots=True)
class TokenAgreement:
    pairs: tuple[KappaPair, ...]
    """Cohen's kappa per pair, over the tokens of sentences both accepted."""
    fleiss: MultiRaterScore
    """Fleiss' kappa over the tokens of sentences all chosen annotators accepted."""
    alpha: MultiRaterScore
    """Krippendorff's alpha (nominal) over tokens of sentences at least two annotators accepted."""

    @property
    def average(self) -> dict[str, Any]:
        return {"kappa": _mean(p.kappa for p in self.pairs)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": [p.to_dict() for p in self.pairs],
            "average": self.average,
            "fleiss_kappa": self.fleiss.to_dict(),
            "krippendorff_alpha": self.alpha.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class RelationAgreement:
    pairs: tuple[RelationPair, ...]

    @property
    def average(self) -> dict[str, Any]:
        """Means over pairs: ``{labelled: {micro, macro}, unlabelled: {precision, recall, f1}}``."""
        return {
            "labelled": {
                "micro": _prf_average(p.labelled.micro for p in self.pairs),
                "macro": _prf_average(p.labelled.macro for p in self.pairs),
            },
            "unlabelled": _prf_average(p.unlabelled for p in self.pairs),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": [p.to_dict() for p in self.pairs], "average": self.average}


@dataclass(frozen=True, slots=True)
class AnswerAgreement:
    pairs: tuple[KappaPair, ...]
    """Observed agreement and Cohen's kappa on accept/reject/ignore over sentences both decided."""

    @property
    def average(self) -> dict[str, Any]:
        return {"observed": _mean(p.observed for p in self.pairs), "kappa": _mean(p.kappa for p in self.pairs)}

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": [p.to_dict() for p in self.pairs], "average": self.average}


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Everything :func:`compute_agreement` measured; ``to_dict()`` is JSON-serialisable."""

    n_sentences: int
    """Sentences at least two chosen annotators decided (compared)."""
    n_sentences_seen: int
    """Sentences read, compared or not."""
    annotators: tuple[str, ...]
    labels: tuple[str, ...]
    """Span labels reported per label."""
    relation_labels: tuple[str, ...]
    counts: dict[str, AnnotatorCounts]
    spans: SpanAgreement
    tokens: TokenAgreement
    relations: RelationAgreement
    answers: AnswerAgreement

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_sentences": self.n_sentences,
            "n_sentences_seen": self.n_sentences_seen,
            "annotators": list(self.annotators),
            "labels": list(self.labels),
            "relation_labels": list(self.relation_labels),
            "counts": {name: counts.to_dict() for name, counts in self.counts.items()},
            "spans": self.spans.to_dict(),
            "tokens": self.tokens.to_dict(),
            "relations": self.relations.to_dict(),
            "answers": self.answers.to_dict(),
        }


# ------------------------------------------------------------------------------------- computing


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused inside (restored as it was): a pass over a dataset makes
    millions of small objects and no cycles, and the collector's repeated scans of the heap the
    loaded versions fill cost up to half the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def chance_corrected(observed: Fraction, expected: Fraction) -> float:
    """``(observed - expected) / (1 - expected)``; with ``expected == 1``: 1.0 if observed is 1, else 0.0.

    >>> chance_corrected(Fraction(3, 4), Fraction(1, 2))
    0.5
    >>> chance_corrected(Fraction(1), Fraction(1))
    1.0
    """
    if expected == 1:
        return 1.0 if observed == 1 else 0.0
    return float((observed - expected) / (1 - expected))


def cohen_kappa(confusion: Mapping[tuple[str, str], int]) -> tuple[int, float | None, float | None, float | None]:
    """``(n, observed, expected, kappa)`` from counts of ``(category of a, category of b)``.

    >>> cohen_kappa({("x", "x"): 2, ("y", "y"): 1, ("x", "y"): 1})
    (4, 0.75, 0.5, 0.5)
    """
    n = sum(confusion.values())
    if n == 0:
        return 0, None, None, None
    rows: dict[str, int] = {}
    cols: dict[str, int] = {}
    diagonal = 0
    for (x, y), count in confusion.items():
        rows[x] = rows.get(x, 0) + count
        cols[y] = cols.get(y, 0) + count
        if x == y:
            diagonal += count
    chance = sum(count * cols.get(category, 0) for category, count in rows.items())
    observed = Fraction(diagonal, n)
    expected = Fraction(chance, n * n)
    return n, float(observed), float(expected), chance_corrected(observed, expected)


def _on_sentence_tokens(span: SpanTuple, tokens: Sequence[Token]) -> SpanTuple:
    """``span`` indexed on the sentence's ``tokens``: from the token holding its first character
    to the token holding its last (a span inside a token, as a split decision makes, labels it)."""
    start, end, label = span[0], span[1], span[2]
    starts = [t.start for t in tokens]
    first = max(bisect.bisect_right(starts, start) - 1, 0)
    last = max(bisect.bisect_right(starts, end - 1) - 1, first)
    return (start, end, label, first, last, None)


def token_labels(spans: Iterable[Span], n_tokens: int) -> dict[int, str]:
    """Labels of the tokens some span covers (token index -> label); other tokens are ``"O"``.

    Overlaps: the longest span in characters wins, then the earlier start, then the smaller label.
    Raises ``ValueError`` when a span's token range is outside ``0..n_tokens-1``.
    """
    return _token_labels([(s.start, s.end, s.label, s.token_start, s.token_end) for s in spans], n_tokens)


def _token_labels(spans: Sequence[tuple], n_tokens: int) -> dict[int, str]:
    """:func:`token_labels` of spans as plain tuples ``(start, end, label, token_start, token_end, ...)``."""
    if len(spans) > 1:
        labels = _disjoint_token_labels(spans, n_tokens)
        if labels is not None:
            return labels
        spans = sorted(spans, key=_longest_first)
    labels = {}
    for span in spans:
        first, last = span[3], span[4]
        if not 0 <= first <= last < n_tokens:
            raise ValueError(
                f"span {span[0]}-{span[1]} {span[2]} has token range {first}-{last} outside 0-{n_tokens - 1}"
            )
        label = span[2]
        if first == last:
            labels.setdefault(first, label)
        else:
            for index in range(first, last + 1):
                labels.setdefault(index, label)
    return labels


def _disjoint_token_labels(spans: Sequence[tuple], n_tokens: int) -> dict[int, str] | None:
    """The token labels of spans whose token ranges do not overlap (no rule to apply, so no sort);
    ``None`` when two ranges share a token or a range is outside the sentence (then the caller
    applies the overlap rule, or raises its error)."""
    labels: dict[int, str] = {}
    covered = 0
    for span in spans:
        first, last = span[3], span[4]
        if not 0 <= first <= last < n_tokens:
            return None
        if first == last:
            labels[first] = span[2]
            covered += 1
        else:
            label = span[2]
            for index in range(first, last + 1):
                labels[index] = label
            covered += last - first + 1
    return labels if len(labels) == covered else None


def _longest_first(span: tuple) -> tuple:
    return (span[0] - span[1], span[0], span[2])


def overlap_matches(reference: Iterable[_SpanKey], compared: Iterable[_SpanKey]) -> list[tuple[_SpanKey, _SpanKey]]:
    """Pairs of same-label overlapping spans, each span used once, greedy by largest overlap.

    Ties go to the earlier reference span, then the earlier compared span.

    >>> overlap_matches([(0, 10, "ORG"), (12, 15, "ORG")], [(0, 4, "ORG"), (3, 14, "ORG")])
    [((0, 10, 'ORG'), (3, 14, 'ORG'))]
    """
    compared_by_label: dict[str, list[tuple[int, int]]] = {}
    for start, end, label in compared:
        compared_by_label.setdefault(label, []).append((start, end))
    candidates = []
    for ref_start, ref_end, label in reference:
        for start, end in compared_by_label.get(label, ()):
            overlap = min(ref_end, end) - max(ref_start, start)
            if overlap > 0:
                candidates.append((-overlap, ref_start, ref_end, start, end, label))
    candidates.sort()
    used_reference: set[_SpanKey] = set()
    used_compared: set[_SpanKey] = set()
    matches = []
    for _, ref_start, ref_end, start, end, label in candidates:
        ref_key = (ref_start, ref_end, label)
        key = (start, end, label)
        if ref_key in used_reference or key in used_compared:
            continue
        used_reference.add(ref_key)
        used_compared.add(key)
        matches.append((ref_key, key))
    return matches


class _Version:
    """One accepted decision reduced to what the metrics compare."""

    __slots__ = ("spans", "span_labels", "tokens", "token_counts", "relations", "relation_pairs")

    def __init__(
        self, spans: frozenset, span_labels: dict[str, int], tokens: dict[int, str], relations: frozenset, relation_pairs: frozenset
    ):
        self.spans: frozenset[_SpanKey] = spans
        self.span_labels = span_labels
        """How many spans have each label."""
        self.tokens = tokens
        counts: dict[str, int] = {}
        for label in tokens.values():
            counts[label] = counts.get(label, 0) + 1
        self.token_counts = counts
        """How many tokens have each label (``tokens``' values counted)."""
        self.relations: frozenset[_RelationKey] = relations
        self.relation_pairs: frozenset[_PairKey] = relation_pairs


_EMPTY: frozenset = frozenset()


def _bump(rows: dict[str, list[int]], label: str, column: int, by: int = 1) -> None:
    row = rows.get(label)
    if row is None:
        row = rows[label] = [0, 0, 0]
    row[column] += by


def _add_set_counts(rows: dict[str, list[int]], reference: frozenset, compared: frozenset) -> None:
    """Add exact-match tp/fp/fn per label (the label is each item's last element)."""
    if reference == compared:
        for item in reference:
            _bump(rows, item[-1], 0)
        return
    for item in reference & compared:
        _bump(rows, item[-1], 0)
    for item in compared - reference:
        _bump(rows, item[-1], 1)
    for item in reference - compared:
        _bump(rows, item[-1], 2)


class _PairTotals:
    """Running counts for one pair of annotators."""

    __slots__ = (
        "decided",
        "answers",
        "accepted",
        "exact",
        "overlap",
        "token_confusion",
        "relations",
        "relation_pairs",
    )

    def __init__(self) -> None:
        self.decided = 0
        self.answers: dict[tuple[str, str], int] = {}
        self.accepted = 0
        self.exact: dict[str, list[int]] = {}
        self.overlap: dict[str, list[int]] = {}
        self.token_confusion: dict[tuple[str, str], int] = {}
        self.relations: dict[str, list[int]] = {}
        self.relation_pairs = [0, 0, 0]

    def add_accepted(self, a: _Version, b: _Version, n_tokens: int) -> int:
        """Count one sentence both accepted; returns how many of its tokens the two label alike."""
        self.accepted += 1
        # spans: counted per label from the label counts and the spans only one of the two has.
        # The spans of a label both gave alike all match themselves in the greedy overlap matching
        # (a span's largest overlap is with itself), so the matching runs only on the labels whose
        # spans differ.
        exact, overlap = self.exact, self.overlap
        spans_a, spans_b = a.spans, b.spans
        if spans_a == spans_b:
            for label, count in a.span_labels.items():
                row = exact.get(label)
                if row is None:
                    row = exact[label] = [0, 0, 0]
                row[0] += count
                row = overlap.get(label)
                if row is None:
                    row = overlap[label] = [0, 0, 0]
                row[0] += count
        else:
            only_a = spans_a - spans_b
            only_b = spans_b - spans_a
            differ = {key[2] for key in only_a}
            differ.update([key[2] for key in only_b])
            for label, count in a.span_labels.items():
                row = exact.get(label)
                if row is None:
                    row = exact[label] = [0, 0, 0]
                row[0] += count
                row = overlap.get(label)
                if row is None:
                    row = overlap[label] = [0, 0, 0]
                row[2 if label in differ else 0] += count
            for key in only_a:
                row = exact[key[2]]
                row[0] -= 1
                row[2] += 1
            for key in only_b:
                row = exact.get(key[2])
                if row is None:
                    row = exact[key[2]] = [0, 0, 0]
                row[1] += 1
            for label, count in b.span_labels.items():
                if label in differ:
                    row = overlap.get(label)
                    if row is None:
                        row = overlap[label] = [0, 0, 0]
                    row[1] += count
            # labels are matched independently; one span a side (the usual case) matches if they overlap
            of_a: dict[str, list[_SpanKey]] = {}
            for key in spans_a:
                if key[2] in differ:
                    of_a.setdefault(key[2], []).append(key)
            of_b: dict[str, list[_SpanKey]] = {}
            for key in spans_b:
                if key[2] in differ:
                    of_b.setdefault(key[2], []).append(key)
            for label, keys_a in of_a.items():
                keys_b = of_b.get(label)
                if keys_b is None:
                    continue
                if len(keys_a) == 1 and len(keys_b) == 1:
                    (start_a, end_a, _), (start_b, end_b, _) = keys_a[0], keys_b[0]
                    matched = 1 if min(end_a, end_b) > max(start_a, start_b) else 0
                else:
                    matched = len(overlap_matches(keys_a, keys_b))
                if matched:
                    row = overlap[label]
                    row[0] += matched
                    row[1] -= matched
                    row[2] -= matched
        # tokens: the diagonal from the label counts, a loop only over the tokens the two label differently
        confusion = self.token_confusion
        labels_a, labels_b = a.tokens, b.tokens
        if a is b or labels_a == labels_b:
            for label, count in a.token_counts.items():
                key = (label, label)
                confusion[key] = confusion.get(key, 0) + count
            covered = len(labels_a)
            differing = 0
        else:
            only_a = labels_a.items() - labels_b.items()  # (index, label) pairs: set operations in C
            only_b = labels_b.items() - labels_a.items()
            same = dict(a.token_counts)  # a's labels of the tokens both label alike
            for _, label in only_a:
                same[label] -= 1
            for label, count in same.items():
                if count:
                    key = (label, label)
                    confusion[key] = confusion.get(key, 0) + count
            indices = {index for index, _ in only_a}
            indices.update([index for index, _ in only_b])
            for index in indices:
                key = (labels_a.get(index, OUTSIDE), labels_b.get(index, OUTSIDE))
                confusion[key] = confusion.get(key, 0) + 1
            differing = len(indices)
            covered = len(labels_a) + len(labels_b.keys() - labels_a.keys())
        if n_tokens > covered:
            key = (OUTSIDE, OUTSIDE)
            confusion[key] = confusion.get(key, 0) + n_tokens - covered
        # relations
        if a.relations or b.relations:
            _add_set_counts(self.relations, a.relations, b.relations)
            pairs_a, pairs_b = a.relation_pairs, b.relation_pairs
            common = len(pairs_a & pairs_b)
            totals = self.relation_pairs
            totals[0] += common
            totals[1] += len(pairs_b) - common
            totals[2] += len(pairs_a) - common
        return n_tokens - differing


class _Unanimous:
    """Running counts of the sentences where one set of annotators all gave the same version: what
    each pair (and the group) of them gets from those sentences, added once at the end instead of
    once per sentence and pair (the same sums as ``_PairTotals.add_accepted`` and
    ``_MultiRaterTotals.add`` of identical versions)."""

    __slots__ = ("answers", "accepted", "units", "outside", "span_labels", "token_counts", "relation_labels", "relation_pairs")

    def __init__(self) -> None:
        self.answers: dict[str, int] = {}
        """Sentences per answer."""
        self.accepted = 0
        self.units = 0
        """Tokens of the accepted sentences."""
        self.outside = 0
        """Of which no span covers."""
        self.span_labels: dict[str, int] = {}
        self.token_counts: dict[str, int] = {}
        self.relation_labels: dict[str, int] = {}
        self.relation_pairs = 0

    def add(self, answer: str, version: _Version | None, n_tokens: int) -> None:
        self.answers[answer] = self.answers.get(answer, 0) + 1
        if version is None:
            return
        self.accepted += 1
        self.units += n_tokens
        self.outside += n_tokens - len(version.tokens)
        span_labels, token_counts = self.span_labels, self.token_counts
        for label, count in version.span_labels.items():
            span_labels[label] = span_labels.get(label, 0) + count
        for label, count in version.token_counts.items():
            token_counts[label] = token_counts.get(label, 0) + count
        if version.relations:
            relation_labels = self.relation_labels
            for _, _, label in version.relations:
                relation_labels[label] = relation_labels.get(label, 0) + 1
            self.relation_pairs += len(version.relation_pairs)

    def add_to_pair(self, pair: _PairTotals) -> None:
        for answer, count in self.answers.items():
            pair.decided += count
            key = (answer, answer)
            pair.answers[key] = pair.answers.get(key, 0) + count
        if not self.accepted:
            return
        pair.accepted += self.accepted
        for label, count in self.span_labels.items():
            _bump(pair.exact, label, 0, count)
            _bump(pair.overlap, label, 0, count)
        confusion = pair.token_confusion
        for label, count in self.token_counts.items():
            key = (label, label)
            confusion[key] = confusion.get(key, 0) + count
        if self.outside:
            key = (OUTSIDE, OUTSIDE)
            confusion[key] = confusion.get(key, 0) + self.outside
        for label, count in self.relation_labels.items():
            _bump(pair.relations, label, 0, count)
        pair.relation_pairs[0] += self.relation_pairs

    def add_to_group(self, group: "_MultiRaterTotals", raters: int) -> None:
        categories = group.categories
        for label, count in self.token_counts.items():
            categories[label] = categories.get(label, 0) + raters * count
        if self.outside:
            categories[OUTSIDE] = categories.get(OUTSIDE, 0) + raters * self.outside
        group.sum_of_squares += raters * raters * self.units
        group.units += self.units
        group.sentences += self.accepted


class _MultiRaterTotals:
    """Running token counts for the sentences one particular set of annotators accepted."""

    __slots__ = ("sentences", "units", "sum_of_squares", "categories")

    def __init__(self) -> None:
        self.sentences = 0
        self.units = 0
        self.sum_of_squares = 0
        """Sum over units of the squared count of each category in the unit."""
        self.categories: dict[str, int] = {}

    def add(self, versions: list[_Version], n_tokens: int, alike: int) -> None:
        """Count one sentence these versions' annotators accepted.

        ``alike``: summed over each two of the versions, the tokens both label alike (what
        ``_PairTotals.add_accepted`` returns). A unit's sum of squared category counts is the number
        of ordered pairs of raters that agree on it: ``raters`` + 2 × its agreeing unordered pairs.
        """
        raters = len(versions)
        categories = self.categories
        outside = 0
        for version in versions:
            for label, count in version.token_counts.items():
                categories[label] = categories.get(label, 0) + count
            outside += n_tokens - len(version.tokens)
        if outside:
            categories[OUTSIDE] = categories.get(OUTSIDE, 0) + outside
        self.sum_of_squares += raters * n_tokens + 2 * alike
        self.units += n_tokens
        self.sentences += 1


def _fleiss(totals: _MultiRaterTotals | None, raters: int) -> MultiRaterScore:
    """Fleiss' kappa: P-bar = mean share of agreeing rater pairs per unit; P_e = sum of squared category shares."""
    if totals is None or totals.units == 0 or raters < 2:
        return MultiRaterScore(totals.sentences if totals else 0, 0, 0, None, None, None)
    units = totals.units
    values = units * raters
    observed = Fraction(totals.sum_of_squares - values, values * (raters - 1))
    expected = Fraction(sum(c * c for c in totals.categories.values()), values * values)
    return MultiRaterScore(
        n_sentences=totals.sentences,
        n_units=units,
        n_values=values,
        observed=float(observed),
        expected=float(expected),
        value=chance_corrected(observed, expected),
    )


def _krippendorff(groups: Mapping[tuple[str, ...], _MultiRaterTotals]) -> MultiRaterScore:
    """Nominal alpha with the coincidence matrix: only its diagonal and margins are needed.

    For a unit with ``m`` values and ``n_uc`` of category ``c``, the coincidence diagonal gets
    ``n_uc (n_uc - 1) / (m - 1)``; ``A_o = sum of the diagonal / n`` and
    ``A_e = sum_c n_c (n_c - 1) / (n (n - 1))`` with ``n_c`` the margins and ``n`` all pairable values.
    """
    diagonal = Fraction(0)
    margins: dict[str, int] = {}
    sentences = units = 0
    for names, totals in groups.items():
        raters = len(names)
        diagonal += Fraction(totals.sum_of_squares - raters * totals.units, raters - 1)
        for label, count in totals.categories.items():
            margins[label] = margins.get(label, 0) + count
        sentences += totals.sentences
        units += totals.units
    n = sum(margins.values())
    if n == 0:
        return MultiRaterScore(sentences, units, 0, None, None, None)
    observed = diagonal / n
    expected = Fraction(sum(c * (c - 1) for c in margins.values()), n * (n - 1))
    return MultiRaterScore(
        n_sentences=sentences,
        n_units=units,
        n_values=n,
        observed=float(observed),
        expected=float(expected),
        value=chance_corrected(observed, expected),
    )


def _add_counts(counts: dict, more: Mapping) -> None:
    for key, count in more.items():
        counts[key] = counts.get(key, 0) + count


class _Agreement:
    """The single pass behind :func:`compute_agreement`."""

    def __init__(
        self,
        annotators: Sequence[str] | None,
        labels: Sequence[str] | None,
        symmetric_labels: Iterable[str] | None,
    ):
        self.chosen: tuple[str, ...] | None = tuple(dict.fromkeys(annotators)) if annotators is not None else None
        self.rank = {name: i for i, name in enumerate(self.chosen)} if self.chosen is not None else None
        self.labels: tuple[str, ...] | None = tuple(dict.fromkeys(labels)) if labels is not None else None
        self.label_set = frozenset(self.labels) if self.labels is not None else None
        self.symmetric = frozenset(symmetric_labels or ())
        self.n_seen = 0
        self.n_compared = 0
        # per annotator: decided, compared, accept, reject, ignore, spans, relations
        self.counts: dict[str, list[int]] = {name: [0] * 7 for name in self.chosen or ()}
        self.pairs: dict[tuple[str, str], _PairTotals] = {}
        self.groups: dict[tuple[str, ...], _MultiRaterTotals] = {}
        self.labels_seen: set[str] = set()
        self.relation_labels_seen: set[str] = set()
        self.unanimous: dict[tuple[str, ...], _Unanimous] = {}
        """Sentences where the decided annotators all gave one version, by those annotators."""

    def version(self, row: VersionRow, item: SentenceVersions) -> _Version:
        label_set = self.label_set
        spans_by_key: dict[_SpanKey, SpanTuple] = {}
        span_labels: dict[str, int] = {}
        for span in row.spans:
            label = span[2]
            if label_set is not None and label not in label_set:
                continue
            key = span[:3]
            if key not in spans_by_key:
                spans_by_key[key] = span
                span_labels[label] = span_labels.get(label, 0) + 1
        spans: Sequence[SpanTuple] = list(spans_by_key.values())
        if row.split:  # its spans index its split tokens: the units stay the sentence's tokens
            sentence_tokens = item.tokens
            spans = [_on_sentence_tokens(span, sentence_tokens) for span in spans]
        try:
            tokens = _token_labels(spans, item.n_tokens)
        except ValueError as error:
            raise ValueError(f"sentence {item.sentence_id}, annotator {row.annotator!r}: {error}") from None
        if row.relations:
            symmetric = self.symmetric
            relations = set()
            relation_pairs = set()
            for head, child, label in row.relations:
                if label in symmetric and child < head:
                    head, child = child, head
                relations.add((head, child, label))
                relation_pairs.add((head, child))
            version = _Version(frozenset(spans_by_key), span_labels, tokens, frozenset(relations), frozenset(relation_pairs))
            self.relation_labels_seen.update([r[2] for r in row.relations])
        else:
            version = _Version(frozenset(spans_by_key), span_labels, tokens, _EMPTY, _EMPTY)
        self.labels_seen.update(span_labels)
        return version

    def add(self, item: SentenceVersions) -> None:
        self.n_seen += 1
        chosen_rank = self.rank
        counts = self.counts
        versions: dict[str, VersionRow] = {}
        decided = []
        for version_row in item.rows:
            name, answer = version_row[0], version_row[2]
            if answer is None or (chosen_rank is not None and name not in chosen_rank):
                continue
            if answer not in ANSWERS:
                raise ValueError(f"sentence {item.sentence_id}, annotator {name!r}: unknown answer {answer!r}")
            versions[name] = version_row
            decided.append(name)
            row = counts.get(name)
            if row is None:
                row = counts[name] = [0] * 7
            row[0] += 1
        if len(decided) < 2:
            return
        self.n_compared += 1
        if chosen_rank is None:
            decided.sort()
        else:
            decided.sort(key=chosen_rank.__getitem__)
        accepted: dict[str, _Version] = {}
        same: dict[tuple[int, int], _Version] = {}  # annotators who agree often share the decoded spans
        for name in decided:
            decision = versions[name]
            row = counts[name]
            row[1] += 1
            answer = decision.answer
            if answer == "accept":
                row[2] += 1
                if not decision.split:
                    key = (id(decision.spans), id(decision.relations))
                    version = same.get(key)
                    if version is None:
                        version = same[key] = self.version(decision, item)
                    accepted[name] = version
                else:
                    version = accepted[name] = self.version(decision, item)
                row[5] += len(version.spans)
                row[6] += len(version.relations)
            elif answer == "reject":
                row[3] += 1
            else:
                row[4] += 1
        n_tokens = item.n_tokens
        answer = versions[decided[0]].answer
        version = accepted.get(decided[0])
        if all(versions[name].answer == answer and accepted.get(name) is version for name in decided[1:]):
            names = tuple(decided)  # everyone gave the same version (agreeing annotators share it)
            unanimous = self.unanimous.get(names)
            if unanimous is None:
                unanimous = self.unanimous[names] = _Unanimous()
            unanimous.add(answer, version, n_tokens)
            return
        pairs = self.pairs
        alike = 0  # tokens labelled alike, summed over the pairs that both accepted
        for i, a in enumerate(decided):
            answer_a = versions[a].answer
            version_a = accepted.get(a)
            for b in decided[i + 1 :]:
                pair = pairs.get((a, b))
                if pair is None:
                    pair = pairs[(a, b)] = _PairTotals()
                pair.decided += 1
                key = (answer_a, versions[b].answer)
                pair.answers[key] = pair.answers.get(key, 0) + 1
                if version_a is not None:
                    version_b = accepted.get(b)
                    if version_b is not None:
                        alike += pair.add_accepted(version_a, version_b, n_tokens)
        if len(accepted) >= 2:
            group_key = tuple(accepted)
            group = self.groups.get(group_key)
            if group is None:
                group = self.groups[group_key] = _MultiRaterTotals()
            group.add(list(accepted.values()), n_tokens, alike)

    def _add_unanimous(self) -> None:
        """Add the sentences where everyone gave one version to each pair (and group) of them."""
        for names, unanimous in self.unanimous.items():
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    pair = self.pairs.get((a, b))
                    if pair is None:
                        pair = self.pairs[(a, b)] = _PairTotals()
                    unanimous.add_to_pair(pair)
            if unanimous.accepted:
                group = self.groups.get(names)
                if group is None:
                    group = self.groups[names] = _MultiRaterTotals()
                unanimous.add_to_group(group, len(names))
        self.unanimous = {}

    def merge(self, other: "_Agreement") -> None:
        """Add ``other``'s counts (a pass over other sentences) to these: every figure is a sum of
        per-sentence counts, so the passes over disjoint ranges of sentences merged give exactly
        the counts of one pass over all of them."""
        self._add_unanimous()
        other._add_unanimous()
        self.n_seen += other.n_seen
        self.n_compared += other.n_compared
        for name, row in other.counts.items():
            mine = self.counts.get(name)
            if mine is None:
                self.counts[name] = list(row)
            else:
                for column, value in enumerate(row):
                    mine[column] += value
        self.labels_seen |= other.labels_seen
        self.relation_labels_seen |= other.relation_labels_seen
        for key, theirs in other.pairs.items():
            pair = self.pairs.get(key)
            if pair is None:
                pair = self.pairs[key] = _PairTotals()
            pair.decided += theirs.decided
            pair.accepted += theirs.accepted
            _add_counts(pair.answers, theirs.answers)
            _add_counts(pair.token_confusion, theirs.token_confusion)
            for mine_rows, their_rows in (
                (pair.exact, theirs.exact),
                (pair.overlap, theirs.overlap),
                (pair.relations, theirs.relations),
            ):
                for label, row in their_rows.items():
                    for column, value in enumerate(row):
                        _bump(mine_rows, label, column, value)
            for column, value in enumerate(theirs.relation_pairs):
                pair.relation_pairs[column] += value
        for key, theirs_group in other.groups.items():
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _MultiRaterTotals()
            group.sentences += theirs_group.sentences
            group.units += theirs_group.units
            group.sum_of_squares += theirs_group.sum_of_squares
            _add_counts(group.categories, theirs_group.categories)

    def report(self) -> AgreementReport:
        self._add_unanimous()
        annotators = self.chosen if self.chosen is not None else tuple(sorted(self.counts))
        labels = self.labels if self.labels is not None else tuple(sorted(self.labels_seen))
        relation_labels = tuple(sorted(self.relation_labels_seen))

        def per_label(rows: dict[str, list[int]], names: tuple[str, ...]) -> LabelScores:
            return LabelScores.of({name: Scores(*rows.get(name, (0, 0, 0))) for name in names})

        span_pairs, relation_pairs, token_pairs, answer_pairs = [], [], [], []
        for i, a in enumerate(annotators):
            for b in annotators[i + 1 :]:
                totals = self.pairs.get((a, b)) or _PairTotals()
                span_pairs.append(
                    SpanPair(a, b, totals.accepted, per_label(totals.exact, labels), per_label(totals.overlap, labels))
                )
                relation_pairs.append(
                    RelationPair(
                        a, b, totals.accepted, per_label(totals.relations, relation_labels), Scores(*totals.relation_pairs)
                    )
                )
                token_pairs.append(KappaPair(a, b, totals.accepted, *cohen_kappa(totals.token_confusion)))
                answer_pairs.append(KappaPair(a, b, totals.decided, *cohen_kappa(totals.answers)))
        counts = {name: AnnotatorCounts(*self.counts.get(name, [0] * 7)) for name in annotators}
        return AgreementReport(
            n_sentences=self.n_compared,
            n_sentences_seen=self.n_seen,
            annotators=annotators,
            labels=labels,
            relation_labels=relation_labels,
            counts=counts,
            spans=SpanAgreement(tuple(span_pairs)),
            tokens=TokenAgreement(
                pairs=tuple(token_pairs),
                fleiss=_fleiss(self.groups.get(annotators), len(annotators)),
                alpha=_krippendorff(self.groups),
            ),
            relations=RelationAgreement(tuple(relation_pairs)),
            answers=AnswerAgreement(tuple(answer_pairs)),
        )


def compute_agreement(
    items: Iterable[SentenceVersions],
    annotators: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    symmetric_labels: Iterable[str] | None = None,
) -> AgreementReport:
    """Agreement between ``annotators`` (default: everyone who decided something, sorted by name).

    ``items`` is read once. ``labels`` restricts span and token metrics to those span labels;
    relations whose label is in ``symmetric_labels`` are compared as unordered pairs. See the module
    docstring for which sentences each metric uses and for the edge-case conventions.
    """
    return agreement_counts(items, annotators, labels, symmetric_labels).report()


def agreement_counts(
    items: Iterable[SentenceVersions],
    annotators: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    symmetric_labels: Iterable[str] | None = None,
) -> _Agreement:
    """The counts :func:`compute_agreement` reports, before the report: picklable, and
    :func:`merged_report` of the counts of disjoint parts of the sentences is the report of all."""
    agreement = _Agreement(annotators, labels, symmetric_labels)
    with paused_gc():
        for item in items:
            agreement.add(item)
    return agreement


def merged_report(parts: Sequence[_Agreement]) -> AgreementReport:
    """The report of the counts ``parts`` (of :func:`agreement_counts` with the same arguments,
    over disjoint sentences) summed: exactly the report of one pass over all their sentences."""
    total, *rest = parts
    for part in rest:
        total.merge(part)
    return total.report()
