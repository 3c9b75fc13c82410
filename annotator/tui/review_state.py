"""The review queue as plain state: which sentences to review, where the reviewer is, what is gold.

No Textual (the review screen renders it, the tests drive it directly). Built once at start from
``review_queue(gold.load_versions(...), include_agreed=True)`` and the reviewer's current gold
decisions (one streamed query each, O(queue)); after that every operation is O(1) or O(log n), so
no key press walks the queue. The one exception is :meth:`ReviewQueue.first_unsettled`, a scan that
stops at the first hit, used at start and when the reviewer runs off the end of the queue.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Collection, Iterable, Mapping, Sequence

from ..model import Decision
from ..review import ReviewItem, review_queue, version_key

class ReviewQueue:
    """Review items in sentence order, the visible subset, the cursor, and the reviewer's gold.

    ``items`` holds every sentence with at least two decided versions, agreed ones included; the
    visible queue is the disagreements only, or everything when ``include_agreed`` is on.
    """

    def __init__(self, items: Sequence[ReviewItem], gold: Mapping[int, Decision] | None = None, *, include_agreed: bool = False):
        self.items: list[ReviewItem] = list(items)
        """Every reviewable sentence (agreed ones too), in sentence position order."""
        self.include_agreed = include_agreed
        """Whether the visible queue includes sentences where everyone agreed."""
        self.index = 0
        """Index of the current item in the visible queue."""
        self._disagreeing: list[int] = [n for n, item in enumerate(self.items) if not item.agreed]
        self._ordinal: dict[int, int] = {item.sentence_id: n for n, item in enumerate(self.items)}
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
            if self.items[visible[index]].sentence_id not in self.gold:
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
            if self.items[ordinal].agreed:
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
        """The agreed items without gold (O(queue): only for the bulk ``A`` action)."""
        return [item for item in self.items if item.agreed and item.sentence_id not in self.gold]


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


def load_queue(store, dataset: str, reviewer: str, *, symmetric_labels: Iterable[str] = (), min_versions: int = 2) -> ReviewQueue:
    """Build the queue from the store: two streamed queries (current decisions, the reviewer's gold)."""
    from ..gold import load_versions

    symmetric = frozenset(symmetric_labels)
    items = list(review_queue(load_versions(store, dataset), min_versions, include_agreed=True, symmetric_labels=symmetric))
    gold = {sentence.id: decision for sentence, decision in store.current_decisions(dataset, [reviewer], gold=True)}
    queue = ReviewQueue(items, gold)
    start = queue.first_unsettled()
    queue.index = start if start is not None else 0
    return queue
