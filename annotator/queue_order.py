"""The order in which the annotate screen offers undecided sentences (``annotate --order``).

``document`` is the stored order. ``uncertain`` offers first the sentences where the stored
suggestion sources disagree most. The measure is :func:`disagreement`: over the sources that have
a row for a sentence (the import's model, patterns, every pipeline run by ``annotator suggest``),
the number of spans -- start, end and label, exactly -- that not every source proposes. One source
alone, or none, scores 0: there is nothing to disagree with. It is what the stored rows expose
without running a model in the screen's process (which never imports spaCy).

The order is computed lazily in windows, never over the whole dataset: :class:`UncertainQueue`
reads the next ``window`` undecided sentences after the previous window with their suggestion rows
(one indexed query), sorts them by disagreement (most first; ties in document order) and offers them
one by one. A key costs one lookup plus one "still undecided?" query; a window query every
``window`` decisions. So "uncertain" is uncertain within each window of 1000 sentences, not across a
million.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from .model import Suggestion
    from .store import Store

ORDERS = ("document", "uncertain")
"""The values of ``annotate --order``."""

DEFAULT_WINDOW = 1000
"""How many undecided sentences one window of the uncertain order sorts."""


def disagreement(rows: Sequence["Suggestion"]) -> int:
    """How many spans (start, end, label) of the rows' union are missing from at least one row."""
    sets = [frozenset((s.start, s.end, s.label) for s in row.spans) for row in rows]
    if len(sets) < 2:
        return 0
    union = frozenset().union(*sets)
    return len(union - frozenset.intersection(*sets))


def uncertain_order(scored: Iterable[tuple[int, int]]) -> list[int]:
    """Positions of ``(position, score)`` pairs, highest score first, ties in document order."""
    return [position for position, _score in sorted(scored, key=lambda item: (-item[1], item[0]))]


class UncertainQueue:
    """``queue(after)`` for :class:`~annotator.tui.context.ScreenContext`: the next undecided sentence
    by disagreement, window by window (see the module docstring). ``after`` 0 starts over."""

    def __init__(self, store: "Store", dataset: str, annotator: str, *, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        self.store = store
        self.dataset = dataset
        self.annotator = annotator
        self.window = window
        self._pending: list[int] = []
        """This window's positions in the order offered, the next one last (popped)."""
        self._window_end = 1
        """The first position after the current window."""

    def _load(self, start: int) -> bool:
        found = self.store.undecided_with_suggestions(self.dataset, self.annotator, start, self.window)
        if not found:
            return False
        ordered = uncertain_order((position, disagreement(rows)) for position, rows in found)
        self._pending = ordered[::-1]
        self._window_end = found[-1][0] + 1
        return True

    def _undecided(self, position: int) -> bool:
        return self.store.first_undecided(self.dataset, self.annotator, position) == position

    def __call__(self, after: int) -> int | None:
        if after == 0:
            self._pending = []
            self._window_end = 1
        wrapped = False
        while True:
            while self._pending:
                position = self._pending.pop()
                if position != after and self._undecided(position):
                    return position
            if not self._load(self._window_end):
                # past the end: sentences left behind (skipped or undone) are picked up from the top, once
                if self._window_end > 1 and not wrapped:
                    wrapped = True
                    self._window_end = 1
                    continue
                return None
