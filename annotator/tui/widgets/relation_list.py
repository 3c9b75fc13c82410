"""The relations of the current sentence, numbered: ``head [LABEL] ──REL──▶ child [LABEL]``."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.content import Content

from ...editing import Mode, SentenceEditor, superscript
from .sentence_view import relation_color
from .line_list import LineList
from .span_list import fit

NO_RELATIONS = Content.from_markup("[dim]no relations: r on a span starts one[/]")


class RelationList(LineList):
    """One entry per relation (one line, or two when narrow); the selected one is highlighted, suggestions are dim."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._editor: SentenceEditor | None = None
        self._shown: tuple | None = None
        self._next: tuple[tuple | None, list[Content]] = (None, [])
        """Signature and lines of the sentence :meth:`prepare` made ahead."""

    def on_resize(self, event: events.Resize) -> None:
        if self._editor is not None:
            self.show(self._editor)

    @staticmethod
    def _signature(editor: SentenceEditor, width: int) -> tuple:
        return (
            editor.text, editor.spans, editor.relations, editor.selected_relation, editor.mode,
            editor.pending_head, editor.pending_child, width,
        )

    def show(self, editor: SentenceEditor) -> None:
        self._editor = editor
        width = self.content_width()
        signature = self._signature(editor, width)
        if signature == self._shown:
            return
        self._shown = signature
        # The lines made (and rendered) ahead by prepare(), when they are for this very state (kept
        # until then: the keys pressed on the sentence shown meanwhile do not use them up).
        prepared = self._next
        if prepared[0] == signature:
            self._next = (None, [])
            self.set_lines(prepared[1])
        else:
            self.set_lines(self._lines_of(editor, width))

    def prepare(self, editor: SentenceEditor) -> None:
        """Make and render the lines of a sentence likely shown next (while the screen is idle)."""
        width = self.content_width()
        lines = self._lines_of(editor, width)
        self._next = (self._signature(editor, width), lines)
        self.prerender(lines)

    def _lines_of(self, editor: SentenceEditor, width: int) -> list[Content]:
        lines: list[Content] = []
        if editor.mode is not Mode.NORMAL and editor.pending_head is not None:
            child = editor.describe_span(editor.pending_child) if editor.pending_child else "?"
            lines.append(
                Content.from_markup("[b reverse] new [/] $text", text=fit(f"{editor.describe_span(editor.pending_head)} → {child}", width - 6))
            )
        if not editor.relations and not lines:
            return [NO_RELATIONS]
        for number, edit_relation in enumerate(editor.relations, start=1):
            rel = edit_relation.relation
            label = editor.scheme.relation(rel.label)
            color = relation_color(editor.scheme, rel.label)
            left = "◀─" if label is not None and label.symmetric else "──"
            suffix = "?" if edit_relation.suggested else ""
            head = f"{superscript(editor.span_number(rel.head))}{editor.describe_span(rel.head)}"
            child = f"{superscript(editor.span_number(rel.child))}{editor.describe_span(rel.child)}"
            arrow = f"{left}{rel.label}{suffix}──▶"
            prefix = f"{number:>2} "
            one_line = f"{prefix}{head} {arrow} {child}"
            values = dict(number=prefix, head=head, left=left, label=rel.label + suffix, child=child)
            if cell_len(one_line) <= width:
                line = Content.from_markup(f"[b]$number[/]$head $left[{color}]$label[/]──▶ $child", **values)
            else:
                values["head"] = fit(head, width - len(prefix))
                values["child"] = fit(child, width - len(prefix) - cell_len(arrow) - 1)
                line = Content.from_markup(f"[b]$number[/]$head\n   $left[{color}]$label[/]──▶ $child", **values)
            if edit_relation.suggested:
                line = line.stylize("dim italic")
            if rel == editor.selected_relation:
                line = line.stylize("reverse")
            lines.append(line)
        return lines
