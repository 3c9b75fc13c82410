"""Editing a copy of one version during review, with exactly the annotate screen's keys and widgets.

:class:`VersionEditScreen` *is* an :class:`~annotator.tui.screens.annotate.AnnotateScreen` (same
layout, bindings, label hotkeys, relation flow, mouse handling, help), narrowed to one sentence:
its :class:`~annotator.tui.context.ScreenContext` (:func:`edit_context`) says "one sentence, no
suggestions", so the moving keys say :data:`ONE_SENTENCE`; ``go_to`` always shows the copy being
edited, accept/reject hand the result to the review screen's ``save`` callback (which stores it as
gold), and ``q`` goes back to the versions without storing anything. Subclassing rather than
copying keeps the two screens' keys identical by construction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from textual.content import Content

from ...editing import Mode, SentenceEditor
from ...model import Relation, Sentence, Span
from ..context import Navigation, ScreenContext
from ..widgets.line_list import TextLine
from ..widgets.sentence_view import SentenceView
from .annotate import AnnotateScreen

SaveEdit = Callable[[str, tuple[Span, ...], tuple[Relation, ...], bool], "str | None"]
"""``save(answer, spans, relations, changed)`` stores the gold decision; returns a problem, or None when stored."""

ONE_SENTENCE = "this is an edit of one sentence: a/enter stores it as gold, x rejects, q goes back"
"""What skip, [ ], : and / say while a version is edited."""


def edit_context(review: ScreenContext, sentence: Sentence) -> ScreenContext:
    """The review's context narrowed to editing one sentence: no suggestions, no moving."""
    return replace(review, suggestions=None, navigation=Navigation(start=sentence.position, refusal=ONE_SENTENCE))


class VersionEditScreen(AnnotateScreen):
    """The annotate screen over a copy of one version; dismissed with True when gold was stored."""

    def __init__(
        self, context: ScreenContext, sentence: Sentence, article_title: str, editor: SentenceEditor, description: str, save: SaveEdit
    ) -> None:
        """``context``: the review's context (it is narrowed with :func:`edit_context` here)."""
        super().__init__(edit_context(context, sentence))
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

    # AnnotateScreen.on_mount calls ``go_to`` with the context's start (this sentence's position):
    # here ``go_to`` shows the copy being edited.
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
        self.query_one("#header", TextLine).update(content)

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

    def _edited(self, _changed: bool = True) -> None:
        self.discard_armed = False
        super()._edited(_changed)

    def _sync_draft(self) -> None:
        """No drafts here: drafts are the annotator's own unsaved edits of the annotate screen, and
        this is a reviewer's short edit of one version's copy (q asks before discarding it)."""
