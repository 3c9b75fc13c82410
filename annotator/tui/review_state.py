"""The review queue as plain state: which sentences to review, where the reviewer is, what is gold.

No Textual (the review screen renders it, the tests drive it directly). Built once at start from
the queue's index (``gold.load_review_index``: which sentences have two or more decided versions
and whether they agree, decoding only versions whose stored texts differ) and the reviewer's current
gold decisions (one streamed query each, O(queue)); a sentence's :class:`ReviewItem` (its versions
and groups, as ``review_queue(gold.load_versions(...), include_agreed=True)`` builds it) is read
when the queue first shows it (:class:`LazyItems`, one query). After that every operation is O(1)
or O(log n), so no key press walks the queue. The exceptions are :meth:`ReviewQueue.first_unsettled`,
a scan that stops at the first hit, used at start and when the reviewer runs off the end of the
queue, and :meth:`ReviewQueue.agreed_without_gold` (the bulk ``A``), which reads the agreed
sentences not read yet: one pass over each run of nearby positions, O(agreed sentences).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Collection, Iterable, Iterator, Mapping, Sequence

from ..agreement import SentenceVersions
from ..model import Decision
from ..review import ReviewItem, review_queue, version_key


STREAM_GAP = 512
"""Wanted positions further apart than this are read in separate position ranges."""


def position_runs(positions: Iterable[int], gap: int) -> Iterator[tuple[int, int]]:
    """``(first, last)`` ranges covering sorted ``positions``, split where two are more than ``gap`` apart."""
    first = last = None
    for position in positions:
        if first is None:
            first = last = position
        elif position - last > gap:
            yield first, last
            first = last = position
        else:
            last = position
    if first is not None:
        yield first, last


class LazyItems(Sequence[ReviewItem]):
    """The review items of a queue index, each read when first used and then kept.

    ``index``: ``(sentence_id, position, agreed)`` per item, in order (``gold.load_review_index``).
    ``load(sentence_id, position)`` reads one item (None when the sentence changed since the index
    was read and no longer has enough decided versions: its item then has the versions it has, or
    none); ``stream(sentence_ids, positions)`` reads those sentences' items (at those sorted
    positions) in order, one pass over each run of nearby positions.
    """

    def __init__(
        self,
        index: Sequence[tuple[int, int, bool]],
        load: Callable[[int, int], ReviewItem | None],
        stream: Callable[[set[int], list[int]], Iterator[ReviewItem]],
        fallback: Callable[[int, int, bool], ReviewItem],
    ):
        self.sentence_ids: list[int] = [entry[0] for entry in index]
        self.positions: list[int] = [entry[1] for entry in index]
        self.agreed: list[bool] = [entry[2] for entry in index]
        self._load = load
        self._stream = stream
        self._fallback = fallback
        self._loaded: dict[int, ReviewItem] = {}

    def __len__(self) -> int:
        return len(self.sentence_ids)

    def __getitem__(self, ordinal):  # type: ignore[override]
        if isinstance(ordinal, slice):
            return [self[n] for n in range(*ordinal.indices(len(self)))]
        if ordinal < 0:
            ordinal += len(self)
        item = self._loaded.get(ordinal)
        if item is None:
            sentence_id, position = self.sentence_ids[ordinal], self.positions[ordinal]
            item = self._load(sentence_id, position)
            if item is None:
                item = self._fallback(sentence_id, position, self.agreed[ordinal])
            self._loaded[ordinal] = item
        return item

    def many(self, ordinals: Iterable[int]) -> list[ReviewItem]:
        """The items at ``ordinals``, in that order: those not read yet in one pass over each run
        of their positions (not kept); sentences no longer reviewable are left out."""
        ordinals = list(ordinals)
        unread = [n for n in ordinals if n not in self._loaded]
        wanted = {self.sentence_ids[n] for n in unread}
        positions = sorted({self.positions[n] for n in unread})
        fresh = {item.sentence_id: item for item in self._stream(wanted, positions)} if wanted else {}
        items = []
        for n in ordinals:
            item = self._loaded.get(n) or fresh.get(self.sentence_ids[n])
            if item is not None:
                items.append(item)
        return items


class ReviewQueue:
    """Review items in sentence order, the visible subset, the cursor, and the reviewer's gold.

    ``items`` holds every sentence with at least two decided versions, agreed ones included; the
    visible queue is the disagreements only, or everything when ``include_agreed`` is on.
    """

    def __init__(self, items: Sequence[ReviewItem], gold: Mapping[int, Decision] | None = None, *, include_agreed: bool = False):
        self.items: Sequence[ReviewItem] = items if isinstance(items, LazyItems) else list(items)
        """Every reviewable sentence (agreed ones too), in sentence position order (a
        :class:`LazyItems` reads each when first used)."""
        if isinstance(self.items, LazyItems):
            ids, agreed = self.items.sentence_ids, self.items.agreed
        else:
            ids, agreed = [item.sentence_id for item in self.items], [item.agreed for item in self.items]
        self._agreed: list[bool] = agreed
        self.include_agreed = include_agreed
        """Whether the visible queue includes sentences where everyone agreed."""
        self.index = 0
        """Index of the current item in the visible queue."""
        self._disagreeing: list[int] = [n for n, flag in enumerate(agreed) if not flag]
        self._ordinal: dict[int, int] = {sentence_id: n for n, sentence_id in enumerate(ids)}
        self._ids: list[int] = ids
        self.gold: dict[int, Decision] = {}
        """Sentence id -> the reviewer's current gold decision (only decided ones, answer not None)."""
        self.n_agreed = len(self.items) - len(self._disagreeing)
        """How many items are sentences where everyone agreed."""
        self._settled_agreed = 0
        self._settled_disagreeing = 0
        for sentence_id, decision in (gold or {}).items():
            self.set_gold(sentence_id, decision)

    # -- the visible queue ---------------------------------------------------------------------

    @property
    def visible(self) -> Sequence[int]:
        """Ordinals (indexes into ``items``) of the visible queue, ascending."""
        return range(len(self.items)) if self.include_agreed else self._disagreeing

    def __len__(self) -> int:
        return len(self.visible)

    @property
    def current(self) -> ReviewItem | None:
        """The item shown, or None when the visible queue is empty."""
        visible = self.visible
        if not visible:
            return None
        self.index = max(0, min(self.index, len(visible) - 1))
        return self.items[visible[self.index]]

    def item_at(self, index: int) -> ReviewItem:
        return self.items[self.visible[index]]

    def move(self, step: int) -> bool:
        """Go ``step`` items forward (or back); False (and no move) past either end."""
        target = self.index + step
        if not 0 <= target < len(self):
            return False
        self.index = target
        return True

    def index_of(self, sentence_id: int) -> int | None:
        """Index in the visible queue of the sentence's item (None when it is not visible)."""
        ordinal = self._ordinal.get(sentence_id)
        if ordinal is None:
            return None
        visible = self.visible
        found = bisect_left(visible, ordinal)
        return found if found < len(visible) and visible[found] == ordinal else None

    def set_include_agreed(self, include: bool) -> None:
        """Show or hide the agreed sentences, staying on the current item (or the next one shown)."""
        current = self.current
        self.include_agreed = include
        if current is None:
            self.index = 0
            return
        visible = self.visible
        self.index = min(bisect_left(visible, self._ordinal[current.sentence_id]), max(0, len(visible) - 1))

    def first_unsettled(self, start: int = 0) -> int | None:
        """Index of the first visible item at or after ``start`` without gold (a scan; see the module doc)."""
        visible = self.visible
        for index in range(start, len(visible)):
            if self._ids[visible[index]] not in self.gold:
                return index
        return None

    # -- gold ----------------------------------------------------------------------------------

    def set_gold(self, sentence_id: int, decision: Decision | None) -> None:
        """Record the reviewer's current gold for a sentence (None or an undecided row: not gold)."""
        ordinal = self._ordinal.get(sentence_id)
        if ordinal is None:
            return
        was = sentence_id in self.gold
        now = decision is not None and decision.answer is not None
        if now:
            self.gold[sentence_id] = decision  # type: ignore[assignment]
        else:
            self.gold.pop(sentence_id, None)
        if was != now:
            delta = 1 if now else -1
            if self._agreed[ordinal]:
                self._settled_agreed += delta
            else:
                self._settled_disagreeing += delta

    def is_settled(self, item: ReviewItem) -> bool:
        return item.sentence_id in self.gold

    @property
    def settled(self) -> int:
        """Visible items that have gold."""
        return self._settled_disagreeing + (self._settled_agreed if self.include_agreed else 0)

    @property
    def unsettled(self) -> int:
        """Visible items without gold."""
        return len(self) - self.settled

    @property
    def agreed_pending(self) -> int:
        """Sentences where everyone agreed that are not gold yet (what ``A`` would store)."""
        return self.n_agreed - self._settled_agreed

    def agreed_without_gold(self) -> list[ReviewItem]:
        """The agreed items without gold (O(queue): only for the bulk ``A`` action; items not read
        yet are read by position runs, and those that changed since and no longer agree are left out)."""
        ordinals = [n for n, flag in enumerate(self._agreed) if flag and self._ids[n] not in self.gold]
        items = self.items.many(ordinals) if isinstance(self.items, LazyItems) else [self.items[n] for n in ordinals]
        return [item for item in items if item.agreed]


def matching_group(item: ReviewItem, decision: Decision | None, symmetric_labels: Collection[str] = ()) -> int | None:
    """Index of the version group the decision equals (as :func:`~annotator.review.version_key` compares), or None."""
    if decision is None or decision.answer is None:
        return None
    wanted = version_key(decision, symmetric_labels)
    for n, group in enumerate(item.groups):
        first = item.sentence.versions.get(group.annotators[0])
        if first is not None and version_key(first, symmetric_labels) == wanted:
            return n
    return None


def load_queue(
    store, dataset: str, reviewer: str, *, symmetric_labels: Iterable[str] = (), min_versions: int = 2, reader=None
) -> ReviewQueue:
    """Build the queue from the store: two streamed queries (the queue's index, the reviewer's gold).

    The items are read when first shown, through ``reader`` (default: ``store``; the review app
    builds the queue in a worker thread with its own store and reads items through the main
    thread's).
    """
    from ..gold import load_review_index, load_review_item, load_versions

    symmetric = frozenset(symmetric_labels)
    reader = store if reader is None else reader

    def load(sentence_id: int, position: int) -> ReviewItem | None:
        return load_review_item(reader, dataset, sentence_id, position, min_versions, symmetric)

    def stream(sentence_ids: set[int], positions: Iterable[int]) -> Iterator[ReviewItem]:
        """Read only the position runs holding the wanted sentences (gaps of more than
        ``STREAM_GAP`` positions are skipped), so the cost follows the items asked for."""
        for first, last in position_runs(positions, STREAM_GAP):
            versions = load_versions(reader, dataset, positions=(first, last))
            for item in review_queue(versions, min_versions, include_agreed=True, symmetric_labels=symmetric):
                if item.sentence_id in sentence_ids:
                    yield item

    def fallback(sentence_id: int, position: int, agreed: bool) -> ReviewItem:
        """The item of a sentence whose versions changed since the index was read (fewer decided)."""
        item = load_review_item(reader, dataset, sentence_id, position, 1, symmetric)
        if item is not None:
            return item
        # Every version was undone: no groups, and nothing anyone agrees on (the index's flag is stale).
        return ReviewItem(SentenceVersions.from_sentence(reader.sentence(sentence_id), {}), (), False)

    items = LazyItems(load_review_index(store, dataset, min_versions, symmetric), load, stream, fallback)
    gold = {sentence.id: decision for sentence, decision in store.current_decisions(dataset, [reviewer], gold=True)}
    queue = ReviewQueue(items, gold)
    start = queue.first_unsettled()
    queue.index = start if start is not None else 0
    return queue
