"""Disagreement detection and majority merging over the annotators' current decisions.

Pure: standard library only. Works on the same :class:`~annotator.agreement.SentenceVersions` items
as :mod:`annotator.agreement`.

What "the same version" means
    Two decisions are the same version when they have the same answer and, for accepted decisions,
    the same set of spans ``(start, end, label)`` and the same set of relations ``(head, child,
    label)``. The spans and relations of a rejected or ignored decision are not compared (they are
    whatever was on screen, and are dropped from the group), so two rejections always agree.
    Relations whose label is in ``symmetric_labels`` compare as unordered pairs. Span ``source`` and
    decision metadata never matter. Versions whose answer is ``None`` (undone) are not decided and are
    left out everywhere.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Sequence

from annotator.agreement import SentenceVersions, paused_gc
from annotator.model import Decision, Relation, Span, VersionRow, span_tuple, version_rows

VersionKey = tuple[str, frozenset, frozenset]


def version_key(decision: Decision, symmetric_labels: Collection[str] = ()) -> VersionKey:
    """What two decisions must share to be the same version (see the module docstring)."""
    if decision.answer != "accept":
        return (str(decision.answer), frozenset(), frozenset())
    return _accepted_key([span_tuple(s) for s in decision.spans], [(r.head, r.child, r.label) for r in decision.relations], symmetric_labels)


def _accepted_key(spans: Iterable[tuple], relations: Iterable[tuple], symmetric_labels: Collection[str]) -> VersionKey:
    """:func:`version_key` of an accepted version, its spans and relations as plain tuples."""
    keys = set()
    for head, child, label in relations:
        if label in symmetric_labels and child < head:
            head, child = child, head
        keys.add((head, child, label))
    return ("accept", frozenset([s[:3] for s in spans]), frozenset(keys))


def differs(versions: Mapping[str, Decision], *, symmetric_labels: Collection[str] = ()) -> bool:
    """True when the decided versions differ in answer, span set or relation set.

    Fewer than two decided versions never differ.
    """
    keys = {version_key(d, symmetric_labels) for d in versions.values() if d.answer is not None}
    return len(keys) > 1


@dataclass(frozen=True, slots=True)
class VersionGroup:
    """Annotators whose current decisions are the same version, and that version.

    ``spans`` and ``relations`` are those of the group's first annotator (deduplicated, sorted);
    both are empty unless ``answer`` is ``accept``. ``decision_ids`` line up with ``annotators``.
    """

    annotators: tuple[str, ...]
    answer: str
    spans: tuple[Span, ...]
    relations: tuple[Relation, ...]
    decision_ids: tuple[int | None, ...]

    @property
    def span_keys(self) -> frozenset[tuple[int, int, str]]:
        return frozenset((s.start, s.end, s.label) for s in self.spans)

    def to_dict(self) -> dict[str, Any]:
        return {
            "annotators": list(self.annotators),
            "answer": self.answer,
            "spans": [s.to_dict() for s in self.spans],
            "relations": [r.to_dict() for r in self.relations],
            "decision_ids": list(self.decision_ids),
        }


def _unique_spans(spans: Iterable[tuple]) -> tuple[Span, ...]:
    """The spans (plain tuples) with one per ``(start, end, label)``, the first, as sorted ``Span``s."""
    by_key: dict[tuple, tuple] = {}
    for span in spans:
        by_key.setdefault(span[:3], span)
    return tuple([Span(*span) for span in sorted(by_key.values())])  # keys differ: tuples sort as spans


def group_versions(versions: Mapping[str, Decision], *, symmetric_labels: Collection[str] = ()) -> list[VersionGroup]:
    """Group identical decided versions: largest group first, ties by the group's first annotator name.

    Annotators within a group are sorted by name.
    """
    return _groups([(key[0], rows) for key, rows in _members(version_rows(versions), symmetric_labels).items()])


def _members(rows: Iterable[VersionRow], symmetric_labels: Collection[str]) -> dict[VersionKey, list[VersionRow]]:
    """The decided rows by version, each version's rows sorted by annotator."""
    members: dict[VersionKey, list[VersionRow]] = {}
    keys: dict[tuple[str | None, int, int], VersionKey] = {}  # agreeing annotators often share decoded spans
    for row in sorted(rows, key=_annotator):
        answer = row.answer
        if answer is None:
            continue
        shared = (answer, id(row.spans), id(row.relations))
        key = keys.get(shared)
        if key is None:
            if answer == "accept":
                key = _accepted_key(row.spans, row.relations, symmetric_labels)
            else:
                key = (str(answer), frozenset(), frozenset())
            keys[shared] = key
        rows_of_key = members.get(key)
        if rows_of_key is None:
            members[key] = [row]
        else:
            rows_of_key.append(row)
    return members


def _annotator(row: VersionRow) -> str:
    return row.annotator


def _groups(members: Iterable[tuple[str, list[VersionRow]]]) -> list[VersionGroup]:
    """:func:`group_versions`' groups of :func:`_members`' versions."""
    groups = []
    for answer, rows in members:
        first = rows[0]
        accepted = answer == "accept"
        groups.append(
            VersionGroup(
                annotators=tuple([row.annotator for row in rows]),
                answer=answer,
                spans=_unique_spans(first.spans) if accepted else (),
                relations=tuple([Relation(*r) for r in sorted(set(first.relations))]) if accepted else (),
                decision_ids=tuple([row.decision_id for row in rows]),
            )
        )
    groups.sort(key=lambda g: (-len(g.annotators), g.annotators[0]))
    return groups


@dataclass(frozen=True, slots=True)
class SpanDiff:
    """A group's spans split by how many groups have them (for highlighting)."""

    shared: tuple[Span, ...]
    """In every group."""
    unique: tuple[Span, ...]
    """In this group only."""
    partial: tuple[Span, ...]
    """In this group and some, but not all, of the others."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "shared": [s.to_dict() for s in self.shared],
            "unique": [s.to_dict() for s in self.unique],
            "partial": [s.to_dict() for s in self.partial],
        }


def diff_spans(groups: Iterable[VersionGroup]) -> dict[tuple[str, ...], SpanDiff]:
    """For each group (keyed by its annotators): its spans shared by all groups, unique to it, or partial.

    Spans are compared by ``(start, end, label)``. A group that did not accept has no spans, so with
    such a group nothing is shared. With a single group every span is shared.
    """
    groups = list(groups)
    holders: dict[tuple[int, int, str], int] = {}
    for group in groups:
        for key in group.span_keys:
            holders[key] = holders.get(key, 0) + 1
    result = {}
    for group in groups:
        shared, unique, partial = [], [], []
        for span in group.spans:
            count = holders[(span.start, span.end, span.label)]
            if count == len(groups):
                shared.append(span)
            elif count == 1:
                unique.append(span)
            else:
                partial.append(span)
        result[group.annotators] = SpanDiff(tuple(shared), tuple(unique), tuple(partial))
    return result


class ReviewItem:
    """A sentence to review: its versions and how they group.

    Immutable, like a frozen dataclass: ``ReviewItem(sentence, groups, agreed)``. ``review_queue``
    builds it from the sentence's grouped rows; ``groups`` (the :class:`VersionGroup`s with their
    ``Span``s) is built when first read, so a queue of a whole dataset makes them only for the
    sentences someone looks at.
    """

    __slots__ = ("sentence", "agreed", "_groups", "_members")

    sentence: SentenceVersions
    agreed: bool
    """True when every decided version is the same (a single group)."""

    def __init__(self, sentence: SentenceVersions, groups: tuple[VersionGroup, ...], agreed: bool):
        init = object.__setattr__
        init(self, "sentence", sentence)
        init(self, "agreed", agreed)
        init(self, "_groups", groups)
        init(self, "_members", None)

    @classmethod
    def _grouped(cls, sentence: SentenceVersions, members: dict[VersionKey, list[VersionRow]], agreed: bool) -> "ReviewItem":
        item = cls(sentence, (), agreed)
        # kept until ``groups`` is read: each version's answer and rows (not its key's frozensets)
        object.__setattr__(item, "_members", [(key[0], rows) for key, rows in members.items()])
        return item

    @property
    def groups(self) -> tuple[VersionGroup, ...]:
        members = self._members
        if members is not None:
            object.__setattr__(self, "_groups", tuple(_groups(members)))
            object.__setattr__(self, "_members", None)
        return self._groups

    @property
    def sentence_id(self) -> int:
        return self.sentence.sentence_id

    @property
    def n_versions(self) -> int:
        """How many annotators decided the sentence."""
        return sum(len(g.annotators) for g in self.groups)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.sentence, self.groups, self.agreed) == (other.sentence, other.groups, other.agreed)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # the sentence's ``versions`` is a dict

    def __repr__(self) -> str:
        return f"ReviewItem(sentence={self.sentence!r}, groups={self.groups!r}, agreed={self.agreed!r})"

    def __reduce__(self) -> tuple:
        return (ReviewItem, (self.sentence, self.groups, self.agreed))


def review_queue(
    items: Iterable[SentenceVersions],
    min_versions: int = 2,
    include_agreed: bool = False,
    *,
    symmetric_labels: Collection[str] = (),
) -> Iterator[ReviewItem]:
    """Sentences with at least ``min_versions`` decided versions, in input order.

    Sentences where everyone agreed are skipped unless ``include_agreed``. Lazy: reads ``items`` as
    it yields (the garbage collector paused until it is exhausted or closed, as ``agreement.paused_gc``).
    """
    if min_versions < 1:
        raise ValueError(f"min_versions must be at least 1, not {min_versions}")
    with paused_gc():
        for item in items:
            if not include_agreed and _one_shared_version(item.rows, min_versions):
                continue  # enough decided rows, all one version object: agreed, nothing to group
            members = _members(item.rows, symmetric_labels)
            if sum(map(len, members.values())) < min_versions:
                continue
            agreed = len(members) == 1
            if agreed and not include_agreed:
                continue
            yield ReviewItem._grouped(item, members, agreed)


def review_index(
    records: Iterable[tuple[int, int, Sequence[tuple[str, str | None, str, str]]]],
    decode_spans: Callable[[str], tuple],
    decode_relations: Callable[[str], tuple],
    min_versions: int = 2,
    *,
    symmetric_labels: Collection[str] = (),
) -> list[tuple[int, int, bool]]:
    """``(sentence_id, position, agreed)`` of each item ``review_queue(..., min_versions,
    include_agreed=True)`` yields over the same sentences, in order, from the versions as stored.

    ``records`` are ``Store.current_version_texts``': per sentence its id, position and
    ``(annotator, answer, spans JSON, relations JSON)`` rows; ``decode_spans`` and
    ``decode_relations`` turn the texts into span and relation tuples. Only sentences whose
    accepted versions differ in their JSON texts are decoded: one answer with the same texts is
    one version, different answers are different versions.
    """
    if min_versions < 1:
        raise ValueError(f"min_versions must be at least 1, not {min_versions}")
    index: list[tuple[int, int, bool]] = []
    append = index.append
    for sentence_id, position, versions in records:
        decided = [v for v in versions if v[1] is not None]
        if len(decided) < min_versions:
            continue
        answer, spans, relations = decided[0][1:]
        agreed = True
        texts_differ = False
        for version in decided:
            if version[1] != answer:
                agreed = False
                break
            if version[2] != spans or version[3] != relations:
                texts_differ = True
        if agreed and texts_differ and answer == "accept":  # the same sets of spans and relations?
            agreed = _one_set({v[2] for v in decided}, decode_spans, _span_set, ()) and _one_set(
                {v[3] for v in decided}, decode_relations, _relation_set, symmetric_labels
            )
        append((sentence_id, position, agreed))
    return index


def _one_set(texts: set[str], decode: Callable[[str], tuple], as_set: Callable[[tuple, Collection[str]], frozenset], symmetric_labels: Collection[str]) -> bool:
    """True when every text decodes to the same set (as :func:`_accepted_key` compares them);
    stops at the first that differs."""
    if len(texts) == 1:
        return True
    first = None
    for text in texts:
        items = as_set(decode(text) if text != "[]" else (), symmetric_labels)
        if first is None:
            first = items
        elif items != first:
            return False
    return True


def _span_set(spans: tuple, symmetric_labels: Collection[str]) -> frozenset:
    return frozenset([s[:3] for s in spans])


def _relation_set(relations: tuple, symmetric_labels: Collection[str]) -> frozenset:
    return _accepted_key((), relations, symmetric_labels)[2]


def _one_shared_version(rows: Iterable[VersionRow], min_versions: int) -> bool:
    """True when at least ``min_versions`` rows are decided and all give one answer and, if that
    is ``accept``, the very same span and relation tuples (rows decoded from one JSON text share
    them): they are one version without computing its key. False says nothing."""
    first = None
    decided = 0
    for row in rows:
        answer = row.answer
        if answer is None:
            continue
        decided += 1
        if first is None:
            first = row
        elif answer != first.answer or (answer == "accept" and (row.spans is not first.spans or row.relations is not first.relations)):
            return False
    return decided >= min_versions


def majority_merge(
    versions: Mapping[str, Decision], min_annotators: int = 2, *, symmetric_labels: Collection[str] = ()
) -> VersionGroup | None:
    """The version more than half of the deciding annotators chose, or ``None`` (left for review).

    ``None`` too when no version has a strict majority (ties) or when the majority group has fewer
    than ``min_annotators`` annotators (by default one annotator alone never makes gold).
    """
    if min_annotators < 1:
        raise ValueError(f"min_annotators must be at least 1, not {min_annotators}")
    groups = group_versions(versions, symmetric_labels=symmetric_labels)
    if not groups:
        return None
    decided = sum(len(g.annotators) for g in groups)
    top = groups[0]
    if 2 * len(top.annotators) <= decided or len(top.annotators) < min_annotators:
        return None
    return top
