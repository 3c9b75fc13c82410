"""A list of lines (the side panels) as a Line-API widget: each line's ``Content`` is rendered to
strips once and kept, and a new set of lines repaints only the rows that differ.

A ``Static`` would render its whole content again on every update (wrapping and styling each
line), and a change in its height would lay out the whole screen. Here a key that moves the
span marker re-renders two lines and repaints two rows (a line made again with the same text and
styles repaints nothing); the widget's size is fixed by the CSS, and only its scrollbar follows the
number of rows.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from textual import events
from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual


def refresh_rows(widget: ScrollView, rows: Iterable[int]) -> None:
    """Repaint these rows of ``widget`` (ascending): one region per run of consecutive rows, so
    that the compositor renders each run once instead of once per row."""
    start = end = -2
    for row in rows:
        if row == end + 1:
            end = row
            continue
        if start >= 0:
            widget.refresh_lines(start, end - start + 1)
        start = end = row
    if start >= 0:
        widget.refresh_lines(start, end - start + 1)


class LineList(ScrollView, can_focus=False):
    """Rows of ``Content`` lines (a line may hold a newline: then it takes two rows)."""

    DEFAULT_CSS = """
    LineList {
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._contents: list[Content] = []
        self._rendered: dict[int, tuple[Content, list[Strip]]] = {}
        """id of a shown line's ``Content`` -> (that Content, its strips): kept while it is shown."""
        self._strips: list[Strip] = []
        self._rendered_width = 0
        self._rendered_style_key: object = None
        self._prerendered: dict[int, tuple[Content, list[Strip]]] = {}
        """Lines rendered ahead by :meth:`prerender` (for the sentence likely shown next)."""

    def render(self) -> Content:
        """The lines as one ``Content`` (what is shown, for reading it back)."""
        return Content("\n").join(self._contents)

    def content_width(self) -> int:
        """Cells available to a line (the widget's width less padding and its scrollbar)."""
        width = self.scrollable_content_region.width
        return width if width > 0 else 40

    def set_lines(self, contents: Sequence[Content]) -> None:
        """Show these lines. Lines that are the same ``Content`` objects as before are not rendered
        again; rows whose strips did not change are not repainted."""
        self._contents = list(contents)
        width = self.content_width()
        style = self.visual_style
        style_key = (width, self.styles._cache_key)
        if style_key != self._rendered_style_key:
            self._rendered.clear()
            self._prerendered.clear()
            self._rendered_style_key = style_key
        self._rendered_width = width
        rendered: dict[int, tuple[Content, list[Strip]]] = {}
        strips: list[Strip] = []
        for content in self._contents:
            kept = self._rendered.get(id(content))
            if kept is None or kept[0] is not content:
                kept = self._prerendered.get(id(content))
            if kept is None or kept[0] is not content:
                kept = (content, Visual.to_strips(self, content, width, None, style))
            rendered[id(content)] = kept
            strips.extend(kept[1])
        self._rendered = rendered
        previous = self._strips
        self._strips = strips
        size = Size(width, len(strips))
        if self.virtual_size != size:
            self._set_virtual_size(size)
        # A line made again with the same text and styles (a new Content object) repaints nothing.
        refresh_rows(self, (
            row for row in range(max(len(previous), len(strips)))
            if row >= len(previous) or row >= len(strips) or (previous[row] is not strips[row] and previous[row] != strips[row])
        ))

    def prerender(self, contents: Sequence[Content]) -> None:
        """Render lines that a later :meth:`set_lines` is likely to show (kept until the next call)."""
        width = self.content_width()
        style = self.visual_style
        if (width, self.styles._cache_key) != self._rendered_style_key:
            self._prerendered = {}
            return
        self._prerendered = {id(c): (c, Visual.to_strips(self, c, width, None, style)) for c in contents}

    def on_resize(self, event: events.Resize) -> None:
        if self._contents and self.content_width() != self._rendered_width:
            self.set_lines(self._contents)

    def _set_virtual_size(self, size: Size) -> None:
        """A new number of rows: the scrollbar follows; the screen is laid out again only when the
        scrollbar appears or disappears (the widget's own size is fixed by the CSS)."""
        if not self.is_attached or not self.container_size:
            self.virtual_size = size
            return
        self.set_reactive(ScrollView.virtual_size, size)
        self._scroll_update(size)

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_y)
        width = self.scrollable_content_region.width
        if 0 <= index < len(self._strips):
            # Not padded here: the widget's styles pad it with the background, as for a Static.
            return self._strips[index].crop(0, width)
        return Strip.blank(width, self.visual_style.rich_style)


class TextLine(LineList):
    """One line of text (the header, the status line): what does not fit is cut, as in a one-line
    ``Static``; an update renders and repaints that one row only."""

    DEFAULT_CSS = """
    TextLine {
        overflow-y: hidden;
    }
    """

    def update(self, content: Content) -> None:
        self.set_lines([content])
