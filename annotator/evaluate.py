"""How good a suggester is against the humans (``annotator evaluate``, and ``annotator train``'s report).

A suggester's spans are scored against the human decisions of the same sentences: per label
precision, recall and F1 over exact ``(start, end, label)`` matches, summed over labels (micro)
and averaged over the labels present (macro) — the same :class:`~annotator.agreement.Scores`
and :class:`~annotator.agreement.LabelScores` as ``annotator agreement``, with the humans as the
reference. Only sentences the humans **accepted** count (a rejected or ignored sentence has no
spans to compare), and only sentences that have a suggestion row of the source (``suggest`` runs on
undecided sentences by default: the others are counted as ``without_suggestions``).

The errors are summed up as confusions, each counted over all sentences:

* ``"Kyiv" PERSON -> GPE``: a suggestion with the offsets of a decided span but another label;
* ``"officials" ROLE -> removed``: a suggestion that matches no decided span at all;
* ``"Ukraine" missed -> GPE``: a decided span no suggestion overlaps;
* ``"the Kremlin" ORG -> ORG "Kremlin"``: a suggestion that overlaps a decided span it does not
  match (a boundary error; the decided text is given too).

Pure apart from :func:`evaluate_source`, which reads through ``Store``'s public methods; no spaCy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .agreement import LabelScores, Scores
from .errors import DatasetError
from .model import Span

MISSED = "missed"
"""The suggested side of a confusion when nothing was suggested there."""
REMOVED = "removed"
"""The decided side of a confusion when the humans kept nothing there."""


@dataclass(frozen=True)
class Confusion:
    """One kind of error and how often it happened."""

    text: str
    """The suggested span's text (the decided span's for a missed one)."""
    suggested: str
    """The suggested label, or ``missed``."""
    decided: str
    """The decided label, or ``removed``."""
    decided_text: str | None
    """The decided span's text when it differs from ``text`` (boundary errors)."""
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "suggested": self.suggested, "decided": self.decided,
                "decided_text": self.decided_text, "count": self.count}


@dataclass
class SpanTally:
    """Running counts while sentences are scored (:meth:`add`), then :meth:`scores` and :meth:`confusions`."""

    rows: dict[str, list[int]] = field(default_factory=dict)
    """label -> [tp, fp, fn]"""
    errors: Counter = field(default_factory=Counter)
    """(text, suggested, decided, decided_text) -> count"""
    sentences: int = 0

    def add(self, text: str, decided: Iterable[Span], suggested: Iterable[Span]) -> None:
        """Score one sentence's suggested spans against its decided spans."""
        self.sentences += 1
        reference = {(s.start, s.end, s.label) for s in decided}
        compared = {(s.start, s.end, s.label) for s in suggested}
        for _start, _end, label in reference & compared:
            self._bump(label, 0)
        extra = sorted(compared - reference)
        lacking = sorted(reference - compared)
        for _start, _end, label in extra:
            self._bump(label, 1)
        for _start, _end, label in lacking:
            self._bump(label, 2)
        # confusions: same offsets first, then the largest overlap, then what is left on each side
        unmatched = list(lacking)
        for start, end, label in extra:
            same = next((r for r in unmatched if r[0] == start and r[1] == end), None)
            if same is None:
                overlapping = [r for r in unmatched if r[0] < end and start < r[1]]
                same = max(overlapping, key=lambda r: (min(end, r[1]) - max(start, r[0]), -r[0]), default=None)
            piece = text[start:end]
            if same is None:
                self.errors[(piece, label, REMOVED, None)] += 1
                continue
            unmatched.remove(same)
            decided_piece = text[same[0]:same[1]]
            self.errors[(piece, label, same[2], None if decided_piece == piece else decided_piece)] += 1
        for start, end, label in unmatched:
            self.errors[(text[start:end], MISSED, label, None)] += 1

    def _bump(self, label: str, column: int) -> None:
        row = self.rows.setdefault(label, [0, 0, 0])
        row[column] += 1

    def scores(self, labels: Sequence[str] = ()) -> LabelScores:
        """Per-label scores (every label seen, plus ``labels`` with zero counts), micro and macro."""
        names = sorted(set(self.rows) | set(labels))
        return LabelScores.of({name: Scores(*self.rows.get(name, (0, 0, 0))) for name in names})

    def confusions(self, limit: int | None = 20) -> list[Confusion]:
        """The most frequent errors first (ties: by text)."""
        ranked = sorted(self.errors.items(), key=lambda item: (-item[1], item[0][0], item[0][1], item[0][2]))
        if limit is not None:
            ranked = ranked[:limit]
        return [Confusion(text, suggested, decided, decided_text, n) for (text, suggested, decided, decided_text), n in ranked]


@dataclass
class Evaluation:
    """A suggestion source scored against human decisions."""

    source: str
    against: str
    sentences: int
    """Accepted sentences that were scored."""
    without_suggestions: int
    """Accepted sentences the source has no row for (not scored)."""
    scores: LabelScores
    confusions: list[Confusion]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "against": self.against,
            "sentences": self.sentences,
            "without_suggestions": self.without_suggestions,
            **self.scores.to_dict(),
            "confusions": [c.to_dict() for c in self.confusions],
        }


def evaluate_source(store, dataset: str, source: str, against: str | None = None, *, confusions: int = 20) -> Evaluation:
    """Score the stored suggestions of ``source`` against the accepted decisions of ``against``
    (``gold``, an annotator; default as for an export: gold when there is any, else the single
    annotator)."""
    from .export import choose_source

    if against == "all":
        raise DatasetError("--against takes gold or one annotator, not 'all' (decisions of several annotators disagree)")
    chosen, annotators, gold = choose_source(store, dataset, against)
    tally = SpanTally()
    missing = 0
    for sentence, decision in store.current_decisions(dataset, annotators or None, gold=gold):
        if decision.answer != "accept":
            continue
        row = store.suggestion(sentence.id, source)
        if row is None:
            missing += 1
            continue
        tally.add(sentence.text, decision.spans, row.spans)
    if tally.sentences == 0:
        raise DatasetError(
            f"source {source!r} has no suggestions on the {missing} sentences {chosen} accepted in dataset {dataset!r}"
            + (f": run `annotator suggest {dataset} --model MODEL --all` to suggest on decided sentences too" if missing else "")
        )
    return Evaluation(source, chosen, tally.sentences, missing, tally.scores(), tally.confusions(confusions))
