"""Headless editor state for one sentence: cursor, selection, spans, relations and their rules.

The annotate screen only renders a :class:`SentenceEditor` and routes keys to its operations, so every
behaviour (snapping to tokens, replacing overlaps, cycling labels, relation constraints, asking before
a relation is lost, in-sentence undo) lives and is tested here. No Textual, no spaCy, no I/O.

Invariants kept after every operation (see ``tests/test_editing.py``):

* every span lies on the sentence's tokens (``span_problem`` is ``None``) and no two spans share
  their offsets; without ``allow_overlaps`` no two spans overlap;
* every relation names two existing, different spans (``relation_problem`` is ``None``);
* the cursor is on a token (or 0 for a sentence without tokens).

Operations return ``True`` when they changed something and leave a one-line ``message`` when they
refuse (or ask for confirmation); ``mode_hint`` says what the relation flow expects next.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .model import Decision, Relation, Span, Suggestion, Token, span_at_tokens, span_problem

if TYPE_CHECKING:  # pragma: no cover
    from .labels import LabelScheme, RelationLabel

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def superscript(number: int) -> str:
    """``12`` -> ``¹²``: the small span numbers shown in the sentence and the lists.

    >>> superscript(12)
    '¹²'
    """
    return str(number).translate(_SUPERSCRIPT)


class Mode(str, Enum):
    """What the editor expects: ordinary editing, or a step of making a relation."""

    NORMAL = "normal"
    PICK_CHILD = "pick_child"
    """A head span is chosen; the cursor is moved to the other span."""
    PICK_RELATION = "pick_relation"
    """Head and child are chosen; a relation label is picked by its hotkey."""


@dataclass(frozen=True, slots=True)
class EditSpan:
    """A span as shown: a suggestion (with its ``span.source``) or confirmed by the annotator."""

    span: Span
    suggested: bool = False

    @property
    def key(self) -> tuple[int, int]:
        return self.span.key

    @property
    def label(self) -> str:
        return self.span.label

    @property
    def token_start(self) -> int:
        return self.span.token_start

    @property
    def token_end(self) -> int:
        return self.span.token_end


@dataclass(frozen=True, slots=True)
class EditRelation:
    """A relation as shown: suggested by a relation rule, or made/confirmed by the annotator."""

    relation: Relation
    suggested: bool = False


Snapshot = tuple[tuple[EditSpan, ...], tuple[EditRelation, ...], "Relation | None"]


def _merge_suggestions(suggestions: Sequence[Suggestion]) -> tuple[list[EditSpan], list[EditRelation]]:
    """Spans and relations of several suggestion rows, the newest row first (it wins overlaps)."""
    spans = [EditSpan(span, True) for row in reversed(suggestions) for span in row.spans]
    relations = [EditRelation(rel, True) for row in reversed(suggestions) for rel in row.relations]
    return spans, relations


class SentenceEditor:
    """The editable state of one sentence (see the module docstring)."""

    def __init__(
        self,
        text: str,
        tokens: Sequence[Token],
        scheme: "LabelScheme",
        spans: Iterable[EditSpan] = (),
        relations: Iterable[EditRelation] = (),
        base_tokens: Sequence[Token] | None = None,
    ):
        self.text = text
        """The sentence text."""
        self.sentence_tokens: tuple[Token, ...] = tuple(tokens)
        """The sentence's own tokens (what :meth:`stored_tokens` compares with)."""
        self.base_tokens: tuple[Token, ...] = tuple(base_tokens) if base_tokens is not None else self.sentence_tokens
        """The tokens before any split: the sentence's, or those a stored decision was made on."""
        self.tokens: tuple[Token, ...] = self.base_tokens
        """The tokens shown: :attr:`base_tokens` split wherever a span starts or ends inside one
        ("U.S." of "U.S.-made"). Every span snaps to them."""
        self.scheme = scheme
        """The label scheme (entity order for cycling, relation constraints, overlaps)."""
        self.allow_overlaps: bool = bool(scheme.allow_overlaps)
        """Whether spans may share tokens."""
        self.cursor = 0
        """Token index under the cursor."""
        self.anchor: int | None = None
        """Other end of the selection (token index), or None when nothing is selected."""
        self.mode = Mode.NORMAL
        """Normal editing or a step of the relation flow."""
        self.pending_head: tuple[int, int] | None = None
        """Key of the head span while a relation is being made."""
        self.pending_child: tuple[int, int] | None = None
        """Key of the child span while the relation label is being picked."""
        self.relabel_target: Relation | None = None
        """The relation whose label is being changed (``PICK_RELATION`` from ``relabel_relation``)."""
        self.selected_relation: Relation | None = None
        """The relation selected with next/prev relation (for delete, reverse, relabel)."""
        self.number_buffer = ""
        """Digits typed so far to jump to a span by its number."""
        self.pending: str | None = None
        """A find waiting for its character: ``find_next``, ``find_prev``, ``extend_next`` or ``extend_prev``."""
        self.message = ""
        """One line for the status bar: why the last operation was refused, or what it did."""
        self.revision = 0
        """Incremented by every operation, so views can tell when to re-render."""
        self._armed: tuple | None = None
        self._history: list[Snapshot] = []
        self.spans: tuple[EditSpan, ...] = ()
        """Visible spans sorted by offsets; their 1-based index is the number shown."""
        self.relations: tuple[EditRelation, ...] = ()
        """Visible relations, sorted."""
        self.spans, self.relations, dropped = self._sanitize(spans, relations)
        self._retokenize()
        if dropped:
            self.message = f"{dropped} invalid or overlapping suggestion{'s' if dropped != 1 else ''} left out"

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_suggestions(
        cls, text: str, tokens: Sequence[Token], scheme: "LabelScheme", suggestions: Sequence[Suggestion]
    ) -> "SentenceEditor":
        """An editor showing the suggestions (all marked suggested)."""
        spans, relations = _merge_suggestions(suggestions)
        return cls(text, tokens, scheme, spans, relations)

    @classmethod
    def from_decision(cls, text: str, tokens: Sequence[Token], scheme: "LabelScheme", decision: Decision) -> "SentenceEditor":
        """An editor showing a stored decision (everything confirmed), on the decision's own tokens
        when it stored split ones."""
        return cls(
            text,
            tokens,
            scheme,
            [EditSpan(s, False) for s in decision.spans],
            [EditRelation(r, False) for r in decision.relations],
            base_tokens=getattr(decision, "tokens", None),
        )

    def _sanitize(
        self, spans: Iterable[EditSpan], relations: Iterable[EditRelation]
    ) -> tuple[tuple[EditSpan, ...], tuple[EditRelation, ...], int]:
        """Keep what is valid: on tokens, unique offsets, no overlaps unless allowed, no dangling relations."""
        kept: list[EditSpan] = []
        keys: set[tuple[int, int]] = set()
        dropped = 0
        # Confirmed spans first, then longer ones, keep the given order otherwise.
        ordered = sorted(enumerate(spans), key=lambda item: (item[1].suggested, -(item[1].span.end - item[1].span.start), item[0]))
        for _index, edit_span in ordered:
            span = edit_span.span
            if not self._fits(span.start, span.end) or span.key in keys:
                dropped += 1
                continue
            if not self.allow_overlaps and any(span.overlaps(other.span) for other in kept):
                dropped += 1
                continue
            kept.append(edit_span)
            keys.add(span.key)
        kept_relations: list[EditRelation] = []
        seen: set[Relation] = set()
        for edit_relation in relations:
            rel = edit_relation.relation
            if rel.head not in keys or rel.child not in keys or rel.head == rel.child or rel in seen:
                continue
            if self._is_duplicate(rel, [r.relation for r in kept_relations]):
                continue
            seen.add(rel)
            kept_relations.append(edit_relation)
        return (
            tuple(sorted(kept, key=lambda s: (s.span.start, s.span.end))),
            tuple(sorted(kept_relations, key=self._relation_order)),
            dropped,
        )

    def _fits(self, start: int, end: int) -> bool:
        """Whether ``start``-``end`` can be a span: inside the text, starting and ending within tokens
        (a token it starts or ends inside is split), not on whitespace."""
        if not (0 <= start < end <= len(self.text)) or not self.base_tokens:
            return False
        if self.text[start].isspace() or self.text[end - 1].isspace():
            return False
        return any(t.start <= start < t.end for t in self.base_tokens) and any(t.start < end <= t.end for t in self.base_tokens)

    def _retokenize(self) -> None:
        """Split :attr:`base_tokens` at every span boundary inside a token and put every span, the
        cursor and the anchor on the resulting tokens (by their character offsets)."""
        old = self.tokens
        cursor_at = old[self.cursor].start if old and 0 <= self.cursor < len(old) else 0
        anchor_at = old[self.anchor].start if old and self.anchor is not None and 0 <= self.anchor < len(old) else None
        cuts = {offset for s in self.spans for offset in (s.span.start, s.span.end)}
        tokens: list[Token] = []
        for token in self.base_tokens:
            inner = sorted(c for c in cuts if token.start < c < token.end)
            if not inner:
                tokens.append(token)
                continue
            bounds = [token.start, *inner, token.end]
            for a, b in zip(bounds, bounds[1:]):
                tokens.append(Token(a, b, token.ws if b == token.end else False))
        self.tokens = tuple(tokens)
        if self.tokens != old or any(span_problem(s.span, self.text, self.tokens) for s in self.spans):
            starts = {t.start: i for i, t in enumerate(self.tokens)}
            ends = {t.end: i for i, t in enumerate(self.tokens)}
            self.spans = tuple(
                EditSpan(replace(s.span, token_start=starts[s.span.start], token_end=ends[s.span.end]), s.suggested)
                for s in self.spans
            )
        self.cursor = self._token_at(cursor_at)
        self.anchor = None if anchor_at is None else self._token_at(anchor_at)

    def _token_at(self, offset: int) -> int:
        """The index of the token holding character ``offset`` (else the last one starting before it)."""
        index = 0
        for i, token in enumerate(self.tokens):
            if token.start <= offset:
                index = i
            else:
                break
        return index

    def stored_tokens(self) -> tuple[Token, ...] | None:
        """The tokens to store with a decision or draft: None when they are the sentence's own."""
        return None if self.tokens == self.sentence_tokens else self.tokens

    def _relation_order(self, edit_relation: EditRelation) -> tuple:
        rel = edit_relation.relation
        return (min(rel.head[0], rel.child[0]), rel.head, rel.child, rel.label)

    # -- reading -------------------------------------------------------------------------------

    @property
    def selection(self) -> tuple[int, int] | None:
        """The selected token range ``(first, last)``, or None."""
        if self.anchor is None:
            return None
        return (min(self.anchor, self.cursor), max(self.anchor, self.cursor))

    @property
    def target(self) -> tuple[int, int]:
        """The token range an entity label applies to: the selection, else the token under the cursor."""
        return self.selection or (self.cursor, self.cursor)

    @property
    def is_dirty(self) -> bool:
        """True when the annotator changed spans or relations since the editor was made."""
        return bool(self._history)

    def find_span(self, key: tuple[int, int] | None) -> EditSpan | None:
        if key is None:
            return None
        for edit_span in self.spans:
            if edit_span.key == key:
                return edit_span
        return None

    def span_number(self, key: tuple[int, int]) -> int:
        """1-based number of the span with ``key`` (0 when absent)."""
        for number, edit_span in enumerate(self.spans, start=1):
            if edit_span.key == key:
                return number
        return 0

    def spans_at_token(self, index: int) -> list[EditSpan]:
        """Spans covering token ``index``, innermost (shortest) first."""
        found = [s for s in self.spans if s.token_start <= index <= s.token_end]
        return sorted(found, key=lambda s: (s.token_end - s.token_start, s.token_start))

    def span_under_cursor(self) -> EditSpan | None:
        """The innermost span covering the cursor's token, or None."""
        found = self.spans_at_token(self.cursor)
        return found[0] if found else None

    def span_text(self, key: tuple[int, int]) -> str:
        return self.text[key[0] : key[1]]

    def describe_span(self, key: tuple[int, int]) -> str:
        """``Umerov [PERSON]``."""
        edit_span = self.find_span(key)
        label = edit_span.label if edit_span else "?"
        return f"{self.span_text(key)} [{label}]"

    def describe_relation(self, rel: Relation) -> str:
        """``Umerov [PERSON] ──SPEAKS_TO──▶ Alex Marquardt [PERSON]`` (``◀──…──▶`` when symmetric)."""
        label = self.scheme.relation(rel.label)
        left = "◀──" if label is not None and label.symmetric else "──"
        return f"{self.describe_span(rel.head)} {left}{rel.label}──▶ {self.describe_span(rel.child)}"

    def relations_of(self, key: tuple[int, int]) -> list[EditRelation]:
        return [r for r in self.relations if key in (r.relation.head, r.relation.child)]

    def allowed_relation_labels(self, head: tuple[int, int] | None = None, child: tuple[int, int] | None = None) -> list["RelationLabel"]:
        """Relation labels allowed between two spans (default: the pending head and child)."""
        head_span = self.find_span(head if head is not None else self.pending_head)
        child_span = self.find_span(child if child is not None else self.pending_child)
        if head_span is None or child_span is None:
            return []
        return [label for label in self.scheme.relations if label.allows(head_span.label, child_span.label)]

    @property
    def mode_hint(self) -> str:
        """What the relation flow expects next ("" in normal mode)."""
        if self.mode is Mode.PICK_CHILD and self.pending_head is not None:
            return (
                f"relation from {superscript(self.span_number(self.pending_head))}{self.describe_span(self.pending_head)}:"
                " move to the other span (tab, ←/→ or its number), enter to choose it, esc to cancel"
            )
        if self.mode is Mode.PICK_RELATION and self.pending_head is not None and self.pending_child is not None:
            labels = ", ".join(f"{label.hotkey} {label.name}" for label in self.allowed_relation_labels())
            verb = "new label" if self.relabel_target is not None else "relation"
            return (
                f"{self.describe_span(self.pending_head)} → {self.describe_span(self.pending_child)}:"
                f" press the {verb} key: {labels} (esc to cancel)"
            )
        return ""

    def to_decision(self) -> tuple[tuple[Span, ...], tuple[Relation, ...]]:
        """Everything shown, suggestions included ("accept as shown"), without suggestion sources."""
        spans = tuple(replace(s.span, source=None) for s in self.spans)
        relations = tuple(r.relation for r in self.relations)
        return spans, relations

    def snapshot(self) -> Snapshot:
        """The spans, relations and selected relation (for restoring a sentence later)."""
        return (self.spans, self.relations, self.selected_relation)

    # -- internals -----------------------------------------------------------------------------

    def _begin(self, keep_number: bool = False) -> tuple | None:
        """Start an operation: clear the message and any armed confirmation (returned)."""
        armed = self._armed
        self._armed = None
        self.message = ""
        self.revision += 1
        self.pending = None
        if not keep_number:
            self.number_buffer = ""
        return armed

    def opening_cursor(self) -> int:
        """Where the cursor opens on a sentence shown with its suggestions: the first span."""
        return self.spans[0].token_start if self.spans else 0

    def place_cursor(self, index: int) -> None:
        """Put the cursor on token ``index`` (clamped) without counting as an operation."""
        self.cursor = self._clamp(index)

    def _clamp(self, index: int) -> int:
        if not self.tokens:
            return 0
        return max(0, min(len(self.tokens) - 1, index))

    def _leave_relation_mode(self) -> None:
        self.mode = Mode.NORMAL
        self.pending_head = None
        self.pending_child = None
        self.relabel_target = None

    def _is_duplicate(self, rel: Relation, others: Iterable[Relation]) -> bool:
        """Whether ``others`` already hold this relation (either order for a symmetric label)."""
        label = self.scheme.relation(rel.label)
        symmetric = label is not None and label.symmetric
        for other in others:
            if other.label != rel.label:
                continue
            if (other.head, other.child) == (rel.head, rel.child):
                return True
            if symmetric and (other.head, other.child) == (rel.child, rel.head):
                return True
        return False

    def _relation_still_allowed(self, rel: Relation, labels: dict[tuple[int, int], str]) -> bool:
        """Whether ``rel`` is allowed when its spans carry ``labels`` (unknown relation labels are kept)."""
        relation_label = self.scheme.relation(rel.label)
        if relation_label is None:
            return True
        return relation_label.allows(labels[rel.head], labels[rel.child])

    def _commit(
        self,
        spans: Iterable[EditSpan],
        relations: Iterable[EditRelation],
        operation: tuple,
        armed: tuple | None,
        what: str,
        changed_labels: dict[tuple[int, int], str] | None = None,
        ask: bool = True,
    ) -> bool:
        """Apply a new state, or arm a confirmation when relations would be lost.

        Relations naming a span that is gone are always dropped; so are relations touching a
        relabelled span (``changed_labels``) whose label no longer allows the pair. When a relation
        the annotator made or confirmed would go (suggested ones go silently), the first call only
        sets ``message`` and arms ``operation``: the same operation again (with nothing in between)
        does it.
        """
        new_spans = tuple(sorted(spans, key=lambda s: (s.span.start, s.span.end)))
        labels = {s.key: s.label for s in new_spans}
        kept: list[EditRelation] = []
        for edit_relation in relations:
            rel = edit_relation.relation
            if rel.head not in labels or rel.child not in labels:
                continue
            if changed_labels and (rel.head in changed_labels or rel.child in changed_labels):
                if not self._relation_still_allowed(rel, labels):
                    continue
            kept.append(edit_relation)
        kept_relations = {r.relation for r in kept}
        dropped = [r for r in self.relations if r.relation not in kept_relations]
        confirmed_dropped = [r for r in dropped if not r.suggested]
        if confirmed_dropped and ask and armed != operation:
            self._armed = operation
            first = self.describe_relation(confirmed_dropped[0].relation)
            more = f" and {len(confirmed_dropped) - 1} more" if len(confirmed_dropped) > 1 else ""
            self.message = f"{what} removes the relation {first}{more}: press the same key again to do it, esc to keep it"
            return False
        self._history.append(self.snapshot())
        self.spans = new_spans
        self._retokenize()
        self.relations = tuple(sorted(kept, key=self._relation_order))
        if self.selected_relation is not None and self.selected_relation not in kept_relations:
            self.selected_relation = None
        if dropped and ask:
            self.message = f"{len(dropped)} relation{'s' if len(dropped) != 1 else ''} removed"
        return True

    def _relabel(self, edit_span: EditSpan, label: str, armed: tuple | None, operation: tuple) -> bool:
        new_span = EditSpan(replace(edit_span.span, label=label, source=None), False)
        spans = [new_span if s.key == edit_span.key else s for s in self.spans]
        what = f"labelling {self.span_text(edit_span.key)!r} {label}"
        if not self._commit(spans, self.relations, operation, armed, what, {edit_span.key: label}):
            return False
        self.message = (self.message + "; " if self.message else "") + f"{self.span_text(edit_span.key)!r} is {label}"
        return True

    # -- moving --------------------------------------------------------------------------------

    def _after_move(self) -> None:
        if self.mode is Mode.PICK_RELATION and self.relabel_target is None:
            self.mode = Mode.PICK_CHILD  # moving again means choosing another child
            self.pending_child = None
        elif self.mode is Mode.PICK_RELATION:
            self._leave_relation_mode()

    def move(self, delta: int) -> bool:
        """Move the cursor ``delta`` tokens and clear the selection."""
        self._begin()
        before = (self.cursor, self.anchor)
        self.anchor = None
        self.cursor = self._clamp(self.cursor + delta)
        self._after_move()
        return (self.cursor, self.anchor) != before

    def move_to(self, index: int) -> bool:
        """Put the cursor on token ``index`` (clamped) and clear the selection."""
        self._begin()
        before = (self.cursor, self.anchor)
        self.anchor = None
        self.cursor = self._clamp(index)
        self._after_move()
        return (self.cursor, self.anchor) != before

    def extend(self, delta: int) -> bool:
        """Grow or shrink the selection by moving the cursor ``delta`` tokens (the anchor stays)."""
        self._begin()
        if self.mode is not Mode.NORMAL:
            self._leave_relation_mode()
        if self.anchor is None:
            self.anchor = self.cursor
        before = self.cursor
        self.cursor = self._clamp(self.cursor + delta)
        return self.cursor != before

    def select(self, first: int, last: int) -> bool:
        """Select tokens ``first``..``last`` (either order; the cursor goes to ``last``), as a mouse drag does."""
        self._begin()
        if self.mode is not Mode.NORMAL:
            self._leave_relation_mode()
        first, last = self._clamp(first), self._clamp(last)
        self.anchor = first if first != last else None
        self.cursor = last
        return True

    # -- jumps: sentence ends, words, a typed character, gaps, capitalised runs ------------------

    def token_text(self, index: int) -> str:
        token = self.tokens[index]
        return self.text[token.start : token.end]

    def _is_word(self, index: int) -> bool:
        """A token that starts with a letter or digit (not punctuation)."""
        text = self.token_text(index)
        return bool(text) and text[0].isalnum()

    def _jump(self, index: int | None, extend: bool, what: str) -> bool:
        """Move the cursor to ``index`` (keeping the selection's anchor when ``extend``)."""
        if index is None:
            self.message = f"no {what}"
            return False
        if extend:
            if self.mode is not Mode.NORMAL:
                self._leave_relation_mode()
            if self.anchor is None:
                self.anchor = self.cursor
        else:
            self.anchor = None
        before = self.cursor
        self.cursor = self._clamp(index)
        if not extend:
            self._after_move()
        return self.cursor != before or extend

    def move_to_end(self, step: int = 1) -> bool:
        """Jump to the last (``step`` 1) or first (-1) token of the sentence."""
        self._begin()
        if not self.tokens:
            return False
        return self._jump(len(self.tokens) - 1 if step > 0 else 0, False, "token")

    def _next_word(self, step: int) -> int | None:
        indices = range(self.cursor + 1, len(self.tokens)) if step > 0 else range(self.cursor - 1, -1, -1)
        return next((i for i in indices if self._is_word(i)), None)

    def word(self, step: int = 1) -> bool:
        """Jump to the start of the next (``step`` 1) or previous (-1) word, over punctuation."""
        self._begin()
        return self._jump(self._next_word(step), False, "word " + ("after" if step > 0 else "before") + " the cursor")

    def extend_word(self, step: int = 1) -> bool:
        """Grow or shrink the selection to the next (``step`` 1) or previous (-1) word."""
        self._begin()
        return self._jump(self._next_word(step), True, "word " + ("after" if step > 0 else "before") + " the cursor")

    def begin_find(self, step: int = 1, extend: bool = False) -> bool:
        """Wait for a character: the next (``step`` 1) or previous (-1) token starting with it
        (see :meth:`find_char`); with ``extend`` the selection grows to it."""
        self._begin()
        if not self.tokens:
            self.message = "this sentence has no tokens"
            return False
        self.pending = ("extend" if extend else "find") + ("_next" if step > 0 else "_prev")
        return True

    def find_char(self, character: str) -> bool:
        """Finish a find: jump (or extend) to the nearest token in the pending direction that starts
        with ``character``, wrapping around the sentence. A lower-case character matches either case."""
        pending = self.pending
        self._begin()
        if pending is None:
            self.message = "press j (or J, k, K) first, then the character"
            return False
        step = 1 if pending.endswith("_next") else -1
        n = len(self.tokens)
        order = [(self.cursor + step * k) % n for k in range(1, n + 1)]

        def matches(i: int) -> bool:
            text = self.token_text(i)
            if character.islower():
                return text[:1].lower() == character
            return text[:1] == character

        found = next((i for i in order if matches(i)), None)
        return self._jump(found, pending.startswith("extend"), f"word starting with {character!r}")

    def next_gap(self, step: int = 1) -> bool:
        """Jump to the next (``step`` 1) or previous (-1) capitalised word or number outside every
        span: where a missed name usually is. Wraps around the sentence."""
        self._begin()
        n = len(self.tokens)
        if not n:
            return False
        covered = {i for s in self.spans for i in range(s.token_start, s.token_end + 1)}
        order = [(self.cursor + step * k) % n for k in range(1, n)]
        found = next(
            (i for i in order if i not in covered and self._is_word(i) and not self.token_text(i)[0].islower()), None
        )
        return self._jump(found, False, "capitalised word outside the spans")

    _RUN_JOINERS = frozenset({"'s", "’s", "of", "-", "&", "'", "’"})

    def _capitalised(self, index: int) -> bool:
        text = self.token_text(index)
        return bool(text) and (text[0].isupper() or text[0].isdigit())

    def _run_around(self, index: int) -> tuple[int, int]:
        """The run of capitalised words (and numbers) through token ``index``: joined by ``'s``,
        ``of``, ``&`` and hyphens between two of them, and by any glued hyphenated part (Jong-un)."""

        own = {i for s in self.spans_at_token(index) for i in range(s.token_start, s.token_end + 1)}
        others = {i for s in self.spans for i in range(s.token_start, s.token_end + 1)} - own

        def joined(i: int, j: int) -> bool:  # can the run go from token i to its neighbour j?
            if j in others:
                return False  # a run stops at another span
            lo, hi = min(i, j), max(i, j)
            glued = self.tokens[lo].end == self.tokens[hi].start
            if self._capitalised(j):
                return True
            return glued and self.token_text(lo) == "-"

        first = last = index
        while True:
            if last + 1 < len(self.tokens) and joined(last, last + 1):
                last += 1
            elif (
                last + 2 < len(self.tokens)
                and not {last + 1, last + 2} & others
                and self.token_text(last + 1) in self._RUN_JOINERS
                and self._capitalised(last + 2)
            ):
                last += 2
            else:
                break
        while True:
            if first - 1 >= 0 and first - 1 not in others and self._capitalised(first - 1):
                first -= 1
            elif first - 2 >= 0 and not {first - 1, first - 2} & others and self.token_text(first - 1) in self._RUN_JOINERS and self._capitalised(first - 2):
                first -= 2
            else:
                break
        return first, last

    def select_run(self) -> bool:
        """Select the run of capitalised words at the cursor ("Army Tactical Missile Systems",
        "Korean People's Army"); when the cursor is not on one, or the run is already selected,
        the next run after the cursor (wrapping around; the sentence's first word alone does not
        count, its capital says nothing)."""
        self._begin()
        if self.mode is not Mode.NORMAL:
            self._leave_relation_mode()
        n = len(self.tokens)
        if not n:
            return False
        if self._capitalised(self.cursor):
            run = self._run_around(self.cursor)
            if self.selection != run:
                self.anchor, self.cursor = (run[0], run[1]) if run[0] != run[1] else (run[0], run[0])
                return True
            after = run[1]
        else:
            after = self.cursor
        order = [(after + k) % n for k in range(1, n + 1)]
        first_word = next((i for i in range(n) if self._is_word(i)), None)

        def starts_run(i: int) -> bool:
            # The sentence's first word is capitalised anyway: alone it is not worth selecting.
            return self._capitalised(i) and (i != first_word or self._run_around(i) != (i, i))

        start = next((i for i in order if starts_run(i)), None)
        if start is None:
            self.message = "no capitalised word in this sentence"
            return False
        run = self._run_around(start)
        self.anchor, self.cursor = run[0], run[1]
        return True

    # -- span boundaries -------------------------------------------------------------------------

    def _pieces(self) -> tuple[list[int], list[int]]:
        """Where a piece may start and end: every token boundary, and inside a token every change
        between a run of letters/digits and another character ("U.S.-made": U . S . - made); an
        apostrophe belongs to the letters after it ("Korea's": Korea 's)."""
        starts: set[int] = set()
        ends: set[int] = set()
        for token in self.base_tokens:
            starts.add(token.start)
            ends.add(token.end)
            for offset in range(token.start + 1, token.end):
                before, here = self.text[offset - 1], self.text[offset]
                if before.isalnum() and here.isalnum():
                    continue
                if before in "'’" and here.isalnum():
                    continue  # an apostrophe and the letters after it are one piece ('s, n't)
                starts.add(offset)
                ends.add(offset)
        return sorted(starts), sorted(ends)

    def move_boundary(self, edge: str, step: int) -> bool:
        """Move the ``start`` or ``end`` of the span under the cursor one piece left (``step`` -1) or
        right (1): by whole words between tokens, by character runs inside a token, whose token is
        then split ("U.S." from "U.S.-made", "Russian" from "pro-Russian"). The span is confirmed and
        its relations follow it; a move onto another span is refused."""
        begun = self._begin_on_span_under_cursor()
        if begun is None:
            return False
        armed, edit_span = begun
        span = edit_span.span
        starts, ends = self._pieces()
        start, end = span.start, span.end
        if edge == "start":
            candidates = [p for p in starts if (p < start if step < 0 else start < p < end)]
            if not candidates:
                self.message = "the span cannot start " + ("earlier" if step < 0 else "later")
                return False
            start = max(candidates) if step < 0 else min(candidates)
        else:
            candidates = [p for p in ends if (start < p < end if step < 0 else p > end)]
            if not candidates:
                self.message = "the span cannot end " + ("earlier" if step < 0 else "later")
                return False
            end = max(candidates) if step < 0 else min(candidates)
        return self._reshape(edit_span, [(start, end)], armed, ("boundary", span.key, edge, step))

    def set_boundary(self, offset: int) -> bool:
        """Move a boundary of the span under the cursor to character ``offset`` (a ctrl+click): before
        the span its start goes there, after it its end goes after it; inside it, that character and
        everything on its nearer side are cut off ("U.S.-made" clicked on "-": "U.S."). The token
        holding the new boundary is split."""
        begun = self._begin_on_span_under_cursor()
        if begun is None:
            return False
        armed, edit_span = begun
        if not 0 <= offset < len(self.text):
            self.message = "that is outside the sentence"
            return False
        span = edit_span.span
        start, end = span.start, span.end
        if offset < start:
            start = offset
        elif offset >= end:
            end = offset + 1
        elif offset - start < end - 1 - offset:
            start = offset + 1 if offset + 1 < end else start
        else:
            end = offset if offset > start else end
        while start < end and self.text[start].isspace():
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        if (start, end) == span.key or not self._fits(start, end):
            self.message = "the span cannot have that boundary"
            return False
        return self._reshape(edit_span, [(start, end)], armed, ("set_boundary", span.key, offset))

    def split_span(self) -> bool:
        """Split the span under the cursor before the cursor's token; a lower-case word or
        punctuation there is left out ("North [and] South Korea" gives "North" and "South Korea").
        Both parts keep the label; relations of the span go (asked first when confirmed)."""
        begun = self._begin_on_span_under_cursor()
        if begun is None:
            return False
        armed, edit_span = begun
        at = self.cursor
        if at <= edit_span.token_start:
            self.message = "put the cursor where the second part starts (the first part ends before it)"
            return False
        second = at if self._capitalised(at) else at + 1
        parts = [(self.tokens[edit_span.token_start].start, self.tokens[at - 1].end)]
        if second <= edit_span.token_end:
            parts.append((self.tokens[second].start, self.tokens[edit_span.token_end].end))
        return self._reshape(edit_span, parts, armed, ("split", edit_span.key, at), follow=False)

    def _reshape(self, edit_span: EditSpan, parts: list[tuple[int, int]], armed: tuple | None, operation: tuple, follow: bool = True) -> bool:
        """Replace ``edit_span`` by confirmed spans at ``parts`` (same label). With ``follow`` (one
        part) its relations move to the new offsets; otherwise they go."""
        old = edit_span.span
        new_spans = [Span(a, b, old.label, 0, 0) for a, b in parts]
        others = [s for s in self.spans if s.key != old.key]
        for new in new_spans:
            clash = next((s for s in others if s.key == new.key or (not self.allow_overlaps and s.span.overlaps(new))), None)
            if clash is not None:
                self.message = f"{self.text[new.start:new.end]!r} would overlap {self.span_text(clash.key)!r}: not changed"
                return False
        relations = list(self.relations)
        if follow and len(new_spans) == 1:
            key = new_spans[0].key
            relations = [
                EditRelation(
                    Relation(key if r.relation.head == old.key else r.relation.head, key if r.relation.child == old.key else r.relation.child, r.relation.label),
                    r.suggested,
                )
                for r in relations
            ]
        cursor_at = self.tokens[self.cursor].start
        what = f"changing {self.span_text(old.key)!r}"
        # Relations that follow the span are not lost: nothing to ask.
        if not self._commit(others + [EditSpan(n, False) for n in new_spans], relations, operation, armed, what, ask=not follow):
            return False
        if self.selected_relation is not None and follow and len(new_spans) == 1:
            rel = self.selected_relation
            key = new_spans[0].key
            self.selected_relation = Relation(key if rel.head == old.key else rel.head, key if rel.child == old.key else rel.child, rel.label)
            if self.selected_relation not in {r.relation for r in self.relations}:
                self.selected_relation = None
        self.anchor = None
        first = new_spans[0]
        inside = first.start <= cursor_at < first.end
        self.cursor = self._token_at(cursor_at if inside else first.start)
        names = " and ".join(repr(self.text[n.start : n.end]) for n in new_spans)
        self.message = (self.message + "; " if self.message else "") + f"now {names} [{old.label}]"
        return True

    def next_span(self, step: int = 1) -> bool:
        """Jump to the next (``step`` 1) or previous (-1) span, wrapping around."""
        self._begin()
        if not self.spans:
            self.message = "no spans in this sentence"
            return False
        self.anchor = None
        current = self.span_under_cursor()
        here = (current.token_start, current.token_end) if current else (self.cursor, self.cursor - 1 if step > 0 else self.cursor + 1)
        ordered = sorted(self.spans, key=lambda s: (s.token_start, s.token_end))
        if step > 0:
            later = [s for s in ordered if (s.token_start, s.token_end) > here]
            chosen = later[0] if later else ordered[0]
        else:
            earlier = [s for s in ordered if (s.token_start, s.token_end) < here]
            chosen = earlier[-1] if earlier else ordered[-1]
        self.cursor = chosen.token_start
        self._after_move()
        return True

    def type_digit(self, digit: str) -> bool:
        """Jump to a span by its number; in relation mode a complete number also chooses the child.

        Numbers of more than one digit are typed digit by digit: the cursor follows the number so far
        and waits while a longer number is still possible.
        """
        buffer = self.number_buffer + digit
        self._begin(keep_number=True)
        if not digit.isdigit():
            self.number_buffer = ""
            return False
        number = int(buffer)
        if number < 1 or number > len(self.spans):
            self.number_buffer = ""
            self.message = f"no span {buffer}" + (f" (spans 1-{len(self.spans)})" if self.spans else "")
            return False
        if self.mode is Mode.PICK_RELATION and self.relabel_target is None:
            self.mode = Mode.PICK_CHILD
            self.pending_child = None
        elif self.mode is Mode.PICK_RELATION:
            self.number_buffer = ""
            return False
        self.anchor = None
        self.cursor = self.spans[number - 1].token_start
        if number * 10 > len(self.spans):
            self.number_buffer = ""
            if self.mode is Mode.PICK_CHILD:
                return self._choose_child()
        else:
            self.number_buffer = buffer
        return True

    # -- entity spans ----------------------------------------------------------------------------

    def apply_label(self, label: str) -> bool:
        """Label the selection, or the span the cursor is in, or the cursor's token.

        A span with exactly that range is relabelled (and confirmed); otherwise a confirmed span is
        added that replaces the spans it overlaps (unless the scheme allows overlaps).
        """
        armed = self._begin()
        self._leave_relation_mode()
        if self.scheme.entity(label) is None:
            self.message = f"unknown entity label {label!r}"
            return False
        if not self.tokens:
            self.message = "this sentence has no tokens"
            return False
        first, last = self.target
        if self.selection is None and self.span_under_cursor() is not None:
            # No selection: the key relabels the span the cursor is in (select to make a new one).
            under = self.span_under_cursor()
            first, last = under.token_start, under.token_end
        exact = next((s for s in self.spans if (s.token_start, s.token_end) == (first, last)), None)
        operation = ("label", first, last, label)
        if exact is not None:
            if exact.label == label and not exact.suggested:
                self.anchor = None
                self.message = f"{self.span_text(exact.key)!r} is already {label}"
                return False
            if self._relabel(exact, label, armed, operation):
                self.anchor = None
                return True
            return False
        new_span = span_at_tokens(self.text, self.tokens, first, last, label)
        removed = [] if self.allow_overlaps else [s for s in self.spans if s.span.overlaps(new_span)]
        spans = [s for s in self.spans if s not in removed] + [EditSpan(new_span, False)]
        what = f"labelling {self.span_text(new_span.key)!r} {label}"
        if not self._commit(spans, self.relations, operation, armed, what):
            return False
        self.anchor = None
        note = f" (replaces {', '.join(repr(self.span_text(s.key)) for s in removed)})" if removed else ""
        self.message = (self.message + "; " if self.message else "") + f"{self.span_text(new_span.key)!r} is {label}{note}"
        return True

    def delete_span(self) -> bool:
        """Delete the span under the cursor (or every span touching the selection), and its relations."""
        armed = self._begin()
        self._leave_relation_mode()
        selection = self.selection
        if selection is not None:
            targets = [s for s in self.spans if s.token_start <= selection[1] and selection[0] <= s.token_end]
        else:
            under = self.span_under_cursor()
            targets = [under] if under else []
        if not targets:
            self.message = "no span under the cursor"
            return False
        keys = tuple(s.key for s in targets)
        spans = [s for s in self.spans if s.key not in keys]
        names = ", ".join(repr(self.span_text(k)) for k in keys)
        if not self._commit(spans, self.relations, ("delete", keys), armed, f"deleting {names}"):
            return False
        self.anchor = None
        self.message = (self.message + "; " if self.message else "") + f"deleted {names}"
        return True

    def confirm_or_cycle(self) -> bool:
        """Confirm the suggestion under the cursor; on a confirmed span, change to the next entity label."""
        begun = self._begin_on_span_under_cursor()
        if begun is None:
            return False
        armed, edit_span = begun
        if edit_span.suggested:
            confirmed = EditSpan(replace(edit_span.span, source=None), False)
            spans = [confirmed if s.key == edit_span.key else s for s in self.spans]
            self._commit(spans, self.relations, ("confirm", edit_span.key), armed, "confirming")
            self.message = f"confirmed {self.span_text(edit_span.key)!r} as {edit_span.label}"
            return True
        names = list(self.scheme.entity_names)
        if not names:
            self.message = "the label scheme has no entity labels"
            return False
        index = names.index(edit_span.label) + 1 if edit_span.label in names else 0
        label = names[index % len(names)]
        if label == edit_span.label:
            self.message = f"{edit_span.label} is the only label"
            return False
        return self._relabel(edit_span, label, armed, ("cycle", edit_span.key, label))

    # -- relations -----------------------------------------------------------------------------

    def start_relation(self) -> bool:
        """Make the span under the cursor the head of a new relation (in relation mode: choose the child)."""
        if self.mode is Mode.PICK_CHILD:
            return self.choose_child()
        self._begin()
        self._leave_relation_mode()
        if not self.scheme.relations:
            self.message = "the label scheme has no relation labels"
            return False
        head = self.span_under_cursor()
        if head is None:
            self.message = "put the cursor on a span first: a relation starts at its head span"
            return False
        self.anchor = None
        self.mode = Mode.PICK_CHILD
        self.pending_head = head.key
        return True

    def choose_child(self) -> bool:
        """Take the span under the cursor as the child of the pending relation."""
        self._begin()
        return self._choose_child()

    def _choose_child(self) -> bool:
        if self.mode is not Mode.PICK_CHILD or self.pending_head is None:
            self.message = "press r on a span to start a relation"
            return False
        child = self.span_under_cursor()
        if child is None:
            self.message = "no span under the cursor: move to the other span of the relation"
            return False
        if child.key == self.pending_head:
            self.message = "that is the head span: move to the other span of the relation"
            return False
        head = self.find_span(self.pending_head)
        assert head is not None
        if not self.allowed_relation_labels(self.pending_head, child.key):
            self.message = f"no relation label allows {head.label} → {child.label}: choose another span (or esc)"
            return False
        self.pending_child = child.key
        self.mode = Mode.PICK_RELATION
        return True

    def pick_relation(self, name: str) -> bool:
        """Add (or, when relabelling, change to) the relation ``name`` between the pending spans."""
        armed = self._begin()
        del armed
        if self.mode is not Mode.PICK_RELATION or self.pending_head is None or self.pending_child is None:
            self.message = "choose the two spans first (r on the head span, then the child span)"
            return False
        label = self.scheme.relation(name)
        if label is None:
            self.message = f"unknown relation label {name!r}"
            return False
        head, child = self.find_span(self.pending_head), self.find_span(self.pending_child)
        assert head is not None and child is not None
        if not label.allows(head.label, child.label):
            self.message = (
                f"{name} does not allow {head.label} → {child.label}"
                f" (head: {', '.join(label.head)}; child: {', '.join(label.child)})"
            )
            return False
        new = Relation(head.key, child.key, name)
        target = self.relabel_target
        others = [r for r in self.relations if target is None or r.relation != target]
        duplicate = next((r for r in others if self._is_duplicate(new, [r.relation])), None)
        if duplicate is not None:
            if duplicate.suggested and target is None:
                relations = [EditRelation(r.relation, False) if r is duplicate else r for r in self.relations]
                self._commit(self.spans, relations, ("confirm_relation", new), None, "confirming", ask=False)
                self._leave_relation_mode()
                self.selected_relation = duplicate.relation
                self.message = f"confirmed {self.describe_relation(duplicate.relation)}"
                return True
            self.message = f"{self.describe_relation(duplicate.relation)} is already there"
            return False
        relations = [*others, EditRelation(new, False)]
        self._commit(self.spans, relations, ("relation", new), None, "adding", ask=False)
        self._leave_relation_mode()
        self.selected_relation = new
        self.message = f"{'relabelled' if target else 'added'} {self.describe_relation(new)}"
        return True

    def next_relation(self, step: int = 1) -> bool:
        """Select the next (``step`` 1) or previous (-1) relation, wrapping around."""
        self._begin()
        if not self.relations:
            self.message = "no relations in this sentence"
            return False
        ordered = [r.relation for r in self.relations]
        if self.selected_relation in ordered:
            index = (ordered.index(self.selected_relation) + step) % len(ordered)
        else:
            index = 0 if step > 0 else len(ordered) - 1
        self.selected_relation = ordered[index]
        return True

    def _begin_on_span_under_cursor(self) -> "tuple[Any, EditSpan] | None":
        """The start of every action on the span under the cursor: a new edit step (what it armed),
        relation mode left, and the span (None, with a message, when there is none)."""
        armed = self._begin()
        self._leave_relation_mode()
        edit_span = self.span_under_cursor()
        if edit_span is None:
            self.message = "no span under the cursor"
            return None
        return armed, edit_span

    def _begin_on_selected_relation(self) -> "EditRelation | None":
        """The start of every action on the selected relation: a new edit step, relation mode left,
        and the selected relation (None, with a message, when there is none)."""
        self._begin()
        self._leave_relation_mode()
        return self._selected()

    def _selected(self) -> EditRelation | None:
        for edit_relation in self.relations:
            if edit_relation.relation == self.selected_relation:
                return edit_relation
        self.message = "select a relation first (. and , step through them)"
        return None

    def delete_relation(self) -> bool:
        """Delete the selected relation."""
        selected = self._begin_on_selected_relation()
        if selected is None:
            return False
        description = self.describe_relation(selected.relation)
        relations = [r for r in self.relations if r is not selected]
        self._commit(self.spans, relations, ("delete_relation", selected.relation), None, "", ask=False)
        self.message = f"deleted {description}"
        return True

    def reverse_relation(self) -> bool:
        """Swap head and child of the selected relation (refused when the label does not allow it)."""
        selected = self._begin_on_selected_relation()
        if selected is None:
            return False
        rel = selected.relation
        reversed_rel = rel.reversed()
        head, child = self.find_span(reversed_rel.head), self.find_span(reversed_rel.child)
        assert head is not None and child is not None
        label = self.scheme.relation(rel.label)
        if label is not None and not label.allows(head.label, child.label):
            self.message = f"{rel.label} does not allow {head.label} → {child.label}: not reversed"
            return False
        others = [r for r in self.relations if r is not selected]
        if any(r.relation == reversed_rel for r in others):
            self.message = f"{self.describe_relation(reversed_rel)} is already there"
            return False
        self._commit(self.spans, [*others, EditRelation(reversed_rel, False)], ("reverse", rel), None, "reversing", ask=False)
        self.selected_relation = reversed_rel
        self.message = f"reversed: {self.describe_relation(reversed_rel)}"
        return True

    def relabel_relation(self) -> bool:
        """Start picking a new label for the selected relation."""
        selected = self._begin_on_selected_relation()
        if selected is None:
            return False
        rel = selected.relation
        self.mode = Mode.PICK_RELATION
        self.pending_head, self.pending_child = rel.head, rel.child
        self.relabel_target = rel
        return True

    # -- drafts --------------------------------------------------------------------------------

    def apply_draft(self, spans: Iterable[Span], relations: Iterable[Relation]) -> bool:
        """Show a kept draft (unsaved spans and relations) over the current state, as one edit.

        ``undo_edit`` then goes back to what the editor showed before (the suggestions or the saved
        decision). A draft span or relation identical to one already shown keeps its state
        (suggested or confirmed); the others are confirmed. Invalid parts are left out (``message``).
        """
        self._begin()
        shown_spans = {s.key: s for s in self.spans}
        shown_relations = {r.relation: r for r in self.relations}
        new_spans: list[EditSpan] = []
        for span in spans:
            shown = shown_spans.get(span.key)
            if shown is not None and shown.label == span.label:
                new_spans.append(shown)
            else:
                new_spans.append(EditSpan(replace(span, source=None), False))
        new_relations = [shown_relations.get(rel, EditRelation(rel, False)) for rel in relations]
        kept_spans, kept_relations, dropped = self._sanitize(new_spans, new_relations)
        if dropped:
            self.message = f"{dropped} span{'s' if dropped != 1 else ''} of the draft left out (no longer valid)"
        if (kept_spans, kept_relations) == (self.spans, self.relations):
            return False
        self._leave_relation_mode()
        self._history.append(self.snapshot())
        self.spans, self.relations = kept_spans, kept_relations
        self._retokenize()
        self.selected_relation = None
        self.anchor = None
        return True

    # -- undo and cancel -----------------------------------------------------------------------

    def cancel(self) -> bool:
        """Esc: keep what a pending confirmation would remove, leave relation mode, clear the selection
        or cancel a find waiting for its character."""
        pending = self.pending
        armed = self._begin()
        if armed is not None:
            self.message = "kept"
            return True
        if self.mode is not Mode.NORMAL:
            self._leave_relation_mode()
            self.message = "relation cancelled"
            return True
        if self.anchor is not None:
            self.anchor = None
            return True
        if pending is not None:
            self.message = "find cancelled"
            return True
        if self.selected_relation is not None:
            self.selected_relation = None
            return True
        return False

    def undo_edit(self) -> bool:
        """Undo the last change of spans or relations in this sentence."""
        self._begin()
        self._leave_relation_mode()
        if not self._history:
            self.message = "no edit to undo in this sentence"
            return False
        self.spans, self.relations, self.selected_relation = self._history.pop()
        self.anchor = None
        self._retokenize()
        self.cursor = self._clamp(self.cursor)
        self.message = "undid the last edit"
        return True
