"""Annotation memory: suggestions learnt from the annotators' own decisions, updated per decision.

A pure, headless count table (no SQL, no spaCy, no Textual). What it counts, per *tier* (``gold``:
reviewed decisions; ``own``: the annotators' decisions that feed the memory):

``labelled[form][label]``
    accepted decisions in which the token-aligned surface ``form`` (the tuple of the span's token
    texts, case kept) was a span with ``label``;
``removed[form][label]``
    accepted decisions in which some other source (model, patterns, rules, a trained model)
    suggested ``form`` with ``label`` at those tokens, and the decision has no such span;
``related[(head form, child form)][label]``
    accepted decisions with that relation between spans of those forms.

What it suggests for a sentence (:meth:`AnnotationMemory.match`): at every occurrence of a known
form, its majority label (ties: the scheme's order) when that label was labelled more often than it
was removed, longer occurrences first, never two overlapping ones unless the scheme allows overlaps;
the labels removed more often than confirmed are *suppressed* (the screen drops those suggestions of
the other sources); relations between the memory's spans that annotators made between the same
forms, when the scheme allows the two labels. Gold outranks: a form (or a pair of forms) the gold
tier knows is judged by gold's counts alone.

Only ``accept`` decisions count (a rejected or ignored sentence says nothing about its spans).
Updates are exact: :meth:`update` with a decision's previous and new version moves the counts, so a
memory updated along any history equals one built from the final decisions (tested with
hypothesis). Matching is O(tokens) per sentence: forms are indexed by their first token's text and
their length, so each token costs one lookup per length of the forms starting with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from .model import Decision, Relation, Sentence, Span, Suggestion, span_at_tokens

if TYPE_CHECKING:  # pragma: no cover
    from .labels import LabelScheme

MEMORY_SOURCE = "memory"
"""The suggestion source (and span source) of the memory's suggestions."""

TIERS = ("gold", "own")
"""Count tables, in the order they outrank each other."""

MEMORY_MODES = ("own", "shared", "off")
"""``memory`` setting values: the annotator's own decisions (plus gold), everyone's, or none."""

Form = tuple[str, ...]
"""A surface form: the texts of a span's tokens."""


def memory_mode(value: object) -> str | None:
    """The memory mode a setting value means (True: own, False: off), or None when it is not one."""
    if value is True:
        return "own"
    if value is False:
        return "off"
    if isinstance(value, str) and value.strip().lower() in MEMORY_MODES + ("on",):
        text = value.strip().lower()
        return "own" if text == "on" else text
    return None


@dataclass(frozen=True)
class MemoryMatch:
    """What the memory says about one sentence."""

    row: Suggestion | None
    """The memory's suggestion row (source ``memory``), or None when it knows no form here."""
    suppressed: frozenset[tuple[int, int, str]] = frozenset()
    """``(token_start, token_end, label)`` suggestions of other sources the annotators removed."""

    def filter(self, rows: Sequence[Suggestion], scheme: "LabelScheme") -> list[Suggestion]:
        """``rows`` without suppressed spans and without spans on the tokens of a memory span (the
        memory's label replaces theirs), then the memory's row (last: it wins other overlaps of
        equal length in the editor); other rows' relations that would now join spans whose labels
        the scheme does not allow for them (a span the memory relabelled) are left out."""
        memory_labels = {s.key: s.label for s in self.row.spans} if self.row is not None else {}
        result: list[Suggestion] = []
        for row in rows:
            spans = tuple(
                s for s in row.spans
                if (s.token_start, s.token_end, s.label) not in self.suppressed and s.key not in memory_labels
            )
            labels = {**{s.key: s.label for s in spans}, **memory_labels}
            relations = tuple(r for r in row.relations if _allowed(scheme, r, labels))
            if spans != row.spans or relations != row.relations:
                row = Suggestion(row.sentence_id, row.source, spans, relations)
            result.append(row)
        if self.row is not None:
            result.append(self.row)
        return result


def _allowed(scheme: "LabelScheme", relation: Relation, labels: dict[tuple[int, int], str]) -> bool:
    head, child = labels.get(relation.head), labels.get(relation.child)
    if head is None or child is None:
        return False
    label = scheme.relation(relation.label)
    return label is None or label.allows(head, child)  # unknown labels: the editor decides


@dataclass
class _Tier:
    labelled: dict[Form, Counter] = field(default_factory=dict)
    removed: dict[Form, Counter] = field(default_factory=dict)
    related: dict[tuple[Form, Form], Counter] = field(default_factory=dict)

    def knows(self, form: Form) -> bool:
        return form in self.labelled or form in self.removed


def _bump(table: dict, key, label: str, sign: int) -> None:
    counts = table.get(key)
    if counts is None:
        counts = table[key] = Counter()
    counts[label] += sign
    if counts[label] == 0:
        del counts[label]
        if not counts:
            del table[key]


def suggested_keys(rows: Iterable[Suggestion]) -> frozenset[tuple[int, int, str]]:
    """``(token_start, token_end, label)`` of every span the rows suggest (the memory's own row
    excluded: it is not stored, and a form it suggests is counted when labelled)."""
    return frozenset(
        (s.token_start, s.token_end, s.label) for row in rows if row.source != MEMORY_SOURCE for s in row.spans
    )


class AnnotationMemory:
    """Counts over decisions (see the module docstring); ``add``/``remove``/``update``, ``match``."""

    def __init__(self, scheme: "LabelScheme") -> None:
        self.scheme = scheme
        """Entity order (ties), relation constraints, overlaps."""
        self._tiers = {tier: _Tier() for tier in TIERS}
        self._by_first: dict[str, dict[Form, int]] = {}
        """First token text -> forms starting with it (value: in how many tiers it is known)."""
        self._lengths: dict[str, Counter] = {}
        """First token text -> how many of those forms have each length (in tokens)."""
        self._partners: dict[Form, Counter] = {}
        """Form -> the forms it is related to, either way (value: in how many tier/direction pairs)."""
        self._order = {name: index for index, name in enumerate(scheme.entity_names)}

    # -- counting ------------------------------------------------------------------------------

    def add(self, sentence: Sentence, decision: Decision | None, suggested: Iterable[tuple[int, int, str]] = (), *, gold: bool | None = None) -> None:
        """Count an accepted decision (anything else counts nothing)."""
        self._count(sentence, decision, suggested, +1, gold)

    def remove(self, sentence: Sentence, decision: Decision | None, suggested: Iterable[tuple[int, int, str]] = (), *, gold: bool | None = None) -> None:
        """Take back what :meth:`add` counted for the same arguments."""
        self._count(sentence, decision, suggested, -1, gold)

    def update(
        self, sentence: Sentence, previous: Decision | None, new: Decision | None,
        suggested: Iterable[tuple[int, int, str]] = (), *, previous_suggested: Iterable[tuple[int, int, str]] | None = None,
    ) -> None:
        """A key's current decision changed from ``previous`` to ``new`` (an undo row included)."""
        suggested = frozenset(suggested)
        self.remove(sentence, previous, suggested if previous_suggested is None else previous_suggested)
        self.add(sentence, new, suggested)

    def _count(self, sentence: Sentence, decision: Decision | None, suggested: Iterable[tuple[int, int, str]], sign: int, gold: bool | None) -> None:
        if decision is None or decision.answer != "accept":
            return
        tier = self._tiers["gold" if (decision.gold if gold is None else gold) else "own"]
        texts = sentence.token_texts()
        # A decision's spans index its own tokens (the sentence's split inside a word where a span
        # covers part of one); suggestions index the sentence's. Compare them by characters.
        decision_texts = [sentence.text[t.start : t.end] for t in decision.tokens_of(sentence)]
        forms: dict[tuple[int, int], tuple[Form, str]] = {}
        chosen: set[tuple[int, int, str]] = set()
        for span in decision.spans:
            form = tuple(decision_texts[span.token_start : span.token_end + 1])
            forms[span.key] = (form, span.label)
            chosen.add((span.start, span.end, span.label))
            self._touch(tier, form, lambda: _bump(tier.labelled, form, span.label, sign))
        for token_start, token_end, label in set(suggested):
            if not (0 <= token_start <= token_end < len(texts)):
                continue
            if (sentence.tokens[token_start].start, sentence.tokens[token_end].end, label) in chosen:
                continue
            form = tuple(texts[token_start : token_end + 1])
            self._touch(tier, form, lambda: _bump(tier.removed, form, label, sign))
        for relation in decision.relations:
            head, child = forms.get(relation.head), forms.get(relation.child)
            if head is not None and child is not None:
                pair = (head[0], child[0])
                known = pair in tier.related
                _bump(tier.related, pair, relation.label, sign)
                if known != (pair in tier.related):
                    self._pair_seen(pair, 1 if not known else -1)

    def _pair_seen(self, pair: tuple[Form, Form], step: int) -> None:
        for one, other in (pair, pair[::-1]):
            partners = self._partners.setdefault(one, Counter())
            partners[other] += step
            if not partners[other]:
                del partners[other]
                if not partners:
                    del self._partners[one]

    def _touch(self, tier: _Tier, form: Form, change) -> None:
        """Apply ``change`` to ``tier`` and keep the first-token index in step."""
        known = tier.knows(form)
        change()
        now = tier.knows(form)
        if known == now or not form:
            return
        forms = self._by_first.setdefault(form[0], {})
        lengths = self._lengths.setdefault(form[0], Counter())
        if form not in forms:
            lengths[len(form)] += 1
        forms[form] = forms.get(form, 0) + (1 if now else -1)
        if forms[form] == 0:
            del forms[form]
            lengths[len(form)] -= 1
            if not lengths[len(form)]:
                del lengths[len(form)]
            if not forms:
                del self._by_first[form[0]]
                del self._lengths[form[0]]

    # -- reading -------------------------------------------------------------------------------

    def snapshot(self) -> dict:
        """Every non-zero count, as plain data (for comparing two memories)."""
        return {
            name: {
                "labelled": {k: dict(v) for k, v in tier.labelled.items()},
                "removed": {k: dict(v) for k, v in tier.removed.items()},
                "related": {k: dict(v) for k, v in tier.related.items()},
            }
            for name, tier in self._tiers.items()
        }

    def __len__(self) -> int:
        """How many forms the memory knows (in any tier)."""
        return sum(len(forms) for forms in self._by_first.values())

    def _tier_of(self, form: Form) -> _Tier | None:
        for name in TIERS:
            if self._tiers[name].knows(form):
                return self._tiers[name]
        return None

    def verdict(self, form: Form) -> tuple[str | None, frozenset[str]]:
        """The label the memory suggests for ``form`` (or None) and the labels it suppresses."""
        tier = self._tier_of(form)
        if tier is None:
            return None, frozenset()
        labelled = tier.labelled.get(form, Counter())
        removed = tier.removed.get(form, Counter())
        best = None
        if labelled:
            best = min(labelled, key=lambda label: (-labelled[label], self._order.get(label, len(self._order)), label))
            if labelled[best] <= removed.get(best, 0):
                best = None
        suppressed = frozenset(label for label, count in removed.items() if count > labelled.get(label, 0))
        return best, suppressed

    def match(self, sentence: Sentence) -> MemoryMatch:
        """The memory's suggestions for ``sentence`` (see the module docstring)."""
        texts = sentence.token_texts()
        found: list[tuple[int, int, str]] = []
        suppressed: set[tuple[int, int, str]] = set()
        for index, text in enumerate(texts):
            forms = self._by_first.get(text)
            if not forms:
                continue
            for length in self._lengths[text]:  # a few lengths, however many forms start here
                end = index + length
                form = tuple(texts[index:end])
                if end > len(texts) or form not in forms:
                    continue
                label, removed = self.verdict(form)
                suppressed.update((index, end - 1, name) for name in removed)
                if label is not None:
                    found.append((index, end - 1, label))
        spans = self._without_overlaps(sentence, found)
        relations = self._relations(sentence, texts, spans)
        row = Suggestion(sentence.id, MEMORY_SOURCE, tuple(spans), tuple(relations)) if spans else None
        return MemoryMatch(row, frozenset(suppressed))

    def _without_overlaps(self, sentence: Sentence, found: list[tuple[int, int, str]]) -> list[Span]:
        kept: list[tuple[int, int, str]] = []
        taken: set[int] = set()
        for first, last, label in sorted(found, key=lambda f: (f[0] - f[1], f[0])):  # longest, then leftmost
            tokens = set(range(first, last + 1))
            if not self.scheme.allow_overlaps and tokens & taken:
                continue
            taken |= tokens
            kept.append((first, last, label))
        return [
            span_at_tokens(sentence.text, sentence.tokens, first, last, label, MEMORY_SOURCE) for first, last, label in sorted(kept)
        ]

    def _relations(self, sentence: Sentence, texts: list[str], spans: list[Span]) -> list[Relation]:
        relations: set[Relation] = set()
        forms = [tuple(texts[s.token_start : s.token_end + 1]) for s in spans]
        at: dict[Form, list[int]] = {}
        for index, form in enumerate(forms):
            at.setdefault(form, []).append(index)
        for i, head in enumerate(spans):
            partners = self._partners.get(forms[i])
            if not partners:
                continue
            for j in (j for form, found in at.items() if form in partners for j in found):
                child = spans[j]
                if i == j or head.overlaps(child):
                    continue
                for label in self._related_labels(forms[i], forms[j]):
                    scheme_label = self.scheme.relation(label)
                    if scheme_label is None or not scheme_label.allows(head.label, child.label):
                        continue
                    if scheme_label.symmetric and child.start < head.start:
                        relations.add(Relation(child.key, head.key, label))  # one direction for symmetric ones
                    else:
                        relations.add(Relation(head.key, child.key, label))
        return sorted(relations)

    def _related_labels(self, head: Form, child: Form) -> list[str]:
        """Relation labels annotators put from ``head`` to ``child`` (symmetric ones either way),
        from the first tier that related the two forms at all."""
        for name in TIERS:
            related = self._tiers[name].related
            labels = list(related.get((head, child), ()))
            labels += [
                label for label in related.get((child, head), ())
                if (found := self.scheme.relation(label)) is not None and found.symmetric
            ]
            if labels:
                return labels
        return []

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, scheme: "LabelScheme", items: Iterable[tuple[Sentence, Decision, Iterable[tuple[int, int, str]]]]) -> "AnnotationMemory":
        """A memory counting each ``(sentence, current decision, suggested keys)``."""
        memory = cls(scheme)
        for sentence, decision, suggested in items:
            memory.add(sentence, decision, suggested)
        return memory
