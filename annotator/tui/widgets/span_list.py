"""The spans of the current sentence, numbered as in the sentence view; the one under the cursor is
marked, and a suggestion says where it came from (the model's name, ``patterns``, ``rules``,
``memory`` or a trained model's source name)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.content import Content


from ...editing import SentenceEditor
from .line_list import LineList
from .sentence_view import entity_color


SOURCE_WIDTH = 14
"""At most this many cells of a suggestion's source name are shown."""


def source_tag(edit_span) -> str:
    """`` · SOURCE`` for a suggested span with a known source, else ""."""
    source = edit_span.span.source if edit_span.suggested else None
    return f" · {fit(source, SOURCE_WIDTH)}" if source else ""


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis."""
    if cell_len(text) <= width:
        return text
    width = max(1, width)
    while text and cell_len(text) > width - 1:
        text = text[:-1]
    return text + "…"


NO_SPANS = Content.from_markup("[dim]no spans: move to a word and press a label key[/]")


class SpanList(LineList):
    """One line per span: number, label, text, and ``?`` and its source while it is still a suggestion."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._editor: SentenceEditor | None = None
        self._shown: tuple | None = None
        self._line_cache: dict[tuple, Content] = {}
        self._line_cache_key: tuple | None = None
        self._next_cache: tuple[tuple | None, dict[tuple, Content]] = (None, {})
        """(text, width) and lines of the sentence :meth:`prepare` made ahead."""

    def _available(self) -> int:
        return self.content_width()

    def on_click(self, event: events.Click) -> None:
        """A click on a span's row moves the cursor there (or, choosing a relation's span, chooses it)."""
        offset = event.get_content_offset(self)
        if offset is None or self._editor is None:
            return
        number = offset.y + int(self.scroll_y) + 1
        if 1 <= number <= len(self._editor.spans):
            event.stop()
            self.screen.action_jump_span(number)

    def on_resize(self, event: events.Resize) -> None:
        if self._editor is not None:
            self.show(self._editor)

    def show(self, editor: SentenceEditor) -> None:
        """Render the spans (skipped when nothing this list shows has changed)."""
        self._editor = editor
        under = editor.span_under_cursor()
        width = self._available()
        # Span equality ignores the source: compare the sources too (a memory row can replace a model's).
        sources = tuple(s.span.source for s in editor.spans)
        signature = (editor.text, editor.spans, sources, under.key if under else None, width)
        if signature == self._shown:
            return
        self._shown = signature
        if not editor.spans:
            self.set_lines([NO_SPANS])
            return
        if self._line_cache_key == (editor.text, width):
            cache = self._line_cache
        elif self._next_cache[0] == (editor.text, width):
            cache = self._next_cache[1]  # made by prepare() while the previous sentence was shown
        else:
            cache = {}
        self._line_cache_key = (editor.text, width)
        lines, fresh = self._lines_of(editor, under, width, cache)
        # This sentence's lines as made so far (a cursor move re-makes at most the two whose marker moved).
        self._line_cache = {**cache, **fresh} if len(cache) < 64 else fresh
        self.set_lines(lines)

    def prepare(self, editor: SentenceEditor) -> None:
        """Make and render the lines of a sentence likely shown next (while the screen is idle)."""
        width = self._available()
        if not editor.spans:
            return
        lines, fresh = self._lines_of(editor, editor.span_under_cursor(), width, {})
        self._next_cache = ((editor.text, width), fresh)
        self.prerender(lines)

    def _lines_of(self, editor: SentenceEditor, under, width: int, cache: dict) -> tuple[list[Content], dict[tuple, Content]]:
        lines: list[Content] = []
        fresh: dict[tuple, Content] = {}
        for number, edit_span in enumerate(editor.spans, start=1):
            marked = under is not None and under.key == edit_span.key
            key = (number, edit_span, edit_span.span.source, marked)
            line = cache.get(key)
            if line is None:
                line = self._line(editor, number, edit_span, marked, width)
            fresh[key] = line
            lines.append(line)
        return lines, fresh

    @staticmethod
    def _line(editor: SentenceEditor, number: int, edit_span, marked: bool, width: int) -> Content:
        """``▶ 2 PERSON Umerov? · model``: assembled from parts (labels, span text and source names
        are user data, never markup)."""
        color = entity_color(editor.scheme, edit_span.label)
        marker = "▶" if marked else " "
        suffix = "?" if edit_span.suggested else ""
        tag = source_tag(edit_span)
        prefix = f"{marker}{number:>2} {edit_span.label} "
        text = fit(editor.span_text(edit_span.key), width - cell_len(prefix) - len(suffix) - cell_len(tag))
        style = "dim italic" if edit_span.suggested else "not dim"
        line = Content.assemble(
            marker, (f"{number:>2}", "bold"), " ", (edit_span.label, color), " ", (text + suffix, style), (tag, "dim")
        )
        return line.stylize("bold") if marked else line
