"""The annotate screen: one sentence at a time, keyboard first.

Every key goes to the headless :class:`~annotator.editing.SentenceEditor` and only the sentence
view and the small side lists are refreshed. Decisions are committed to the store before the screen
moves on. Bindings carry the ids of :data:`annotator.keymap.DEFAULT_KEYMAP`, so ``keys:`` in
labels.yaml rebinds them through ``App.set_keymap``; entity hotkeys, relation hotkeys (active only
while a relation label is picked) and span-number digits are bindings added per scheme.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from textual.app import ComposeResult
from textual.actions import SkipAction
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...editing import Mode, SentenceEditor
from ...errors import AnnotatorError
from ...keymap import DEFAULT_KEYMAP, key_name
from ...model import Decision, Relation, Sentence, Span
from ..widgets.label_bar import LabelBar
from ..widgets.line_list import TextLine
from ..widgets.prompt_bar import PromptBar
from ..widgets.relation_list import RelationList
from ..widgets.sentence_view import SentenceView
from ..widgets.span_list import SpanList
from ..context import ScreenContext

FOOTER_NAMES = {
    "accept": "accept",
    "reject": "reject",
    "skip": "skip",
    "undo": "undo",
    "confirm_span": "confirm",
    "delete_span": "delete",
    "relation_mode": "relation",
    "toggle_context": "context",
    "help": "help",
    "quit": "quit",
}
"""Short Footer names of the bindings shown there (the others are in the help screen and the palette)."""

CONTEXT_MODES = ("neighbours", "paragraph", "article")
RECOUNT_EVERY = 25
"""The decided count is counted in the store again after this many decisions (it is kept
incrementally between), so decisions made elsewhere under the same name show up."""
"""What ``v`` cycles through: the sentences around, the whole paragraph, the whole article."""

ANSWER_BADGES = {"accept": "✔ accepted", "reject": "✘ rejected", "ignore": "– ignored"}


def normalized(spans, relations) -> tuple[tuple[Span, ...], tuple[Relation, ...]]:
    """Spans and relations in the store's canonical form (sorted, no sources), for comparing."""
    return tuple(sorted(replace(s, source=None) for s in spans)), tuple(sorted(set(relations)))


def content_of(editor: SentenceEditor) -> tuple[tuple[Span, ...], tuple[Relation, ...]]:
    """What accepting would store, in canonical form (what a draft keeps)."""
    return normalized(*editor.to_decision())


class CharacterPrompt(PromptBar):
    """The prompt bar, which can also wait for a single character (the find keys j, J, k, K):
    the first printable key answers at once, any other key cancels."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.single = False

    def open_character(self, question: str, answer) -> None:
        self.open(question, answer, placeholder="a character")
        self.single = True

    def feed(self, event) -> None:
        if not self.single:
            super().feed(event)
            return
        self.single = False
        self.close(event.character if event.is_printable and event.character else None)

    def close(self, value: str | None) -> None:
        self.single = False
        super().close(value)


def annotate_bindings() -> list[Binding]:
    """One ``Binding`` per keymap entry, with the keymap id as binding id and action name.

    First comes enter -> ``choose_child``, which only acts while the other span of a relation is
    being chosen and otherwise passes the key on (to accept).
    """
    bindings = [Binding("enter", "choose_child", "Choose the other span of the relation", show=False)]
    for binding_id, (keys, description) in DEFAULT_KEYMAP.items():
        short = FOOTER_NAMES.get(binding_id)
        bindings.append(
            Binding(keys, binding_id, short or description, show=short is not None, id=binding_id, tooltip=description)
        )
    return bindings


@dataclass
class SessionEntry:
    """A decision made in this session, for undo: where, what was stored, and the editor as it was
    (with its own edit history, so undo goes on through the edits made before the decision)."""

    position: int
    decision: Decision
    editor: SentenceEditor


@dataclass
class SentenceAhead:
    """The sentence after the one shown, read (and, when undecided, given its editor) ahead."""

    position: int
    row: object
    """The store's row of the sentence (sentences never change)."""
    rows: list | None = None
    """The suggestion rows the editor was made from (None: the sentence has a decision)."""
    editor: SentenceEditor | None = None


@dataclass
class ArticleContext:
    """The sentences of one article (for context lines), and each one's paragraph number."""

    sentences: list[Sentence]
    paragraph_of: dict[int, int]


def article_context(store, cache: dict[int, ArticleContext], article_id: int) -> ArticleContext:
    """The article's sentences from ``cache``; read from the store when missing (the cache keeps a few articles)."""
    context = cache.get(article_id)
    if context is None:
        if len(cache) > 8:
            cache.clear()
        context = ArticleContext(store.article_sentences(article_id), {})
        cache[article_id] = context
    return context


def header_content(dataset: str, annotator: str, position: int, count: int, progress: int, badge: str, title: str) -> Content:
    """The header line: the same text and spans as the markup
    ``[b]$dataset[/] · $annotator · sentence [b]$position[/] of $count [b]$badge[/]· decided
    $progress/$count · [i]$title[/]`` with the values substituted (the user's text is never read
    as markup), built from its parts without parsing markup on every sentence."""
    parts: list[str | tuple[str, str]] = []
    for text, style in (
        (dataset, "b"), (f" · {annotator} · sentence ", ""), (str(position), "b"), (f" of {count} ", ""),
        (badge, "b"), (f"· decided {progress}/{count} · ", ""), (title, "i"),
    ):
        if text:  # the markup leaves no span for an empty value
            parts.append((text, style) if style else text)
    return Content.assemble(*parts)


class AnnotateScreen(Screen):
    """Header, sentence view with context, side lists, label bar, status line and footer."""

    BINDINGS = annotate_bindings()

    def __init__(self, context: ScreenContext) -> None:
        super().__init__()
        self.context = context
        """Store, scheme, dataset, annotator, session, suggestions and navigation, from the app."""
        self.position = 0
        """Position (1-based) of the sentence shown."""
        self.sentence: Sentence | None = None
        """The sentence shown."""
        self.article_title = ""
        self.editor: SentenceEditor | None = None
        """The editor of the sentence shown."""
        self.decision: Decision | None = None
        """The annotator's current decision row for the sentence (None when there is none)."""
        self.count = 0
        """Sentences in the dataset."""
        self.progress = 0
        """Sentences the annotator has decided."""
        self._decided_since_count = 0
        self.context_mode = 0
        """Index into :data:`CONTEXT_MODES`."""
        self.notice = ""
        """A screen message (saved, moved, refused) shown when the editor has none."""
        self.session_stack: list[SessionEntry] = []
        """Decisions of this session, newest last (what undo walks back)."""
        self.drafts: dict[int, tuple] = {}
        """What sentences left with unsaved edits in this session showed, by position (canonical
        spans and relations): the store's draft when it could not be kept there."""
        self.draft_positions: set[int] = set()
        """Positions known (this session) to have a draft in the store."""
        self._baseline: tuple | None = None
        self._stored_draft: tuple | None = None
        self._synced: tuple | None = None
        self._unsaved = False
        """True when the editor shows spans or relations other than the saved decision / suggestions."""
        self.shown_at = time.monotonic()
        self.last_search = ""
        self._articles: dict[int, ArticleContext] = {}
        self._suggest_requested_at: int | None = None
        self._status_text: str | None = None
        self._header_parts: tuple | None = None
        self._lines_ahead: dict[tuple, Content] = {}
        """The header and status lines that accepting the sentence shown would show, made and
        rendered by :meth:`_prepare_next` (by what they show)."""
        self._quit_armed = False
        self._ahead: SentenceAhead | None = None
        """The next sentence, prepared once this one is on screen (:meth:`_prepare_next`)."""
        self._bind_hotkeys()

    # -- shortcuts -----------------------------------------------------------------------------

    @property
    def prompt_bar(self) -> CharacterPrompt:
        """The one-line prompt of /, : and the find keys (the app hands it the keys while it is open)."""
        return self.query_one(CharacterPrompt)

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TextLine(id="header")
        with Horizontal(id="main"):
            yield SentenceView(id="sentence")
            with Vertical(id="side"):
                yield Static("Spans", classes="side-title")
                yield SpanList(id="spans")
                yield Static("Relations", classes="side-title")
                yield RelationList(id="relations")
        yield LabelBar(id="labels")
        yield CharacterPrompt(id="prompt")
        yield TextLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._overlap = self.context.store.dataset(self.context.dataset).settings.get("overlap", "all")
        self.count = self.context.store.sentence_count(self.context.dataset)
        self.progress = self.context.store.progress(self.context.dataset, self.context.annotator)
        start = self.context.navigation.start
        message = ""
        if start is None:
            start = self._draft_to_resume()
        if start is None:
            start = self._hand_out(0)
            if start is None:
                start = self.count
                message = f"all {self.count} sentences are decided: this is the last one (/ searches, : goes to N)"
        self.query_one(SentenceView).focus()
        self.go_to(start)
        if message:
            self.say(message)

    # -- loading a sentence --------------------------------------------------------------------

    def _article(self, article_id: int) -> ArticleContext:
        return article_context(self.context.store, self._articles, article_id)

    def _paragraphs(self, article_id: int) -> dict[int, int]:
        context = self._article(article_id)
        if not context.paragraph_of and context.sentences:
            from ...segment import paragraphs  # only for the paragraph view: not imported at start

            text = self.context.store.article(article_id).text
            bounds = list(paragraphs(text))
            number = 0
            for sentence in context.sentences:
                while number + 1 < len(bounds) and sentence.start >= bounds[number][1]:
                    number += 1
                context.paragraph_of[sentence.index] = number
        return context.paragraph_of

    def _context_lines(self, sentence: Sentence | None = None) -> tuple[list[str], list[str], str]:
        sentence = sentence or self.sentence
        assert sentence is not None
        sentences = self._article(sentence.article_id).sentences
        mode = CONTEXT_MODES[self.context_mode]
        index = sentence.index
        if mode == "neighbours":
            before = [s.text for s in sentences if s.index == index - 1]
            after = [s.text for s in sentences if s.index == index + 1]
            note = ""
        elif mode == "paragraph":
            paragraph_of = self._paragraphs(sentence.article_id)
            mine = paragraph_of.get(index)
            before = [s.text for s in sentences if s.index < index and paragraph_of.get(s.index) == mine]
            after = [s.text for s in sentences if s.index > index and paragraph_of.get(s.index) == mine]
            note = "context: the whole paragraph (v: whole article)"
        else:
            before = [s.text for s in sentences if s.index < index]
            after = [s.text for s in sentences if s.index > index]
            note = "context: the whole article (v: sentences around only)"
        return before, after, note

    def go_to(self, position: int, *, restore: SessionEntry | None = None, message: str = "") -> bool:
        """Show the sentence at ``position`` (clamped); keep the current one's unsaved edits as a draft."""
        if self.count == 0:
            self.say("this dataset has no sentences")
            return False
        position = max(1, min(self.count, position))
        if self.editor is not None:
            self._sync_draft()  # a no-op unless an edit's draft could not be written
        if self.editor is not None and self.editor.is_dirty and self.position and restore is None:
            self.drafts[self.position] = content_of(self.editor)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.position != position:
            ahead = None
        row = ahead.row if ahead is not None else self.context.store.sentence_at(self.context.dataset, position)
        if row is None:
            self.say(f"no sentence {position}")
            return False
        sentence = row.sentence
        self.position = position
        self.sentence = sentence
        self.article_title = row.article_title
        self.decision = self.context.store.current_decision(sentence.id, self.context.annotator)
        if self.decision is not None and self.decision.answer is not None:
            base = SentenceEditor.from_decision(sentence.text, sentence.tokens, self.context.scheme, self.decision)
        else:
            rows = self.context.rows_for(sentence.id)
            if ahead is not None and ahead.editor is not None and ahead.rows == rows:
                base = ahead.editor  # made from these same rows while the previous sentence was shown
            else:
                base = SentenceEditor.from_suggestions(sentence.text, sentence.tokens, self.context.scheme, rows)
                base.place_cursor(base.opening_cursor())
        self._baseline = content_of(base)
        stored = self._load_draft(sentence)
        self._stored_draft = None if stored is None else normalized(*stored)
        self._synced = None
        # One path for every way back to a sentence with a draft (navigating within the session or
        # reopening): the saved decision / suggestions with the draft over them as one edit, so the
        # status line says so and u goes back to what is saved. What this session left here wins
        # over the store's draft only because that one may have failed to be kept.
        draft = self.drafts.pop(position, self._stored_draft)
        if restore is not None:
            editor = restore.editor
            editor.message = ""
        elif draft is not None and draft != self._baseline:
            editor = base
            editor.apply_draft(*draft)
            saved = "the saved decision" if self.decision is not None and self.decision.answer is not None else "the suggestions"
            message = (message + " · " if message else "") + (
                f"draft restored: edits not accepted yet (a accepts them, u goes back to {saved})"
            )
        else:
            editor = base
        self.editor = editor
        self.shown_at = time.monotonic()
        self.notice = message
        before, after, note = self._context_lines()
        self.query_one(SentenceView).show(editor, before, after, note)
        self._refresh_panels()
        self._sync_draft()
        self._refresh_header()
        self._maybe_request_suggestions()
        self.call_after_refresh(self._prepare_next)
        return True

    def _prepare_next(self) -> None:
        """Once this sentence is on screen: read the next one and lay it out with its suggestions,
        so that accepting this one mostly swaps (go_to checks that its suggestion rows are still
        the same, and reads the decision and draft again)."""
        position = self.position + 1
        if not self.is_attached or self.sentence is None or position > self.count:
            return
        if self._ahead is not None and self._ahead.position == position:
            return
        if self.context.navigation.refusal is not None:
            return
        store = self.context.store
        try:
            row = store.sentence_at(self.context.dataset, position)
            if row is None:
                return
            sentence = row.sentence
            decision = store.current_decision(sentence.id, self.context.annotator)
            if decision is not None and decision.answer is not None:
                self._ahead = SentenceAhead(position, row)
                return
            rows = self.context.rows_for(sentence.id)
        except AnnotatorError:
            return  # read again when it is shown (go_to says what went wrong)
        editor = SentenceEditor.from_suggestions(sentence.text, sentence.tokens, self.context.scheme, rows)
        editor.place_cursor(editor.opening_cursor())
        self._ahead = SentenceAhead(position, row, rows, editor)
        before, after, note = self._context_lines(sentence)
        self.query_one(SentenceView).prepare(editor, before, after, note)
        self.query_one(SpanList).prepare(editor)
        self.query_one(RelationList).prepare(editor)
        # The header (decided count as it is, or one more when this sentence is decided now) and the
        # status line of an accept.
        headers = {("header", parts): header_content(*parts) for parts in (
            self._header_parts_of(position, progress, "", row.article_title) for progress in (self.progress, self.progress + 1)
        )}
        status = self._status_of(f"{ANSWER_BADGES['accept']}: sentence {self.position} saved", editor.mode_hint)
        self._lines_ahead = {**headers, ("status", status): Content(status)}
        self.query_one("#header", TextLine).prerender(list(headers.values()))
        self.query_one("#status", TextLine).prerender([self._lines_ahead[("status", status)]])

    # -- drafts: the current sentence's unsaved edits, kept in the store ---------------------------

    def _load_draft(self, sentence: Sentence):
        try:
            return self.context.store.draft(sentence.id, self.context.annotator)
        except AnnotatorError as exc:
            self.notice = f"the draft could not be read: {exc.message}"
            return None

    def _sync_draft(self) -> None:
        """Keep the store's draft of this sentence equal to the editor: saved when its spans or
        relations differ from the saved decision / suggestions, discarded when they are back to it.

        Called after every edit; a no-op unless spans or relations changed (one small committed row).
        It also notes whether the editor differs from what is saved (``_unsaved``, for the header).
        """
        editor, sentence = self.editor, self.sentence
        if editor is None or sentence is None:
            return
        # The objects themselves, compared by identity: the editor replaces its tuples on every
        # change, and holding them keeps their ids from being reused by new ones (which ``id()``
        # values alone would allow, skipping a save).
        marker = (editor, editor.spans, editor.relations, editor.tokens)
        synced = self._synced
        if synced is not None and all(a is b for a, b in zip(marker, synced)):
            return
        content = content_of(editor)
        self._unsaved = content != self._baseline
        try:
            if content == self._baseline:
                if self._stored_draft is not None:
                    self.context.store.discard_draft(sentence.id, self.context.annotator)
                    self._stored_draft = None
                self.draft_positions.discard(self.position)
            elif content != self._stored_draft:
                self.context.store.save_draft(sentence, self.context.annotator, *content, tokens=editor.stored_tokens())
                self._stored_draft = content
                self.draft_positions.add(self.position)
            else:
                self.draft_positions.add(self.position)
        except AnnotatorError as exc:
            self.say(f"the draft could not be kept: {exc.message}")
            return
        self._synced = marker

    def _maybe_request_suggestions(self) -> None:
        """Ask for suggestions of this and the next sentences now and then."""
        request = self.context.suggestions
        last = self._suggest_requested_at
        if request is not None and (last is None or self.position < last or self.position >= last + 5):
            self._suggest_requested_at = self.position
            request(self.position)

    def suggestions_arrived(self, sentence_ids: set[int], notice: str = "") -> None:
        """The worker stored suggestions: show them if they are for this untouched, undecided sentence."""
        sentence = self.sentence
        if sentence is None or sentence.id not in sentence_ids or self.editor is None:
            return
        if self.editor.is_dirty or (self.decision is not None and self.decision.answer is not None):
            return
        cursor = self.editor.cursor
        editor = SentenceEditor.from_suggestions(sentence.text, sentence.tokens, self.context.scheme, self.context.rows_for(sentence.id))
        editor.place_cursor(cursor)
        self.editor = editor
        self._baseline = content_of(editor)
        self._sync_draft()
        self.query_one(SentenceView).editor = editor
        self.query_one(SentenceView).update_editor()
        self.notice = f"suggestions arrived ({len(editor.spans)} spans)" + (f"; {notice}" if notice else "")
        self._refresh_panels()

    # -- refreshing ----------------------------------------------------------------------------

    def say(self, message: str) -> None:
        """Show a screen message in the status line."""
        self.notice = message
        if self.editor is not None:
            self.editor.message = ""
        self._refresh_status()

    def _refresh_header(self) -> None:
        badge = ""
        if self.decision is not None and self.decision.answer is not None:
            badge = ANSWER_BADGES.get(self.decision.answer, self.decision.answer)
            if self._unsaved:  # the spans shown are a draft over the decision, not the decision
                badge += " · edited, not saved"
        parts = self._header_parts_of(self.position, self.progress, f"{badge} " if badge else "", self.article_title)
        if parts == self._header_parts:
            return  # the same line (an edit of an undecided sentence): nothing to render
        self._header_parts = parts
        made_ahead = self._lines_ahead.get(("header", parts))
        self.query_one("#header", TextLine).update(made_ahead if made_ahead is not None else header_content(*parts))

    def _header_parts_of(self, position: int, progress: int, badge: str, title: str) -> tuple:
        """What :func:`header_content` is given for a sentence (the title cut to 60 characters)."""
        title = (title[:60] + "…") if len(title) > 61 else title
        return (self.context.dataset, self.context.annotator, position, self.count, progress, badge, title)

    @staticmethod
    def _status_of(message: str, hint: str) -> str:
        return f"{message} · {hint}" if hint and message else message or hint

    def _refresh_status(self) -> None:
        editor = self.editor
        message = (editor.message if editor is not None else "") or self.notice
        text = self._status_of(message, editor.mode_hint if editor is not None else "")
        if text != self._status_text:
            self._status_text = text
            made_ahead = self._lines_ahead.get(("status", text))
            self.query_one("#status", TextLine).update(made_ahead if made_ahead is not None else Content(text))

    def _refresh_panels(self) -> None:
        editor = self.editor
        if editor is None:
            return
        self.query_one(SpanList).show(editor)
        self.query_one(RelationList).show(editor)
        bar = self.query_one(LabelBar)
        if editor.mode is Mode.PICK_RELATION:
            bar.show_relations(editor.allowed_relation_labels(), self.pick_relation, "new label" if editor.relabel_target else "relation")
        elif editor.mode is Mode.PICK_CHILD:
            bar.show_hint("choose the other span: tab / ←→ / its number, then enter (esc cancels)")
        else:
            bar.show_entities(self.context.scheme, self.apply_label)
        self._refresh_status()

    def _edited(self, _changed: bool = True) -> None:
        """After an editor operation: re-render the sentence and the small panels only."""
        self.notice = ""
        self._quit_armed = False
        self.query_one(SentenceView).update_editor()
        self._refresh_panels()
        unsaved = self._unsaved
        # The draft is committed before the screen shows the key's result, so an edit on screen
        # survives the process being killed (a commit without fsync: well under a millisecond).
        self._sync_draft()
        if self._unsaved != unsaved:
            self._refresh_header()

    # -- keys not in the keymap: label hotkeys, relation hotkeys, span numbers -----------------
    #
    # They are bindings too (added per scheme in ``_bind_hotkeys``), not an ``on_key`` handler: keys
    # handled on the screen would overtake bound keys still bubbling up to the app, so a fast
    # "r 3 7" could run as "3 7 r".

    def _bind_hotkeys(self) -> None:
        characters = {label.hotkey for label in self.context.scheme.entities if label.hotkey}
        characters |= {label.hotkey for label in self.context.scheme.relations if label.hotkey}
        characters |= set("0123456789")
        for character in sorted(characters):
            self._bindings.bind(key_name(character), f"hotkey({character!r})", show=False)

    def action_hotkey(self, character: str) -> None:
        """An entity hotkey, a relation hotkey (while picking a relation label) or a span number digit."""
        editor = self.editor
        if editor is None:
            return
        if editor.mode is Mode.PICK_RELATION:
            relation = self.context.scheme.relation_by_hotkey(character)
            if relation is not None:
                self.pick_relation(relation.name)
                return
        entity = self.context.scheme.entity_by_hotkey(character)
        if entity is not None:
            self.apply_label(entity.name)
        elif character.isdigit():
            self._edited(editor.type_digit(character))

    # -- actions called from markup (label bar, span list) and the palette ---------------------

    def apply_label(self, name: str) -> None:
        if self.editor is not None:
            self._edited(self.editor.apply_label(name))

    def action_apply_label(self, name: str) -> None:
        self.apply_label(name)

    def pick_relation(self, name: str) -> None:
        if self.editor is not None:
            self._edited(self.editor.pick_relation(name))

    def action_pick_relation(self, name: str) -> None:
        self.pick_relation(name)

    def action_jump_span(self, number: int) -> None:
        editor = self.editor
        if editor is not None and 1 <= number <= len(editor.spans):
            if editor.mode is Mode.PICK_CHILD:
                editor.move_to(editor.spans[number - 1].token_start)
                self._edited(editor.choose_child())
            else:
                self._edited(editor.move_to(editor.spans[number - 1].token_start))

    # -- mouse ---------------------------------------------------------------------------------

    def on_sentence_view_token_pressed(self, message: SentenceView.TokenPressed) -> None:
        editor = self.editor
        if editor is None:
            return
        if editor.mode is Mode.PICK_CHILD:
            editor.move_to(message.index)
            if editor.span_under_cursor() is not None:
                editor.choose_child()
            self._edited()
            return
        self._edited(editor.move_to(message.index))

    def on_sentence_view_tokens_dragged(self, message: SentenceView.TokensDragged) -> None:
        editor = self.editor
        if editor is None or editor.mode is not Mode.NORMAL:
            return
        if editor.selection == (min(message.first, message.last), max(message.first, message.last)):
            return
        self._edited(editor.select(message.first, message.last))

    def on_sentence_view_character_pressed(self, message: SentenceView.CharacterPressed) -> None:
        """ctrl+click on a character moves a boundary of the span under the cursor there (by
        character, splitting the word: "U.S." of "U.S.-made")."""
        if self.editor is not None and self.editor.mode is Mode.NORMAL:
            self._edited(self.editor.set_boundary(message.offset))

    def on_sentence_view_tag_pressed(self, message: SentenceView.TagPressed) -> None:
        """Clicking a span's tag starts a relation from it, or (while choosing) takes it as the child."""
        editor = self.editor
        if editor is None:
            return
        target = editor.find_span(message.key)
        if target is None:
            return
        editor.move_to(target.token_start)
        if editor.mode is Mode.PICK_CHILD:
            editor.choose_child()
        else:
            editor.start_relation()
        self._edited()

    # -- editing actions (binding ids) ---------------------------------------------------------

    def action_cursor_left(self) -> None:
        self._edited(self.editor.move(-1))

    def action_cursor_right(self) -> None:
        self._edited(self.editor.move(1))

    def action_extend_left(self) -> None:
        self._edited(self.editor.extend(-1))

    def action_extend_right(self) -> None:
        self._edited(self.editor.extend(1))

    def action_sentence_start(self) -> None:
        self._edited(self.editor.move_to_end(-1))

    def action_sentence_end(self) -> None:
        self._edited(self.editor.move_to_end(1))

    def action_next_word(self) -> None:
        self._edited(self.editor.word(1))

    def action_prev_word(self) -> None:
        self._edited(self.editor.word(-1))

    def action_extend_word_right(self) -> None:
        self._edited(self.editor.extend_word(1))

    def action_extend_word_left(self) -> None:
        self._edited(self.editor.extend_word(-1))

    def action_next_gap(self) -> None:
        self._edited(self.editor.next_gap(1))

    def action_prev_gap(self) -> None:
        self._edited(self.editor.next_gap(-1))

    def action_select_run(self) -> None:
        self._edited(self.editor.select_run())

    def _find(self, step: int, extend: bool) -> None:
        """j, J, k, K: the editor waits for a character, which the prompt line takes (the keys typed
        right after reach it in order, as for / and :)."""
        editor = self.editor
        if editor is None:
            return
        if not editor.begin_find(step, extend):
            self._edited(False)
            return
        self._edited()

        def chosen(character: str | None) -> None:
            if self.editor is not editor:
                return
            self._edited(editor.find_char(character) if character is not None else editor.cancel())

        verb = "Extend the selection to" if extend else "Jump to"
        where = "next" if step > 0 else "previous"
        self.prompt_bar.open_character(f"{verb} the {where} word starting with:", chosen)

    def action_find_next(self) -> None:
        self._find(1, False)

    def action_find_prev(self) -> None:
        self._find(-1, False)

    def action_extend_find_next(self) -> None:
        self._find(1, True)

    def action_extend_find_prev(self) -> None:
        self._find(-1, True)

    def action_split_span(self) -> None:
        self._edited(self.editor.split_span())

    def action_start_left(self) -> None:
        self._edited(self.editor.move_boundary("start", -1))

    def action_start_right(self) -> None:
        self._edited(self.editor.move_boundary("start", 1))

    def action_end_left(self) -> None:
        self._edited(self.editor.move_boundary("end", -1))

    def action_end_right(self) -> None:
        self._edited(self.editor.move_boundary("end", 1))

    def action_next_span(self) -> None:
        self._edited(self.editor.next_span(1))

    def action_prev_span(self) -> None:
        self._edited(self.editor.next_span(-1))

    def action_delete_span(self) -> None:
        self._edited(self.editor.delete_span())

    def action_confirm_span(self) -> None:
        self._edited(self.editor.confirm_or_cycle())

    def action_clear_selection(self) -> None:
        self._edited(self.editor.cancel())

    def action_relation_mode(self) -> None:
        self._edited(self.editor.start_relation())

    def action_next_relation(self) -> None:
        self._edited(self.editor.next_relation(1))

    def action_prev_relation(self) -> None:
        self._edited(self.editor.next_relation(-1))

    def action_delete_relation(self) -> None:
        self._edited(self.editor.delete_relation())

    def action_reverse_relation(self) -> None:
        self._edited(self.editor.reverse_relation())

    def action_relabel_relation(self) -> None:
        self._edited(self.editor.relabel_relation())

    # -- deciding ------------------------------------------------------------------------------

    def _decide(self, answer: str) -> None:
        editor, sentence = self.editor, self.sentence
        if editor is None or sentence is None:
            return
        if editor.mode is not Mode.NORMAL:
            editor.message = "finish the relation first (press its label key) or cancel it with esc"
            self._refresh_status()
            return
        spans, relations = editor.to_decision()
        seconds = round(time.monotonic() - self.shown_at, 3)
        try:
            decision = self.context.store.add_decision(
                sentence,
                annotator=self.context.annotator,
                answer=answer,
                spans=spans,
                relations=relations,
                session=self.context.session,
                seconds=seconds,
                allow_overlaps=self.context.scheme.allow_overlaps,
                tokens=editor.stored_tokens(),
            )
        except AnnotatorError as exc:
            self.say(f"not saved: {exc.message}")
            return
        self.session_stack.append(SessionEntry(self.position, decision, editor))
        if self.context.decided is not None:
            self.context.decided(sentence, decision)
        self.drafts.pop(self.position, None)
        self.draft_positions.discard(self.position)  # add_decision removed the stored draft
        self.progress = self._progress_after(decision)
        done = f"{ANSWER_BADGES.get(answer, answer)}: sentence {self.position} saved"
        self.editor = None  # decided: nothing to keep as a draft
        if self.context.queue is not None or self._routed:
            following = self._hand_out(self.position)
            if following is None:
                self.go_to(self.position, message=f"{done}; all {self.count} sentences are decided")
            elif self.context.queue is None and following <= self.position:
                self.go_to(following, message=f"{done}; back to the first undecided sentence")
            else:
                self.go_to(following, message=done)
            return
        if self.position < self.count:
            self.go_to(self.position + 1, message=done)
            return
        following = self.context.store.first_undecided(self.context.dataset, self.context.annotator)
        if following is not None:
            self.go_to(following, message=f"{done}; back to the first undecided sentence")
        else:
            self.go_to(self.position, message=f"{done}; all {self.count} sentences are decided")

    def _progress_after(self, decision: Decision) -> int:
        """The decided count after ``decision``, without counting the annotator's decisions again
        when the row it superseded is the one this screen read (the usual case: a count over every
        decided sentence on each accept would grow with the dataset). Every ``RECOUNT_EVERY``
        decisions it is counted again, for this annotator's decisions made elsewhere meanwhile
        (another browser tab of ``serve``, a merge, an import under the same name)."""
        before = self.decision
        self._decided_since_count += 1
        if self._decided_since_count >= RECOUNT_EVERY:
            self._decided_since_count = 0
            return self.context.store.progress(self.context.dataset, self.context.annotator)
        if decision.supersedes is None:
            return self.progress + 1
        if before is not None and before.id == decision.supersedes:
            return self.progress + (1 if before.answer is None else 0)
        return self.context.store.progress(self.context.dataset, self.context.annotator)

    @property
    def _routed(self) -> bool:
        """The dataset routes sentences (``overlap: N``): each one is handed out and claimed."""
        return isinstance(self._overlap, int)

    def _hand_out(self, after: int) -> int | None:
        """The next sentence for this annotator after position ``after`` (0: from the start): the
        queue's next (``--order``), else with routing the first undecided sentence after it that
        has room (then from the top), else the first undecided one. With routing the sentence is
        claimed (``Store.claim``) so a screen opened at the same moment is handed another one;
        one that another screen claimed first is passed over."""
        store, dataset, annotator = self.context.store, self.context.dataset, self.context.annotator
        queue = self.context.queue
        if queue is not None:
            candidates = iter(lambda: queue(after), None)  # the queue wraps round by itself
        elif not self._routed:
            return store.first_undecided(dataset, annotator)
        else:
            candidates = self._undecided_from(after + 1 if after > 0 else 1)
        for position in candidates:
            if not self._routed:
                return position
            try:
                if store.claim(dataset, annotator, position):
                    return position
            except AnnotatorError:
                return position  # the claim cannot be written (the database stayed locked): unclaimed
            after = position
        return None

    def _draft_to_resume(self) -> int | None:
        """Where the annotator left edits unsaved (the draft edited last), to open there; with
        routing only if it can be claimed again (else someone else has it now)."""
        store, dataset, annotator = self.context.store, self.context.dataset, self.context.annotator
        position = store.last_draft_position(dataset, annotator)
        if position is None or not self._routed:
            return position
        try:
            return position if store.claim(dataset, annotator, position) else None
        except AnnotatorError:
            return position

    def _undecided_from(self, start: int):
        """Undecided sentences with room from ``start`` on, then from the top (each at most twice)."""
        store, dataset, annotator = self.context.store, self.context.dataset, self.context.annotator
        for begin in (start, 1) if start > 1 else (1,):
            position = store.first_undecided(dataset, annotator, begin)
            while position is not None:
                yield position
                position = store.first_undecided(dataset, annotator, position + 1)

    def action_choose_child(self) -> None:
        """Enter while choosing a relation's other span chooses it; otherwise enter goes on to accept."""
        editor = self.editor
        if editor is None or editor.mode is not Mode.PICK_CHILD:
            raise SkipAction()
        self._edited(editor.choose_child())

    def action_accept(self) -> None:
        self._decide("accept")

    def action_reject(self) -> None:
        self._decide("reject")

    def action_skip(self) -> None:
        if self._refused():
            return
        if self.position >= self.count:
            self.say("this is the last sentence")
            return
        self.go_to(self.position + 1, message=f"skipped sentence {self.position} (no decision saved)")

    def action_undo(self) -> None:
        editor = self.editor
        if editor is not None and editor.is_dirty:
            self._edited(editor.undo_edit())
            return
        if not self.session_stack:
            self.say("nothing to undo in this session")
            return
        entry = self.session_stack[-1]
        try:
            restored = self.context.store.undo(entry.decision, session=self.context.session)
        except AnnotatorError as exc:
            self.session_stack.pop()
            self.say(f"cannot undo: {exc.message}")
            return
        self.session_stack.pop()
        if self.context.decided is not None:
            self.context.decided(self.context.store.sentence(restored.sentence_id), restored)
        self.progress = self.context.store.progress(self.context.dataset, self.context.annotator)
        answer = ANSWER_BADGES.get(entry.decision.answer or "", entry.decision.answer)
        self.go_to(entry.position, restore=entry, message=f"undone ({answer}): sentence {entry.position} is as before")

    # -- moving between sentences --------------------------------------------------------------

    def _refused(self) -> bool:
        """True (and the context's refusal shown) when this screen may not move between sentences."""
        refusal = self.context.navigation.refusal
        if refusal is not None:
            self.say(refusal)
        return refusal is not None

    def action_prev_sentence(self) -> None:
        if self._refused():
            return
        if self.position <= 1:
            self.say("this is the first sentence")
            return
        self.go_to(self.position - 1)

    def action_next_sentence(self) -> None:
        if self._refused():
            return
        if self.position >= self.count:
            self.say("this is the last sentence")
            return
        self.go_to(self.position + 1)

    def action_goto(self) -> None:
        if self._refused():
            return

        def chosen(value: str | None) -> None:
            if value is None or not value.strip():
                return
            text = value.strip()
            if not text.isdigit() or not 1 <= int(text) <= self.count:
                self.say(f"no sentence {text!r}: type a number from 1 to {self.count}")
                return
            self.go_to(int(text))

        self.prompt_bar.open(f"Go to sentence (1-{self.count}):", chosen, placeholder="number")

    def action_search(self) -> None:
        if self._refused():
            return

        def chosen(value: str | None) -> None:
            if value is None or not value.strip():
                return
            self.last_search = value
            found = self.context.store.search(self.context.dataset, value, after_position=self.position)
            if found is None:
                self.say(f"{value!r} is not in any sentence")
                return
            wrapped = " (from the top)" if found <= self.position else ""
            self.go_to(found, message=f"found {value!r} in sentence {found}{wrapped}")

        self.prompt_bar.open(
            "Search the text (from the next sentence, wraps around):", chosen, placeholder="text", value=self.last_search
        )

    def action_toggle_context(self) -> None:
        self.context_mode = (self.context_mode + 1) % len(CONTEXT_MODES)
        if self.sentence is None or self.editor is None:
            return
        before, after, note = self._context_lines()
        view = self.query_one(SentenceView)
        view.show(self.editor, before, after, note)
        self.say(f"context: {CONTEXT_MODES[self.context_mode]}")

    def action_help(self) -> None:
        from .help import HelpScreen  # built when asked for: not imported at start

        self.app.push_screen(HelpScreen(self.context.scheme, self.context.annotate_keys))

    def action_quit(self) -> None:
        """Quit. Edits not accepted are kept as drafts (in the store, after every edit); when there
        are any, the first press says so and a second one quits."""
        self._sync_draft()
        unsaved = len(self.draft_positions)
        if unsaved and not self._quit_armed:
            self._quit_armed = True
            if self.draft_positions == {self.position}:
                which, kept = "this sentence has", "a draft"
            else:
                which, kept = f"{unsaved} sentence{'s have' if unsaved != 1 else ' has'}", "drafts"
            self.say(f"{which} edits not accepted: q again quits and keeps them as {kept} for next time")
            return
        self.app.exit()
