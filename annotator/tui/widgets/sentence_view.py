"""The sentence being annotated, with its context, as one Line-API widget.

No widget per token or span: :func:`layout_sentence` turns a :class:`SentenceEditor` into rows of
segments (wrapped to the width, relation arcs drawn above a row when both ends sit on it) and
:class:`SentenceView` keeps the rows as cached ``Strip`` objects, so ``render_line`` is a list
lookup and a crop. A key press re-lays out only the current sentence (a few dozen tokens); the
dimmed context is laid out again only when the width or the context changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...editing import EditRelation, EditSpan, Mode, SentenceEditor, superscript
from .line_list import refresh_rows

UNKNOWN_COLOR = "#a8a8a8"
"""Colour of a label that is not in the scheme."""
MAX_ARC_LEVELS = 4
"""At most this many rows of arcs above a line; further relations are only listed."""

SELECTION_STYLE = Style(bgcolor="#3f4a7a", bold=True)
CURSOR_STYLE = Style(reverse=True)
PENDING_STYLE = Style(bold=True, reverse=True, underline=True)
SELECTED_RELATION_STYLE = Style(bold=True, underline=True)
CONTEXT_STYLE = Style(color="#7a7a7a")
CONTEXT_NOTE_STYLE = Style(color="#5f5f5f", italic=True)
GUTTER = "▎ "
"""Marks the rows of the current sentence (context rows get blanks of the same width)."""
GUTTER_STYLE = Style(color="#5f87ff")


@dataclass
class Piece:
    """A run of text on a row, with what a click on it means (``("token", i)`` or ``("tag", key)``)."""

    text: str
    style: Style
    target: tuple | None = None


@dataclass
class SentenceLayout:
    """The current sentence as rows of pieces, plus where each token ended up."""

    rows: list[list[Piece]] = field(default_factory=list)
    """Rows top to bottom: arc rows and text rows."""
    token_rows: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    """Token index -> (row, first column, end column)."""
    drawn_relations: int = 0
    """How many relations got an arc."""


def entity_color(scheme, label: str) -> str:
    """The colour of an entity label (grey for a label the scheme does not know)."""
    entity = scheme.entity(label)
    return entity.color if entity is not None else UNKNOWN_COLOR


def relation_color(scheme, label: str) -> str:
    """The colour of a relation label (grey for a label the scheme does not know)."""
    relation = scheme.relation(label)
    return relation.color if relation is not None else UNKNOWN_COLOR


def span_style(scheme, edit_span: EditSpan) -> Style:
    """Confirmed: the label colour as background. Suggested: underlined text in the label colour."""
    color = entity_color(scheme, edit_span.label)
    if edit_span.suggested:
        return Style(color=color, underline=True)
    return Style(color="#111111", bgcolor=color)


def tag_style(scheme, edit_span: EditSpan) -> Style:
    color = entity_color(scheme, edit_span.label)
    if edit_span.suggested:
        return Style(color=color, italic=True, dim=True)
    return Style(color=color, bold=True)


def tag_text(number: int, edit_span: EditSpan) -> str:
    """``²PERSON`` for a confirmed span, ``²PERSON?`` for a suggestion."""
    return f"{superscript(number)}{edit_span.label}{'?' if edit_span.suggested else ''}"


def _clean(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def _split_cells(text: str, width: int) -> list[str]:
    """Cut ``text`` into parts of at most ``width`` cells (for words longer than a line)."""
    parts: list[str] = []
    current = ""
    for char in text:
        if current and cell_len(current + char) > width:
            parts.append(current)
            current = ""
        current += char
    if current:
        parts.append(current)
    return parts or [""]


def wrap_words(text: str, width: int) -> list[str]:
    """Plain word wrap for the context sentences."""
    width = max(1, width)
    lines: list[str] = []
    current = ""
    for word in _clean(text).split():
        candidate = f"{current} {word}" if current else word
        if cell_len(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if cell_len(word) > width:
            *full, current = _split_cells(word, width)
            lines.extend(full)
        else:
            current = word
    if current or not lines:
        lines.append(current)
    return lines


def layout_sentence(editor: SentenceEditor, width: int, *, cursor: bool = True) -> SentenceLayout:
    """Wrap the sentence to ``width`` cells with styled spans, tags and relation arcs (``cursor``:
    the cursor's token in the cursor style; without it, :func:`place_cursor` adds it)."""
    width = max(8, width)
    scheme = editor.scheme
    tokens = editor.tokens
    text = editor.text
    numbers = {s.key: n for n, s in enumerate(editor.spans, start=1)}
    innermost: dict[int, EditSpan] = {}
    for edit_span in sorted(editor.spans, key=lambda s: -(s.token_end - s.token_start)):
        for i in range(edit_span.token_start, edit_span.token_end + 1):
            innermost[i] = edit_span  # shorter spans overwrite longer ones
    ending: dict[int, list[EditSpan]] = {}
    for edit_span in sorted(editor.spans, key=lambda s: s.token_end - s.token_start):
        ending.setdefault(edit_span.token_end, []).append(edit_span)
    selection = editor.selection
    highlighted: set[tuple[int, int]] = set()
    if editor.mode is not Mode.NORMAL:
        highlighted = {k for k in (editor.pending_head, editor.pending_child) if k is not None}
    selected_keys: set[tuple[int, int]] = set()
    if editor.selected_relation is not None and editor.mode is Mode.NORMAL:
        selected_keys = {editor.selected_relation.head, editor.selected_relation.child}

    def token_style(i: int) -> Style:
        style = Style()
        edit_span = innermost.get(i)
        if edit_span is not None:
            style += span_style(scheme, edit_span)
            if edit_span.key in highlighted:
                style += PENDING_STYLE
            elif edit_span.key in selected_keys:
                style += SELECTED_RELATION_STYLE
        if selection is not None and selection[0] <= i <= selection[1]:
            style += SELECTION_STYLE
        if cursor and i == editor.cursor:
            style += CURSOR_STYLE
        return style

    def gap_style(i: int) -> Style:
        """Style of the space before token ``i``: continues a span or selection that covers both sides."""
        style = Style()
        left, right = innermost.get(i - 1), innermost.get(i)
        if left is not None and right is not None and left.key == right.key:
            style += span_style(scheme, left)
            if left.key in highlighted:
                style += PENDING_STYLE
        if selection is not None and selection[0] <= i - 1 and i <= selection[1]:
            style += SELECTION_STYLE
        return style

    # Units: (pieces, gap before) - a token with the tags of the spans ending on it.
    rows: list[list[Piece]] = [[]]
    token_rows: dict[int, tuple[int, int, int]] = {}
    x = 0
    words = [_clean(text[t.start : t.end]) or " " for t in tokens]
    gaps = ["" if i == 0 or tokens[i - 1].end == t.start else " " for i, t in enumerate(tokens)]
    unit_widths = [
        cell_len(words[i]) + sum(cell_len(tag_text(numbers[s.key], s)) for s in ending.get(i, [])) for i in range(len(tokens))
    ]
    # A group is a token with a space before it plus the tokens glued to it ("Marquardt" + ","):
    # lines break only between groups (unless a group is wider than a line).
    group_widths: dict[int, int] = {}
    start = 0
    for i in range(len(tokens) + 1):
        if i == len(tokens) or (i > 0 and gaps[i]):
            group_widths[start] = sum(unit_widths[start:i])
            start = i
    for i, token in enumerate(tokens):
        word = words[i]
        gap = gaps[i]
        tags = [Piece(tag_text(numbers[s.key], s), tag_style(scheme, s), ("tag", s.key)) for s in ending.get(i, [])]
        unit_width = group_widths.get(i, unit_widths[i]) if (gap or i == 0) else unit_widths[i]
        if x > 0 and (gap or x + unit_width > width) and x + cell_len(gap) + unit_width > width:
            rows.append([])
            x = 0
            gap = ""
        if gap:
            rows[-1].append(Piece(gap, gap_style(i)))
            x += cell_len(gap)
        style = token_style(i)
        parts = [word] if cell_len(word) <= width - x or x == 0 and cell_len(word) <= width else None
        if parts is None:
            if x > 0:
                rows.append([])
                x = 0
            parts = _split_cells(word, width)
        first_row, first_x = len(rows) - 1, x
        for n, part in enumerate(parts):
            if n > 0:
                rows.append([])
                x = 0
            rows[-1].append(Piece(part, style, ("token", i)))
            x += cell_len(part)
        token_rows[i] = (first_row, first_x, first_x + cell_len(parts[0]) if len(parts) == 1 else width)
        for tag in tags:
            if x > 0 and x + cell_len(tag.text) > width:
                rows.append([])
                x = 0
            rows[-1].append(tag)
            x += cell_len(tag.text)
    layout = SentenceLayout(rows=[], token_rows={})
    arcs_by_row = _arcs(editor, token_rows, width)
    # Insert arc rows above each text row; renumber token rows.
    out_rows: list[list[Piece]] = []
    row_map: dict[int, int] = {}
    for r, row in enumerate(rows):
        arc_rows = arcs_by_row.get(r)
        if arc_rows:
            out_rows.extend(arc_rows[0])
            layout.drawn_relations += arc_rows[1]
        row_map[r] = len(out_rows)
        out_rows.append(row)
    layout.rows = out_rows
    layout.token_rows = {i: (row_map[r], x0, x1) for i, (r, x0, x1) in token_rows.items()}
    return layout


def place_cursor(layout: SentenceLayout, cursor: int) -> SentenceLayout:
    """``layout`` (laid out without a cursor) with the pieces of token ``cursor`` in the cursor
    style: the rows :func:`layout_sentence` gives with the cursor there (nothing else in a layout
    depends on the cursor), the rows without it shared. A cursor move is this, not a new layout."""
    if cursor not in layout.token_rows:
        return layout
    target = ("token", cursor)
    rows = list(layout.rows)
    for r in range(layout.token_rows[cursor][0], len(rows)):  # a token wider than a line goes on
        row = rows[r]
        if any(piece.target == target for piece in row):
            rows[r] = [Piece(p.text, p.style + CURSOR_STYLE, p.target) if p.target == target else p for p in row]
    return SentenceLayout(rows, layout.token_rows, layout.drawn_relations)


def _arcs(editor: SentenceEditor, token_rows: dict[int, tuple[int, int, int]], width: int) -> dict[int, tuple[list[list[Piece]], int]]:
    """Arc rows for each text row: relations whose two spans start on that row, without crossings of levels."""
    scheme = editor.scheme
    by_row: dict[int, list] = {}
    # Anchor columns: spread the relations of a span over its first token's width.
    attached: dict[tuple[int, int], list] = {}
    for edit_relation in editor.relations:
        rel = edit_relation.relation
        head, child = editor.find_span(rel.head), editor.find_span(rel.child)
        if head is None or child is None:
            continue
        head_row = token_rows.get(head.token_start)
        child_row = token_rows.get(child.token_start)
        if head_row is None or child_row is None or head_row[0] != child_row[0]:
            continue
        attached.setdefault(rel.head, []).append(edit_relation)
        attached.setdefault(rel.child, []).append(edit_relation)
    anchor: dict[tuple[tuple[int, int], object], int] = {}
    for key, relations in attached.items():
        edit_span = editor.find_span(key)
        assert edit_span is not None
        _row, x0, x1 = token_rows[edit_span.token_start]
        last = token_rows.get(edit_span.token_end)
        if last is not None and last[0] == _row:
            x1 = last[2]
        span_width = max(1, x1 - x0)

        def other_x(edit_relation: EditRelation) -> int:
            rel = edit_relation.relation
            other = editor.find_span(rel.child if rel.head == key else rel.head)
            return token_rows[other.token_start][1]

        # Arcs to the left take the left columns, the shortest outermost-left; arcs to the right take
        # the right columns, the shortest outermost-right: nested arcs then do not cross.
        leftwards = sorted((r for r in relations if other_x(r) < x0), key=lambda r: x0 - other_x(r))
        rightwards = sorted((r for r in relations if other_x(r) >= x0), key=lambda r: -(other_x(r) - x0))
        for n, edit_relation in enumerate(leftwards + rightwards):
            anchor[(key, edit_relation)] = x0 + min(n, span_width - 1)
    for edit_relation in editor.relations:
        rel = edit_relation.relation
        if (rel.head, edit_relation) not in anchor:
            continue
        head = editor.find_span(rel.head)
        row = token_rows[head.token_start][0]
        by_row.setdefault(row, []).append(
            (anchor[(rel.head, edit_relation)], anchor[(rel.child, edit_relation)], edit_relation)
        )
    result: dict[int, tuple[list[list[Piece]], int]] = {}
    for row, arcs in by_row.items():
        arcs.sort(key=lambda a: abs(a[1] - a[0]))
        anchors = {x for head_x, child_x, _ in arcs for x in (head_x, child_x)}
        levels: list[list[tuple[int, int]]] = []
        placed: list[tuple[int, int, int, object, int | None]] = []
        for head_x, child_x, edit_relation in arcs:
            rel = edit_relation.relation
            label = rel.label if not edit_relation.suggested else f"{rel.label}?"
            lo, hi = min(head_x, child_x), max(head_x, child_x)
            label_x, extent = _place_label(lo, hi, cell_len(label), width, anchors)
            for level, used in enumerate(levels):
                if all(extent[1] < a - 1 or extent[0] > b + 1 for a, b in used):
                    used.append(extent)
                    placed.append((level, head_x, child_x, edit_relation, label_x))
                    break
            else:
                if len(levels) < MAX_ARC_LEVELS:
                    levels.append([extent])
                    placed.append((len(levels) - 1, head_x, child_x, edit_relation, label_x))
        if not placed:
            continue
        height = len(levels)
        chars = [[" "] * width for _ in range(height)]
        styles: list[list[Style | None]] = [[None] * width for _ in range(height)]
        selected = editor.selected_relation
        # Horizontal parts first (row index: 0 is the top row = highest level).
        for level, head_x, child_x, edit_relation, label_x in placed:
            rel = edit_relation.relation
            r = height - 1 - level
            lo, hi = min(head_x, child_x), max(head_x, child_x)
            style = Style(color=relation_color(scheme, rel.label), dim=edit_relation.suggested)
            if rel == selected:
                style += Style(bold=True, reverse=True, dim=False)
            for x in range(lo, hi + 1):
                if x >= width:
                    break
                chars[r][x] = "┼" if chars[r][x] == "│" else "─"
                styles[r][x] = style
            if lo < width:
                chars[r][lo] = "╭"
            if hi < width:
                chars[r][hi] = "╮"
            label = rel.label if not edit_relation.suggested else f"{rel.label}?"
            if label_x is not None:
                for k, char in enumerate(label):
                    if 0 <= label_x + k < width:
                        chars[r][label_x + k] = char
                        styles[r][label_x + k] = style
            # Legs down to the text row; the child's leg ends in an arrow head.
            symmetric = scheme.relation(rel.label) is not None and scheme.relation(rel.label).symmetric
            for x, is_child in ((head_x, False), (child_x, True)):
                if x >= width:
                    continue
                for below in range(r + 1, height):
                    if chars[below][x] not in " ─│":
                        continue  # never cut through a label or a corner
                    chars[below][x] = "┼" if chars[below][x] == "─" else "│"
                    styles[below][x] = style
                if (is_child or symmetric) and chars[height - 1][x] in " ─│┼╭╮▼":
                    bottom = height - 1
                    chars[bottom][x] = "▼"
                    styles[bottom][x] = style
        pieces_rows: list[list[Piece]] = []
        for r in range(height):
            pieces: list[Piece] = []
            for x in range(width):
                style = styles[r][x] or Style()
                if pieces and pieces[-1].style == style:
                    pieces[-1].text += chars[r][x]
                else:
                    pieces.append(Piece(chars[r][x], style))
            while pieces and not pieces[-1].text.strip():
                pieces.pop()
            pieces_rows.append(pieces)
        result[row] = (pieces_rows, len(placed))
    return result


def _place_label(lo: int, hi: int, size: int, width: int, anchors: set[int]) -> tuple[int | None, tuple[int, int]]:
    """Column of an arc's label and the arc's extent: inside the arc (centred as far as the legs
    of other arcs allow), else right of it, else left of it; ``None`` when it fits nowhere."""

    def free(start: int) -> bool:
        return 0 <= start and start + size <= width and not any(start <= x < start + size for x in anchors)

    room = hi - lo - 1
    if room >= size + 2:
        centre = lo + 1 + (room - size) // 2
        for shift in range(room):
            for start in (centre - shift, centre + shift):
                if lo + 2 <= start and start + size <= hi - 1 and free(start):
                    return start, (lo, hi)
    if free(hi + 1):
        return hi + 1, (lo, hi + size)
    if free(lo - size):
        return lo - size, (lo - size, hi)
    return None, (lo, hi)


@dataclass
class _Laid:
    """A sentence laid out to strips: what :meth:`SentenceView._relayout` installs."""

    lines: list[Strip]
    hits: dict[int, list[tuple[int, int, tuple]]]
    first: int
    rows: int
    token_rows: dict[int, tuple[int, int, int]]
    drawn_relations: int
    row_strips: dict[tuple, Strip]
    width: int
    base: Style


def _state(editor: SentenceEditor) -> tuple:
    """What a layout of ``editor`` depends on besides its text (the editor replaces these objects
    when they change; held here, their ids cannot be reused)."""
    return (editor.tokens, editor.spans, editor.relations, editor.cursor, editor.selection, editor.mode,
            editor.pending_head, editor.pending_child, editor.selected_relation)


class SentenceView(ScrollView, can_focus=True, inherit_bindings=False):
    """The current sentence (editable, with arcs) between dimmed context sentences."""

    DEFAULT_CSS = """
    SentenceView {
        scrollbar-gutter: stable;
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    class TokenPressed(Message):
        """A token was clicked (the cursor goes there)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class TokensDragged(Message):
        """The mouse was dragged from token ``first`` to ``last`` (a selection)."""

        def __init__(self, first: int, last: int) -> None:
            super().__init__()
            self.first = first
            self.last = last

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, SentenceView.TokensDragged)

    class CharacterPressed(Message):
        """A character was ctrl+clicked: a boundary of the span under the cursor moves there."""

        def __init__(self, offset: int) -> None:
            super().__init__()
            self.offset = offset

    class TagPressed(Message):
        """The label tag of a span was clicked (starts or completes a relation)."""

        def __init__(self, key: tuple[int, int]) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.editor: SentenceEditor | None = None
        """The editor shown (owned by the screen)."""
        self.before: list[str] = []
        """Context sentences shown above (dimmed)."""
        self.after: list[str] = []
        """Context sentences shown below (dimmed)."""
        self.note = ""
        """A dim line shown above everything (for example, what the context is)."""
        self._lines: list[Strip] = []
        self._hits: dict[int, list[tuple[int, int, tuple]]] = {}
        self._sentence_first_row = 0
        self._sentence_rows = 0
        self._token_rows: dict[int, tuple[int, int, int]] = {}
        self._context_cache: dict[tuple, tuple[list[Strip], list[Strip]]] = {}
        self._layout_width = 0
        self._drag_from: int | None = None
        self._rendered_base: Style | None = None
        self._sentence_scroll_pending = False
        self._row_strips: dict[tuple, Strip] = {}
        """The current sentence's row strips by their pieces (text, style), reused by the next layout."""
        self._row_strips_base: tuple | None = None
        self._prepared: tuple | None = None
        self._uncursored_cache: list[tuple] = []
        """(editor, width, its state but the cursor, its layout without the cursor): the newest two."""
        """A sentence laid out ahead by :meth:`prepare` (used by :meth:`show` when it is still valid)."""
        self.drawn_relations = 0
        """How many relations have an arc in the current layout (the rest are only listed)."""

    # -- feeding -------------------------------------------------------------------------------

    def show(self, editor: SentenceEditor, before: Sequence[str], after: Sequence[str], note: str = "") -> None:
        """Show a (new) sentence with its context and scroll so that it is in view."""
        self.editor = editor
        self.before = list(before)
        self.after = list(after)
        self.note = note
        self._context_cache.clear()
        prepared, self._prepared = self._prepared, None
        laid = None
        if prepared is not None:
            width, base = self._width(), self._base_style()
            p_editor, p_state, p_width, p_base, p_before, p_after, p_note, context, p_laid = prepared
            if (p_editor is editor and p_state == _state(editor) and (p_width, p_base) == (width, base)
                    and (p_before, p_after, p_note) == (tuple(self.before), tuple(self.after), note)):
                self._context_cache = {(width, p_before, p_after, p_note): context}
                laid = p_laid
        self._relayout(laid)
        # The new virtual size (and, at start, the widget's own size) takes effect at the next
        # layout: scroll now and again once it has.
        self._sentence_scroll_pending = True
        self._scroll_to_sentence()
        self.call_after_refresh(self._scroll_to_sentence)

    def update_editor(self) -> None:
        """The editor changed (a key press): lay out the sentence again and keep the cursor visible."""
        self._relayout()
        self._scroll_to_cursor()

    # -- layout --------------------------------------------------------------------------------

    def _width(self) -> int:
        width = self.scrollable_content_region.width
        return width if width > 0 else 80

    def _base_style(self) -> Style:
        return self.rich_style

    def _context_strips(self, width: int) -> tuple[list[Strip], list[Strip]]:
        key = (width, tuple(self.before), tuple(self.after), self.note)
        cached = self._context_cache.get(key)
        if cached is None:
            cached = self._render_context(width, self.before, self.after, self.note)
            self._context_cache = {key: cached}
        return cached

    def _render_context(self, width: int, before: Sequence[str], after: Sequence[str], note: str) -> tuple[list[Strip], list[Strip]]:
        base = self._base_style()
        pad = " " * cell_len(GUTTER)
        inner = max(8, width - len(pad))
        above: list[Strip] = []
        if note:
            above.append(Strip([Segment(pad + note[:inner], base + CONTEXT_NOTE_STYLE)]))
        for text in before:
            for line in wrap_words(text, inner):
                above.append(Strip([Segment(pad + line, base + CONTEXT_STYLE)]))
            above.append(Strip([]))
        below: list[Strip] = []
        for text in after:
            below.append(Strip([]))
            for line in wrap_words(text, inner):
                below.append(Strip([Segment(pad + line, base + CONTEXT_STYLE)]))
        return above, below

    def prepare(self, editor: SentenceEditor, before: Sequence[str], after: Sequence[str], note: str = "") -> None:
        """Lay out a sentence that is likely shown next (done while the screen is idle): when
        :meth:`show` gets this editor, unchanged, with the same context and width, it only swaps."""
        width = self._width()
        base = self._base_style()
        above, below = self._render_context(width, before, after, note)
        laid = self._lay_out(editor, width, base, above, below, {})
        self._prepared = (editor, _state(editor), width, base, tuple(before), tuple(after), note, (above, below), laid)

    def _lay_out(self, editor: SentenceEditor, width: int, base: Style, above: list[Strip], below: list[Strip],
                 reuse: dict[tuple, Strip]) -> "_Laid":
        """The lines of ``editor``'s sentence between its context (strips of rows whose pieces are
        in ``reuse`` are taken from there)."""
        gutter = cell_len(GUTTER)
        layout = place_cursor(self._uncursored(editor, width - gutter), editor.cursor)
        lines = list(above)
        first = len(lines)
        hits: dict[int, list[tuple[int, int, tuple]]] = {}
        fresh: dict[tuple, Strip] = {}
        for r, row in enumerate(layout.rows):
            key = tuple((piece.text, piece.style) for piece in row)
            strip = reuse.get(key) or fresh.get(key)
            if strip is None:
                segments = [Segment(GUTTER, base + GUTTER_STYLE)]
                segments += [Segment(piece.text, base + piece.style) for piece in row]
                strip = Strip(segments)
            fresh[key] = strip
            lines.append(strip)
            x = gutter
            for piece in row:
                w = cell_len(piece.text)
                if piece.target is not None:
                    hits.setdefault(first + r, []).append((x, x + w, piece.target))
                x += w
        lines.extend(below)
        token_rows = {i: (first + r, gutter + x0, gutter + x1) for i, (r, x0, x1) in layout.token_rows.items()}
        return _Laid(lines, hits, first, len(layout.rows), token_rows, layout.drawn_relations, fresh, width, base)

    def _uncursored(self, editor: SentenceEditor, width: int) -> SentenceLayout:
        """``editor``'s sentence laid out without the cursor, kept for the shown and the prepared
        sentence while nothing but the cursor changes."""
        state = _state(editor)
        state = state[:3] + state[4:]  # all but the cursor
        for entry in self._uncursored_cache:
            if entry[0] is editor and entry[1] == width and entry[2] == state:
                return entry[3]
        layout = layout_sentence(editor, width, cursor=False)
        self._uncursored_cache = [(editor, width, state, layout), *self._uncursored_cache[:1]]
        return layout

    def _relayout(self, laid: "_Laid | None" = None) -> None:
        if self.editor is None:
            self._lines = []
            self.virtual_size = Size(self._width(), 0)
            self.refresh()
            return
        if laid is None:
            width = self._width()
            base = self._base_style()
            above, below = self._context_strips(width)
            # A row whose pieces are as before keeps its Strip (a cursor move changes one or two
            # rows): no segments built, and the repaint below skips it at the identity check.
            reuse = self._row_strips if self._row_strips_base == (base, width) else {}
            laid = self._lay_out(self.editor, width, base, above, below, reuse)
        width, base, lines = laid.width, laid.base, laid.lines
        self._layout_width = width
        self._rendered_base = base
        self.drawn_relations = laid.drawn_relations
        self._row_strips = laid.row_strips
        self._row_strips_base = (base, width)
        previous = self._lines
        self._lines = lines
        self._hits = laid.hits
        self._sentence_first_row = laid.first
        self._sentence_rows = laid.rows
        self._token_rows = laid.token_rows
        size = Size(width, len(lines))
        if self.virtual_size != size:
            self._set_virtual_size(size)
        # Repaint only the rows that changed (usually the cursor's row and the one it left; the
        # rows from the first change on when a row was added or removed), a run of them at once.
        refresh_rows(self, (
            index for index in range(max(len(previous), len(lines)))
            if index >= len(previous) or index >= len(lines)
            or (previous[index] is not lines[index] and previous[index] != lines[index])
        ))

    def _set_virtual_size(self, size: Size) -> None:
        """A new number of rows. The widget's own size is fixed by the screen's CSS, so only its
        scrollbar depends on it: the scrollbar is updated here and a layout of the screen (which
        repaints every widget) is asked for only when the scrollbar appears or disappears."""
        if not self.is_attached or not self.container_size:
            self.virtual_size = size
            return
        self.set_reactive(ScrollView.virtual_size, size)
        # Sets show_vertical_scrollbar (a layout when it changes), the scrollbar's thumb and scroll_y's bounds.
        self._scroll_update(size)

    def _scroll_to_sentence(self) -> None:
        height = self.scrollable_content_region.height
        if not height or not self._sentence_scroll_pending:
            return
        if self.virtual_size.height > height and self.max_scroll_y == 0:
            return  # not laid out with the new content yet: on_resize or the next call does it
        self._sentence_scroll_pending = False
        top = self._sentence_first_row
        if self._sentence_rows + 2 <= height:
            # Show some context above when the sentence fits.
            target = max(0, top - max(0, (height - self._sentence_rows) // 3))
        else:
            target = top
        self.scroll_to(y=target, animate=False, immediate=True)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        if self.editor is None or self.editor.cursor not in self._token_rows:
            return
        row = self._token_rows[self.editor.cursor][0]
        height = self.scrollable_content_region.height or 1
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=max(0, row - 1), animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        if self.editor is not None and self._width() != self._layout_width:
            self._context_cache.clear()
            self._relayout()
            self._scroll_to_cursor()
        if self._sentence_scroll_pending:
            self.call_after_refresh(self._scroll_to_sentence)

    # -- Line API ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_y)
        width = self.scrollable_content_region.width
        base = self._rendered_base or self._base_style()
        if 0 <= index < len(self._lines):
            return self._lines[index].crop_extend(0, width, base)
        return Strip.blank(width, base)

    # -- mouse ---------------------------------------------------------------------------------

    def hit(self, x: int, y: int) -> tuple | None:
        """What is at content coordinates (``x``, ``y``) of the virtual area: a token, a tag, or None."""
        for x0, x1, target in self._hits.get(y, []):
            if x0 <= x < x1:
                return target
        return None

    def token_at_or_near(self, x: int, y: int) -> int | None:
        """The token at a point, or the nearest token on that row (for drags past the words)."""
        target = self.hit(x, y)
        if target is not None and target[0] == "token":
            return target[1]
        tokens_on_row = [(x0, x1, t[1]) for x0, x1, t in self._hits.get(y, []) if t[0] == "token"]
        if not tokens_on_row:
            return None
        return min(tokens_on_row, key=lambda item: min(abs(x - item[0]), abs(x - item[1])))[2]

    def _content_point(self, event: events.MouseEvent) -> tuple[int, int] | None:
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        return offset.x, offset.y + int(self.scroll_y)

    def character_at(self, x: int, y: int) -> int | None:
        """The sentence offset of the character at content point (``x``, ``y``), or None."""
        editor = self.editor
        for x0, x1, target in self._hits.get(y, []):
            if target[0] == "token" and x0 <= x < x1 and editor is not None and target[1] < len(editor.tokens):
                token = editor.tokens[target[1]]
                cells = 0
                for offset in range(token.start, token.end):
                    cells += cell_len(editor.text[offset])
                    if x0 + cells > x:
                        return offset
                return token.end - 1
        return None

    def on_mouse_down(self, event: events.MouseDown) -> None:
        point = self._content_point(event)
        if point is None or event.button != 1:
            return
        target = self.hit(*point)
        if target is None:
            return
        event.stop()
        if event.ctrl and target[0] == "token":
            offset = self.character_at(*point)
            if offset is not None:
                self.post_message(self.CharacterPressed(offset))
            return
        if target[0] == "tag":
            self.post_message(self.TagPressed(target[1]))
            return
        self._drag_from = target[1]
        self.capture_mouse()
        self.post_message(self.TokenPressed(target[1]))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag_from is None:
            return
        offset = event.get_content_offset_capture(self)
        token = self.token_at_or_near(offset.x, offset.y + int(self.scroll_y))
        if token is not None:
            self.post_message(self.TokensDragged(self._drag_from, token))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag_from is not None:
            self._drag_from = None
            self.release_mouse()
