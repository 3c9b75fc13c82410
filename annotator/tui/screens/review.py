"""The review screen: one sentence at a time, every annotator version side by side (stacked), into gold.

The queue (:class:`~annotator.tui.review_state.ReviewQueue`) is built by the app's worker; this
screen renders the current item and turns keys into gold decisions of the reviewer
(``Store.add_decision(..., gold=True, meta={"resolves", "versions", "method"})``), each committed
before the screen moves on. Every key does O(1) work on the queue plus one sentence read; only
``A`` (store all agreed sentences) and ``t`` (rebuild nothing, just switch lists) touch more.

Editing a version opens :class:`~annotator.tui.screens.review_edit.VersionEditScreen`, which is the
annotate screen narrowed to one sentence, so the editing keys are the annotate screen's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TypeVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...editing import SentenceEditor
from ...errors import AnnotatorError
from ...keymap import REVIEW_KEYMAP, binding_id, keys_display
from ...model import Decision, Relation, Sentence, Span
from ...review import ReviewItem, VersionGroup, diff_spans
from ...gold import METHOD_AGREED, METHOD_CHOSEN, METHOD_EDITED, METHOD_REJECTED, store_gold
from ..context import ScreenContext
from ..review_state import ReviewQueue, matching_group
from ..widgets.span_list import fit
from ..widgets.version_panel import (
    DIFF_MARK,
    DIFF_STYLE,
    VersionPanel,
    annotated_content,
    group_title,
    relations_not_shared,
    version_content,
)
from .help import HelpScreen, help_content
from ..widgets.prompt_bar import PromptBar
from .annotate import ArticleContext, article_context
from .review_edit import VersionEditScreen

T = TypeVar("T")

REVIEW_FOOTER_NAMES = {
    "take_selected": "take",
    "edit": "edit",
    "reject": "reject",
    "undo": "undo",
    "next": "next",
    "prev": "prev",
    "toggle_agreed": "agreed",
    "accept_agreed": "all agreed",
    "help": "help",
    "quit": "quit",
}
"""Short Footer names of the review bindings shown there (``take`` has its own ``1-9`` entry)."""


def count(n: int, noun: str) -> str:
    """``1 sentence``, ``2 sentences``.

    >>> count(1, "sentence"), count(3, "agreed sentence")
    ('1 sentence', '3 agreed sentences')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def review_bindings() -> list[Binding]:
    """The review screen's bindings; ``1``..``9`` call ``take(N)`` (one Footer entry for all)."""
    bindings = []
    for action, (keys, description) in REVIEW_KEYMAP.items():
        if action == "take":
            for n in range(1, 10):
                bindings.append(
                    Binding(str(n), f"take({n})", "take version", show=n == 1, key_display="1-9", id=f"review_take_{n}", tooltip=description)
                )
            continue
        short = REVIEW_FOOTER_NAMES.get(action)
        bindings.append(
            Binding(keys, action, short or description, show=short is not None, id=binding_id("review_keys", action), tooltip=description)
        )
    return bindings


@dataclass
class GoldEntry:
    """Gold decisions made by one key of this session (one, or many for ``A``), for undo."""

    decisions: tuple[Decision, ...]
    bulk: bool = False


class VersionSelected(Message):
    """A version panel was clicked."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number


class ClickableVersionPanel(VersionPanel):
    """A version panel that selects its version when clicked."""

    number = 0
    """1-based version number shown (0 for the gold panel)."""

    def on_click(self, event: events.Click) -> None:
        if self.number:
            self.post_message(VersionSelected(self.number))


class ReviewHelpScreen(HelpScreen):
    """The review keys, then the annotate keys that work while a version is edited."""

    def __init__(self, scheme, keymap: dict[str, str], review_keys: dict[str, str]) -> None:
        super().__init__(scheme, keymap)
        self.review_keys = review_keys
        """Review id -> keys as bound now."""

    def compose(self) -> ComposeResult:
        parts = [Content.from_markup("[b]Review keys[/]\n")]
        for action, (_default, description) in REVIEW_KEYMAP.items():
            shown = "1 … 9" if action == "take" else keys_display(self.review_keys[action])
            parts.append(Content.from_markup("  [b]$keys[/] $description\n", keys=f"{shown:<18}", description=description))
        parts.append(
            Content.assemble(
                "\nIn each version, spans and relations marked ",
                (DIFF_MARK, DIFF_STYLE),
                " (underlined) are not in every version that accepted the sentence. Gold decisions are stored at once; u walks them back.\n\n",
            )
        )
        parts.append(
            Content.from_markup(
                "[b]While editing a version[/] (e): the annotate screen's keys, except that q goes back to the"
                " versions (a second q when the copy is edited; the copy is not kept as a draft)\n\n"
            )
        )
        parts.append(help_content(self.scheme, self.keymap))
        with VerticalScroll(id="help-box"):
            yield Static(Content.assemble(*parts), id="help-text")


class ReviewScreen(Screen):
    """Header, progress line, the sentence with context, one panel per version, status and footer."""

    BINDINGS = review_bindings()

    def __init__(self, context: ScreenContext) -> None:
        super().__init__()
        self.context = context
        """Store, scheme, dataset, reviewer (as annotator) and session, from the review app."""
        self.queue: ReviewQueue | None = None
        """The review queue (None until the app's worker has built it)."""
        self.selected = 0
        """Index of the selected version of the current item."""
        self.pending_edit = False
        """True after ``e``: a digit (or e / enter) chooses the version to edit.

        Kept in bindings only (never read in ``on_key``): a key's ``on_key`` runs on the screen
        before the previous key's binding has run on the app, so mixing the two races when keys
        come fast (typed ahead, pasted, or sent by tmux)."""
        self.session_stack: list[GoldEntry] = []
        """Gold decisions of this session, newest last (what ``u`` walks back)."""
        self.session_count = 0
        """Gold decisions stored in this session (minus those undone)."""
        self.notice = ""
        """The status line's message."""
        self.sentence_count = 0
        """Sentences in the dataset (for "sentence 14 of 22")."""
        self._sentence: Sentence | None = None
        self._shown_sentence_id: int | None = None
        self._titles: dict[int, str] = {}
        self._articles: dict[int, ArticleContext] = {}

    # -- shortcuts -----------------------------------------------------------------------------

    @property
    def reviewer(self) -> str:
        """Whose gold decisions are written (the context's annotator)."""
        return self.context.annotator

    @property
    def symmetric_labels(self) -> frozenset[str]:
        return frozenset(r.name for r in self.context.scheme.relations if r.symmetric)

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="review-progress")
        with VerticalScroll(id="review-body", can_focus=False):
            yield Static(id="review-sentence")
            yield Static(id="review-summary")
            yield ClickableVersionPanel(id="gold-panel")
        yield PromptBar(id="prompt")
        yield Static(id="status")
        yield Footer()

    @property
    def prompt_bar(self) -> PromptBar:
        """The one-line prompt of : (the app hands it the keys while it is open)."""
        return self.query_one(PromptBar)

    def on_mount(self) -> None:
        self.sentence_count = self.context.store.sentence_count(self.context.dataset)
        self.query_one("#gold-panel").display = False
        self.query_one("#header", Static).update(
            Content.from_markup("[b]$dataset[/] · review by $reviewer", dataset=self.context.dataset, reviewer=self.reviewer)
        )
        self.query_one("#review-sentence", Static).update(Content.from_markup("[dim]building the review queue…[/]"))

    def queue_loaded(self, queue: ReviewQueue) -> None:
        """The app's worker built the queue: show its first sentence without gold."""
        self.queue = queue
        message = ""
        if len(queue) and queue.unsettled == 0:
            message = f"every one of the {len(queue)} sentences in the queue has gold already (digits replace it)"
        elif queue.settled:
            message = f"{count(queue.settled, 'sentence')} of the queue had gold from {self.reviewer} already: starting at the first without"
        self.show(message)

    def on_resize(self, event: events.Resize) -> None:
        if self.queue is not None:
            self.show(self.notice)

    def queue_failed(self, problem: str) -> None:
        self.query_one("#review-sentence", Static).update(Content(f"the review queue could not be built: {problem}"))

    # -- rendering -----------------------------------------------------------------------------

    def _load_sentence(self, sentence_id: int) -> Sentence:
        if self._sentence is None or self._sentence.id != sentence_id:
            self._sentence = self.context.store.sentence(sentence_id)
        return self._sentence

    def _title(self, article_id: int) -> str:
        if article_id not in self._titles:
            if len(self._titles) > 64:
                self._titles.clear()
            self._titles[article_id] = self.context.store.article(article_id).title
        return self._titles[article_id]

    def _neighbours(self, sentence: Sentence) -> tuple[str, str]:
        sentences = article_context(self.context.store, self._articles, sentence.article_id).sentences
        before = sentences[sentence.index - 1].text if 0 < sentence.index <= len(sentences) else ""
        after = sentences[sentence.index + 1].text if sentence.index + 1 < len(sentences) else ""
        return before, after

    def _panels(self) -> list[ClickableVersionPanel]:
        return [p for p in self.query(ClickableVersionPanel) if p.id != "gold-panel"]

    def show(self, message: str = "") -> None:
        """Render the current item (and ``message`` in the status line)."""
        self.notice = message
        queue = self.queue
        item = queue.current if queue is not None else None
        if queue is None:
            return
        self._refresh_progress()
        if item is None:
            self._show_empty()
            return
        sentence = self._load_sentence(item.sentence_id)
        if item.sentence_id != self._shown_sentence_id:  # a new sentence starts at the top
            self._shown_sentence_id = item.sentence_id
            self.query_one("#review-body", VerticalScroll).scroll_home(animate=False)
        self.selected = max(0, min(self.selected, len(item.groups) - 1))
        self._refresh_header(item, sentence)
        before, after = self._neighbours(sentence)
        width = max(20, self.size.width - 8)  # the neighbours take one line each, the sentence all it needs
        parts: list = []
        if before:
            parts.append((fit(before.replace("\n", " "), width) + "\n", "dim"))
        parts.append((sentence.text.replace("\n", " "), "bold"))
        if after:
            parts.append(("\n" + fit(after.replace("\n", " "), width), "dim"))
        self.query_one("#review-sentence", Static).update(Content.assemble(*parts))
        self._refresh_versions(item, sentence)
        self._refresh_status()

    def _show_empty(self) -> None:
        queue = self.queue
        assert queue is not None
        hint = ""
        if not queue.include_agreed and queue.n_agreed:
            hint = f" · t shows the {queue.n_agreed} sentences where everyone agreed; A stores them as gold"
        self.query_one("#header", Static).update(
            Content.from_markup("[b]$dataset[/] · review by $reviewer", dataset=self.context.dataset, reviewer=self.reviewer)
        )
        self.query_one("#review-sentence", Static).update(
            Content(f"nothing to review: no sentence has differing versions from at least two annotators{hint}")
        )
        self.query_one("#review-summary", Static).update("")
        self.query_one("#gold-panel").display = False
        for panel in self._panels():
            panel.display = False
        self._refresh_status()

    def _refresh_header(self, item: ReviewItem, sentence: Sentence) -> None:
        queue = self.queue
        assert queue is not None
        gold = queue.gold.get(item.sentence_id)
        badge = ""
        if gold is not None:
            match = matching_group(item, gold, self.symmetric_labels)
            if match is not None:
                badge = f"★ gold: version {match + 1}"
            else:
                badge = "★ gold: edited" if gold.answer == "accept" else f"★ gold: {gold.answer}"
        title = self._title(sentence.article_id)
        content = Content.from_markup(
            "[b]$dataset[/] · review by $reviewer · sentence [b]$position[/] of $count · [i]$title[/]  [b green]$badge[/]",
            dataset=self.context.dataset,
            reviewer=self.reviewer,
            position=str(sentence.position),
            count=str(self.sentence_count),
            title=(title[:50] + "…") if len(title) > 51 else title,
            badge=badge,
        )
        self.query_one("#header", Static).update(content)

    def _refresh_progress(self) -> None:
        queue = self.queue
        assert queue is not None
        which = "all sentences with 2+ versions" if queue.include_agreed else "disagreements"
        position = f"item [b]{queue.index + 1}[/] of {len(queue)}" if len(queue) else "no items"
        pending = queue.agreed_pending
        agreed = (
            f" · [b]{count(pending, 'agreed sentence')}[/] not gold yet ([b]A[/] stores them)" if pending else " · every agreed sentence is gold"
        ) if queue.n_agreed else ""
        content = Content.from_markup(
            f"{position} ($which) · gold so far [b]$settled[/] of $total · this session $session{agreed}",
            which=which,
            settled=str(queue.settled),
            total=str(len(queue)),
            session=str(self.session_count),
        )
        self.query_one("#review-progress", Static).update(content)

    def _refresh_versions(self, item: ReviewItem, sentence: Sentence) -> None:
        queue = self.queue
        assert queue is not None
        groups = item.groups
        symmetric = self.symmetric_labels
        # Differences among the versions that accepted: a rejection's missing spans are no news.
        accepting = [g for g in groups if g.answer == "accept"]
        span_diffs = diff_spans(accepting)
        relation_diffs = relations_not_shared(accepting, symmetric)
        gold = queue.gold.get(item.sentence_id)
        gold_match = matching_group(item, gold, symmetric) if gold is not None else None
        # Who agreed with whom, in one line.
        if not groups:
            summary = "no decided version now: every decision on it was undone after the queue was read"
        elif item.agreed:
            summary = f"all {item.n_versions} annotators agree: " + ", ".join(groups[0].annotators)
        else:
            summary = f"{item.n_versions} annotators, {len(groups)} versions: " + " | ".join(
                f"{n} {' + '.join(g.annotators)}" for n, g in enumerate(groups, start=1)
            )
        legend = () if item.agreed else (("   ", ""), (DIFF_MARK, DIFF_STYLE), (" not in every accepting version", "dim"))
        self.query_one("#review-summary", Static).update(Content.assemble(summary, *legend))
        gold_panel = self.query_one("#gold-panel", ClickableVersionPanel)
        if gold is not None and gold_match is None:
            body = annotated_content(self.context.scheme, sentence.text, gold.spans, gold.relations, symmetric_labels=symmetric)
            if gold.answer != "accept":
                verb = {"reject": "rejected", "ignore": "ignored"}.get(gold.answer or "", str(gold.answer))
                body = Content.from_markup("[dim i]$who $verb the sentence[/]", who=self.reviewer, verb=verb)
            method = gold.meta.get("method", "")
            source = ", ".join(gold.meta.get("versions") or [])
            how = f" · {method}" + (f" from {source}" if method == METHOD_EDITED and source else "") if method else ""
            gold_panel.show_version(f"★ gold by {self.reviewer}{how}", "", body, gold=True)
        else:
            gold_panel.display = False
        panels = self._panels()
        body = self.query_one("#review-body", VerticalScroll)
        while len(panels) < len(groups):
            panel = ClickableVersionPanel()
            body.mount(panel)
            panels.append(panel)
        for n, panel in enumerate(panels):
            if n >= len(groups):
                panel.display = False
                continue
            group = groups[n]
            diff = span_diffs.get(group.annotators)
            marked = {(s.start, s.end, s.label) for s in (*diff.unique, *diff.partial)} if diff else set()
            marked_relations = relation_diffs.get(group.annotators, set())
            content = version_content(self.context.scheme, sentence.text, group, marked, marked_relations, symmetric)
            differing = len(marked) + len(marked_relations)
            notes = [f"{differing} {DIFF_MARK}"] if differing else []
            if gold_match == n:
                notes.append("★ gold")
            subtitle = " · ".join(notes)
            panel.number = n + 1
            panel.show_version(group_title(n + 1, group), subtitle, content, selected=n == self.selected, gold=gold_match == n)

    def _refresh_status(self) -> None:
        text = self.notice
        if self.pending_edit:
            item = self.queue.current if self.queue is not None else None
            n_versions = len(item.groups) if item is not None else 0
            text = f"edit which version? 1-{n_versions} (e or enter: the selected one, {self.selected + 1}; esc cancels)"
        self.query_one("#status", Static).update(Content(text))

    def say(self, message: str) -> None:
        self.notice = message
        self._refresh_status()

    def on_version_selected(self, message: VersionSelected) -> None:
        self._select(message.number - 1)

    # -- helpers -------------------------------------------------------------------------------

    def _current(self) -> ReviewItem | None:
        item = self.queue.current if self.queue is not None else None
        if item is None:
            self.say("nothing to review here" if self.queue is not None else "the review queue is still being built")
        return item

    def _current_version(self, number: int) -> tuple[ReviewItem, VersionGroup] | None:
        """The current item and its version ``number`` (1-based), or None (and the reason shown)."""
        item = self._current()
        group = self._group(item, number) if item is not None else None
        return (item, group) if item is not None and group is not None else None

    def _group(self, item: ReviewItem, number: int) -> VersionGroup | None:
        if not 1 <= number <= len(item.groups):
            self.say(f"no version {number}: this sentence has {len(item.groups)} (1-{len(item.groups)})")
            return None
        return item.groups[number - 1]

    def store_gold(
        self, item: ReviewItem, answer: str, spans: Sequence[Span], relations: Sequence[Relation], chosen: VersionGroup | None, method: str
    ) -> str | None:
        """Store the reviewer's gold decision for the item (one transaction); a problem, or None."""
        try:
            decision = self._write_gold(item, answer, spans, relations, chosen, method)
        except AnnotatorError as exc:
            return exc.message
        assert self.queue is not None
        self.queue.set_gold(item.sentence_id, decision)
        self.session_stack.append(GoldEntry((decision,)))
        self.session_count += 1
        return None

    def _write_gold(
        self, item: ReviewItem, answer: str, spans: Sequence[Span], relations: Sequence[Relation], chosen: VersionGroup | None, method: str
    ) -> Decision:
        """The reviewer's gold decision for the item, committed (:func:`annotator.gold.store_gold` with this context)."""
        return store_gold(
            self.context.store, item, reviewer=self.reviewer, answer=answer, spans=spans, relations=relations,
            chosen=chosen, method=method, session=self.context.session, allow_overlaps=self.context.scheme.allow_overlaps,
        )

    def _advance(self, done: str) -> None:
        """After a gold decision: the next item, or (at the end) the first one still without gold."""
        queue = self.queue
        assert queue is not None
        self.selected = 0
        if queue.move(1):
            self.show(done)
            return
        first = queue.first_unsettled()
        if first is not None:
            queue.index = first
            self.show(f"{done}; end of the queue: back to the first sentence without gold")
        else:
            self.show(f"{done}; every one of the {len(queue)} sentences in the queue has gold")

    def _select(self, index: int) -> None:
        item = self.queue.current if self.queue is not None else None
        if item is None:
            return
        self.selected = max(0, min(index, len(item.groups) - 1))
        panels = self._panels()
        for n, panel in enumerate(panels[: len(item.groups)]):
            panel.set_class(n == self.selected, "-selected")
        if self.selected < len(panels):
            self.query_one("#review-body", VerticalScroll).scroll_to_widget(panels[self.selected], animate=False)
        self.notice = ""
        self._refresh_status()

    def _in_one_transaction(self, items: Iterable[T], write: Callable[[T], Decision]) -> tuple[list[Decision], list[str]]:
        """``write`` each item in one transaction: the rows written, and the problems of those refused
        (the others go on). An ``AnnotatorError`` of the transaction itself is raised."""
        written: list[Decision] = []
        problems: list[str] = []
        with self.context.store.transaction():
            for item in items:
                try:
                    written.append(write(item))
                except AnnotatorError as exc:
                    problems.append(exc.message)
        return written, problems

    @staticmethod
    def _reject_group(item: ReviewItem) -> VersionGroup | None:
        return next((g for g in item.groups if g.answer == "reject"), None)

    # -- actions -------------------------------------------------------------------------------

    def _queue(self) -> ReviewQueue | None:
        """Before an action on the queue: leave the "edit which version?" state; the queue, once built."""
        self._disarm()
        return self.queue

    def _disarm(self) -> bool:
        """Leave the "edit which version?" state; True when it was on."""
        was = self.pending_edit
        self.pending_edit = False
        return was

    def action_cancel(self) -> None:
        if self._disarm():
            self.say("edit cancelled")

    def action_take(self, number: int) -> None:
        if self._disarm():
            self.start_edit(number)
            return
        chosen = self._current_version(number)
        if chosen is None:
            return
        item, group = chosen
        problem = self.store_gold(item, group.answer, group.spans, group.relations, group, METHOD_CHOSEN)
        if problem:
            self.say(f"not stored: {problem} (e {number} edits a copy to fix it)")
            return
        self._advance(f"version {number} ({', '.join(group.annotators)}) is gold for sentence {self._load_sentence(item.sentence_id).position}")

    def action_take_selected(self) -> None:
        self.action_take(self.selected + 1)  # after e: edits the selected version

    def action_reject(self) -> None:
        self._disarm()
        item = self._current()
        if item is None:
            return
        problem = self.store_gold(item, "reject", (), (), self._reject_group(item), METHOD_REJECTED)
        if problem:
            self.say(f"not stored: {problem}")
            return
        self._advance(f"gold: sentence {self._load_sentence(item.sentence_id).position} rejected")

    def action_edit(self) -> None:
        if self._disarm():  # e e: the selected version
            self.start_edit(self.selected + 1)
            return
        item = self._current()
        if item is None:
            return
        if len(item.groups) == 1:
            self.start_edit(1)
            return
        self.pending_edit = True
        self._refresh_status()

    def start_edit(self, number: int) -> None:
        """Open the annotate screen on a copy of version ``number``; its accept stores gold."""
        chosen = self._current_version(number)
        if chosen is None:
            return
        item, group = chosen
        sentence = self._load_sentence(item.sentence_id)
        first = item.sentence.versions.get(group.annotators[0])
        if group.answer == "accept" and first is not None:
            editor = SentenceEditor.from_decision(sentence.text, sentence.tokens, self.context.scheme, first)
        else:
            editor = SentenceEditor(sentence.text, sentence.tokens, self.context.scheme)
        if editor.spans:
            editor.place_cursor(editor.spans[0].token_start)
        description = f"version {number} ({', '.join(group.annotators)})"

        def save(answer: str, spans, relations, changed: bool) -> str | None:
            if answer == "reject":
                return self.store_gold(item, "reject", (), (), self._reject_group(item), METHOD_REJECTED)
            return self.store_gold(item, answer, spans, relations, group, METHOD_EDITED if changed else METHOD_CHOSEN)

        def done(stored: bool | None) -> None:
            if stored:
                gold = self.queue.gold.get(item.sentence_id) if self.queue is not None else None
                method = gold.meta.get("method") if gold is not None else None
                what = {
                    METHOD_REJECTED: "rejected as gold",
                    METHOD_CHOSEN: f"{description} is gold (unchanged)",
                }.get(method, f"edited {description} is gold")
                self._advance(f"sentence {sentence.position}: {what}")
            else:
                self.show(f"edit of {description} discarded: nothing stored")

        self.app.push_screen(VersionEditScreen(self.context, sentence, self._title(sentence.article_id), editor, description, save), done)

    def action_undo(self) -> None:
        self._disarm()
        queue = self.queue
        if queue is None or not self.session_stack:
            self.say("nothing to undo in this session")
            return
        entry = self.session_stack[-1]
        try:  # a decision changed elsewhere since is left as it is (a problem)
            restored, problems = self._in_one_transaction(
                entry.decisions, lambda decision: self.context.store.undo(decision, session=self.context.session)
            )
        except AnnotatorError as exc:
            self.say(f"cannot undo: {exc.message}")
            return
        self.session_stack.pop()
        for row in restored:
            queue.set_gold(row.sentence_id, row)
        self.session_count -= len(restored)
        note = f" ({len(problems)} not undone: {problems[0]})" if problems else ""
        if entry.bulk:
            self.show(f"undone: {count(len(restored), 'agreed sentence')} no longer gold{note}")
            return
        sentence_id = entry.decisions[0].sentence_id
        index = queue.index_of(sentence_id)
        if index is None:  # an agreed sentence while those are hidden
            queue.set_include_agreed(True)
            index = queue.index_of(sentence_id)
        if index is not None:
            queue.index = index
        self.selected = 0
        state = "its gold is as before" if queue.gold.get(sentence_id) is not None else "it has no gold again"
        self.show(f"undone: back to sentence {self._load_sentence(sentence_id).position}, {state}{note}")

    def action_accept_agreed(self) -> None:
        queue = self._queue()
        if queue is None:
            return
        pending = queue.agreed_without_gold()
        if not pending:
            self.say("every sentence where the annotators agree has gold already")
            return

        def store_agreed(item: ReviewItem) -> Decision:
            group = item.groups[0]
            return self._write_gold(item, group.answer, group.spans, group.relations, group, METHOD_AGREED)

        try:  # one refused before writing: the others go on
            stored, problems = self._in_one_transaction(pending, store_agreed)
        except AnnotatorError as exc:
            self.say(f"nothing stored: {exc.message}")
            return
        for decision in stored:
            queue.set_gold(decision.sentence_id, decision)
        if stored:
            self.session_stack.append(GoldEntry(tuple(stored), bulk=True))
            self.session_count += len(stored)
        note = f"; {len(problems)} refused (first: {problems[0]})" if problems else ""
        self.show(f"{count(len(stored), 'sentence')} where everyone agreed stored as gold (u undoes them together){note}")

    def action_toggle_agreed(self) -> None:
        queue = self._queue()
        if queue is None:
            return
        queue.set_include_agreed(not queue.include_agreed)
        self.selected = 0
        if queue.include_agreed:
            self.show(f"showing every sentence with 2+ versions, the {queue.n_agreed} agreed ones too (t hides them)")
        else:
            self.show("showing the disagreements only (t shows the agreed sentences too)")

    def action_next(self) -> None:
        queue = self._queue()
        if queue is None:
            return
        if not queue.move(1):
            self.say("this is the last sentence in the queue")
            return
        self.selected = 0
        self.show()

    def action_prev(self) -> None:
        queue = self._queue()
        if queue is None:
            return
        if not queue.move(-1):
            self.say("this is the first sentence in the queue")
            return
        self.selected = 0
        self.show()

    def action_select_next(self) -> None:
        self._select(self.selected + 1)

    def action_select_prev(self) -> None:
        self._select(self.selected - 1)

    def action_goto(self) -> None:
        self._disarm()
        queue = self.queue
        if queue is None or not len(queue):
            return

        def chosen(value: str | None) -> None:
            text = (value or "").strip()
            if not text:
                return
            if not text.isdigit() or not 1 <= int(text) <= len(queue):
                self.say(f"no item {text!r}: type a number from 1 to {len(queue)}")
                return
            queue.index = int(text) - 1
            self.selected = 0
            self.show()

        self.prompt_bar.open(f"Go to item (1-{len(queue)}):", chosen, placeholder="number")

    def action_help(self) -> None:
        self._disarm()
        self.app.push_screen(ReviewHelpScreen(self.context.scheme, self.context.annotate_keys, self.context.review_keys))

    def action_quit(self) -> None:
        self.app.exit()
