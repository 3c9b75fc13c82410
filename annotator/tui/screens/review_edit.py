"""Editing a copy of one version during review, with exactly the annotate screen's keys and widgets.

:class:`VersionEditScreen` *is* an :class:`~annotator.tui.screens.annotate.AnnotateScreen` (same
layout, bindings, label hotkeys, relation flow, mouse handling, help), narrowed to one sentence:
``go_to`` always shows the copy being edited, moving between sentences is refused, accept/reject
hand the result to the review screen's ``save`` callback (which stores it as gold), and ``q`` goes
back to the versions without storing anything. Subclassing rather than copying keeps the two
screens' keys identical by construction; the review tests pin the few methods relied on.
"""

from __future__ import annotations

from typing import Callable

from textual.content import Content
from textual.widgets import Static

from ...editing import Mode, SentenceEditor
from ...model import Relation, Sentence, Span
from ..widgets.sentence_view import SentenceView
from .annotate import AnnotateScreen

SaveEdit = Callable[[str, tuple[Span, ...], tuple[Relation, ...], bool], "str | None"]
"""``save(answer, spans, relations, changed)`` stores the gold decision; returns a problem, or None when stored."""


class VersionEditScreen(AnnotateScreen):
    """The annotate screen over a copy of one version; dismissed with True when gold was stored."""

    def __init__(self, sentence: Sentence, article_title: str, editor: SentenceEditor, description: str, save: SaveEdit) -> None:
        super().__init__()
        self.edit_sentence = sentence
        """The sentence whose version is edited."""
        self.edit_article_title = article_title
        self.initial_editor = editor
        """The copy of the version, as the edit started."""
        self.description = description
        """What is being edited, for the header (``version 2 (bob)``)."""
        self.save = save
        """Stores the result as gold (see :data:`SaveEdit`)."""
        self.discard_armed = False
        """True after a first ``q`` with unsaved edits (a second one discards them)."""

    # AnnotateScreen.on_mount reads the app's ``start_position`` and calls ``go_to`` with it: here
    # ``go_to`` shows the one sentence being edited, whatever the position.
    def go_to(self, position: int, *, restore=None, message: str = "") -> bool:
        sentence = self.edit_sentence
        self.position = sentence.position
        self.sentence = sentence
        self.article_title = self.edit_article_title
        self.decision = None
        if self.editor is None:
            self.editor = self.initial_editor
        self.notice = message or self.editor.message
        before, after, note = self._context_lines()
        self.query_one(SentenceView).show(self.editor, before, after, note)
        self._refresh_panels()
        self._refresh_header()
        return True

    def _refresh_header(self) -> None:
        content = Content.from_markup(
            "[b]review[/] · editing a copy of [b]$what[/] · sentence $position"
            " · [b]a[/]/enter store it as gold · [b]x[/] reject as gold · [b]q[/] back without storing",
            what=self.description,
            position=str(self.position),
        )
        self.query_one("#header", Static).update(content)

    def _finish(self, answer: str) -> None:
        editor = self.editor
        if editor is None:
            return
        if editor.mode is not Mode.NORMAL:
            editor.message = "finish the relation first (press its label key) or cancel it with esc"
            self._refresh_status()
            return
        spans, relations = editor.to_decision() if answer == "accept" else ((), ())
        problem = self.save(answer, spans, relations, editor.is_dirty)
        if problem:
            self.say(f"not stored: {problem}")
            return
        self.dismiss(True)

    def action_accept(self) -> None:
        self._finish("accept")

    def action_reject(self) -> None:
        self._finish("reject")

    def action_undo(self) -> None:
        editor = self.editor
        if editor is not None and editor.is_dirty:
            self._edited(editor.undo_edit())
        else:
            self.say("no edit to undo (q goes back to the versions; u there undoes gold decisions)")

    def action_quit(self) -> None:
        editor = self.editor
        if editor is not None and editor.is_dirty and not self.discard_armed:
            self.discard_armed = True
            self.say("this copy has unsaved edits: q again discards them, a stores them as gold")
            return
        self.dismiss(False)

    def _stay(self) -> None:
        self.say("this is an edit of one sentence: a/enter stores it as gold, x rejects, q goes back")

    def action_skip(self) -> None:
        self._stay()

    def action_prev_sentence(self) -> None:
        self._stay()

    def action_next_sentence(self) -> None:
        self._stay()

    def action_goto(self) -> None:
        self._stay()

    def action_search(self) -> None:
        self._stay()

    def _edited(self, _changed: bool = True) -> None:
        self.discard_armed = False
        super()._edited(_changed)

    def _sync_draft(self) -> None:
        """No drafts here: drafts are the annotator's own unsaved edits of the annotate screen, and
        this is a reviewer's short edit of one version's copy (q asks before discarding it)."""
