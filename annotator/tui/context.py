"""What a screen works with, given to it explicitly by the app that shows it.

Both apps build a :class:`ScreenContext` (the annotate app for its annotate screen; the review app
for its review screen, and a one-sentence variant for editing a version), so no screen reads its
store, scheme or session from ``self.app`` and the review app need not pretend to be the annotate
app. :func:`apply_keymap` is how both apps rebind keys from labels.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..keymap import binding_overrides, bound_keys

if TYPE_CHECKING:
    from textual.app import App

    from ..labels import LabelScheme
    from ..model import Decision, Sentence, Suggestion
    from ..store import Store

SuggestionRequest = Callable[[int], None]
"""``request(position)``: make suggestions for this and the next sentences in the background."""

SuggestionRows = Callable[[int], "list[Suggestion]"]
"""``rows(sentence_id)``: the suggestion rows the screen shows for a sentence (merged newest last)."""

DecisionHook = Callable[["Sentence", "Decision"], None]
"""``decided(sentence, decision)``: called after a decision (or an undo's row) was committed."""

QueueOrder = Callable[[int], "int | None"]
"""``next_position(after)``: the position of the next sentence to annotate after ``after`` (0: the
first), or None when none is left; the screen's default is the next undecided one in document order."""


@dataclass(frozen=True)
class Navigation:
    """What an editing screen may do when asked to move between sentences."""

    start: int | None = None
    """Position to open at; None: the first sentence the annotator has not decided."""
    refusal: str | None = None
    """None: skip, ``[`` ``]``, ``:`` and ``/`` move through the dataset. Otherwise the screen shows one
    sentence only and those keys say this instead."""


@dataclass(frozen=True)
class ScreenContext:
    """The store, scheme and identity a screen reads and writes with, and what it may do."""

    store: Store
    """The main thread's connection; every decision is committed through it."""
    scheme: LabelScheme
    """Labels, hotkeys, colours, relation constraints and keys."""
    dataset: str
    """The dataset shown."""
    annotator: str
    """Whose decisions are read and written (the reviewer's gold ones while reviewing)."""
    session: str
    """Session id stored with every decision of this run."""
    suggestions: SuggestionRequest | None = None
    """Asks for suggestions ahead of the cursor; None: no suggestions on the fly (review)."""
    navigation: Navigation = field(default_factory=Navigation)
    """What the editing screen may do when asked to move."""
    suggestion_rows: SuggestionRows | None = None
    """Which suggestion rows a sentence shows; None: every stored row (``Store.suggestions``)."""
    decided: DecisionHook | None = None
    """Told about every decision the screen commits (and undo's rows); None: nobody listens."""
    queue: QueueOrder | None = None
    """Which sentence comes after a decision; None: the next one in document order."""

    def rows_for(self, sentence_id: int) -> "list[Suggestion]":
        """The suggestion rows to show for a sentence (see ``suggestion_rows``)."""
        if self.suggestion_rows is not None:
            return self.suggestion_rows(sentence_id)
        return self.store.suggestions(sentence_id)

    @property
    def annotate_keys(self) -> dict[str, str]:
        """Annotate binding id -> keys as bound now (for the help screens and the palette)."""
        return bound_keys("keys", self.scheme.keys)

    @property
    def review_keys(self) -> dict[str, str]:
        """Review id -> keys as bound now (for the review help screen)."""
        return bound_keys("review_keys", self.scheme.review_keys)


def apply_keymap(app: App, scheme: LabelScheme) -> None:
    """Rebind both screens' actions as the scheme's ``keys`` and ``review_keys`` say."""
    overrides = binding_overrides({"keys": scheme.keys, "review_keys": scheme.review_keys})
    if overrides:  # an empty keymap spares Textual re-applying it on every key press
        app.set_keymap(overrides)
