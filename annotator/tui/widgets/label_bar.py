"""The label bar: each label's hotkey and colour; clicking a label applies it.

In normal editing it lists the entity labels; while a relation label is being picked it lists only
the relation labels allowed between the two chosen spans (their hotkeys are active only then).
Clicks are mapped to chips by position (not ``@click`` markup, whose link style would repaint the
chips in the link colour).
"""

from __future__ import annotations

from typing import Callable, Sequence

from rich.cells import cell_len
from textual import events
from textual.content import Content
from textual.widgets import Static

from ...keymap import key_display

SEPARATOR = "  "


def _chip(hotkey: str, name: str, color: str) -> Content:
    """`` p `` on the label colour, then the name."""
    shown = key_display(hotkey) if hotkey else "·"
    return Content.from_markup(f"[#111111 on {color}] $key [/][{color}] $name[/]", key=shown, name=name)


class LabelBar(Static):
    """A line (or a few) of clickable label chips."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None
        self._chips: list[tuple[Content, Callable[[], None]]] = []
        self._prefix = ""
        self._hits: list[tuple[int, int, int, Callable[[], None]]] = []

    def show_entities(self, scheme, apply: Callable[[str], None]) -> None:
        """The entity labels of ``scheme``; a click calls ``apply(name)``."""
        if self._shown == ("entities", id(scheme)):
            return
        self._shown = ("entities", id(scheme))
        self._chips = [(_chip(label.hotkey, label.name, label.color), lambda n=label.name: apply(n)) for label in scheme.entities]
        self._prefix = ""
        self._render_chips()

    def show_relations(self, labels: Sequence, pick: Callable[[str], None], verb: str = "relation") -> None:
        """Relation labels to pick from (only the allowed ones are passed in); a click calls ``pick(name)``."""
        signature = ("relations", tuple(label.name for label in labels), verb)
        if self._shown == signature:
            return
        self._shown = signature
        self._chips = [(_chip(label.hotkey, label.name, label.color), lambda n=label.name: pick(n)) for label in labels]
        self._prefix = f"{verb}: "
        self._render_chips()

    def show_hint(self, text: str) -> None:
        if self._shown == ("hint", text):
            return
        self._shown = ("hint", text)
        self._chips = []
        self._hits = []
        self.update(Content(text))

    def _render_chips(self) -> None:
        width = self.size.width or 120
        lines: list[list[Content | str]] = [[self._prefix]] if self._prefix else [[]]
        x = cell_len(self._prefix)
        self._hits = []
        for chip, callback in self._chips:
            size = cell_len(chip.plain)
            if x > 0 and x + len(SEPARATOR) + size > width:
                lines.append([])
                x = 0
            if x > 0:
                lines[-1].append(SEPARATOR)
                x += len(SEPARATOR)
            lines[-1].append(chip)
            self._hits.append((len(lines) - 1, x, x + size, callback))
            x += size
        self.update(Content("\n").join(Content.assemble(*parts) for parts in lines))

    def on_resize(self, event: events.Resize) -> None:
        if self._chips:
            self._render_chips()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for row, x0, x1, callback in self._hits:
            if row == offset.y and x0 <= offset.x < x1:
                event.stop()
                callback()
                return
