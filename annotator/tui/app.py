"""``AnnotatorApp``: owns the Store, applies the keymap, runs the suggestion worker.

Start-up loads one sentence (plus its article's sentences for context); spaCy is imported only by
the suggestion worker, in its own thread, and only when a sentence near the cursor has no model
suggestions yet. The worker opens its own ``Store`` on the same file (SQLite connections are per
thread) and posts :class:`SuggestionsReady`; it never touches widgets.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from ..keymap import DEFAULT_KEYMAP, keys_display
from ..model import Suggestion
from ..store import Store
from .context import Navigation, ScreenContext, apply_keymap
from .widgets.prompt_bar import PromptKeys

SUGGEST_AHEAD = 11
"""Sentences (the current one and the next ten) given suggestions in the background."""

SuggesterFactory = Callable[[], Any]
"""Builds an object with ``suggest(list[SentenceInput])`` and ``source`` (a ``Preannotator``)."""


class SuggestionsReady(Message):
    """The worker stored suggestions for these sentences."""

    def __init__(self, sentence_ids: set[int], notice: str = "") -> None:
        super().__init__()
        self.sentence_ids = sentence_ids
        self.notice = notice


class SuggestionsFailed(Message):
    """The worker could not make suggestions (the screen says so once)."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


class AnnotatorApp(PromptKeys, App[None]):
    # PromptKeys: while / or : is open, the keys typed go to the prompt in order (widgets/prompt_bar.py).
    """Keyboard-first annotation of one dataset by one annotator."""

    CSS_PATH = "annotator.tcss"
    TITLE = "annotator"

    def __init__(
        self,
        db_path: str | Path,
        dataset: str,
        annotator: str,
        scheme,
        *,
        start: int | None = None,
        suggester: SuggesterFactory | None | str = "default",
    ) -> None:
        """``suggester`` builds the pre-annotator in the worker ("default": the scheme's spaCy
        pipeline via :class:`~annotator.preannotate.Preannotator`; ``None``: no suggestions on the fly)."""
        super().__init__()
        self.db_path = str(db_path)
        """The database file (the worker opens its own connection on it)."""
        self.store = Store(self.db_path)
        """The main thread's connection; every decision is committed through it."""
        self.dataset = dataset
        """The dataset being annotated."""
        self.annotator = annotator
        """Whose decisions are read and written."""
        self.scheme = scheme
        """The label scheme (labels, hotkeys, colours, relation constraints, keys)."""
        self.session = f"{annotator}-{time.strftime('%Y%m%dT%H%M%S')}"
        """Session id stored with every decision of this run."""
        self.context = ScreenContext(
            self.store, scheme, dataset, annotator, self.session,
            suggestions=self.request_suggestions, navigation=Navigation(start=start),
        )
        """What the annotate screen works with (``--start N``, or None: the first undecided sentence)."""
        self._suggester_factory: SuggesterFactory | None = self._default_suggester if suggester == "default" else suggester  # type: ignore[assignment]
        self._suggester: Any = None
        self._suggester_lock = threading.Lock()
        self._suggested_ids: set[int] = set()
        self.annotate_screen: Screen | None = None
        """The annotate screen (messages from workers are routed to it)."""

    def _default_suggester(self) -> Any:
        # spaCy and the model are loaded in a child process: this one stays small and responsive.
        from ..suggest_process import SubprocessSuggester

        return SubprocessSuggester(self.scheme.path)

    @property
    def suggests_on_the_fly(self) -> bool:
        return self._suggester_factory is not None

    def on_mount(self) -> None:
        apply_keymap(self, self.scheme)
        from .screens.annotate import AnnotateScreen

        self.annotate_screen = AnnotateScreen(self.context)
        self.push_screen(self.annotate_screen)

    def on_unmount(self) -> None:
        self.store.close()
        self._stop_suggester()

    def _stop_suggester(self) -> None:
        close = getattr(self._suggester, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # a child process that is gone already: nothing to stop
                pass

    # -- command palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        from .screens.annotate import AnnotateScreen

        if isinstance(screen, AnnotateScreen):
            keys = self.context.annotate_keys
            for binding_id, (_default, description) in DEFAULT_KEYMAP.items():
                action = getattr(screen, f"action_{binding_id}", None)
                if action is not None:
                    yield SystemCommand(escape(description), escape(f"{binding_id} · keys: {keys_display(keys[binding_id])}"), action)
            # The palette reads titles and help as markup: the scheme's text is escaped.
            for label in self.scheme.entities:
                yield SystemCommand(
                    escape(f"Label {label.name}"), escape(f"{label.description} · key: {label.hotkey or '-'}"),
                    lambda name=label.name: screen.apply_label(name),
                )

    # -- suggestions on the fly ----------------------------------------------------------------

    def request_suggestions(self, position: int) -> None:
        """Make suggestions for ``position`` and the next sentences in the background (if enabled)."""
        if self._suggester_factory is not None:
            self._suggest_ahead(position)

    @work(thread=True, exclusive=True, exit_on_error=False, group="suggestions")
    def _suggest_ahead(self, position: int) -> None:
        worker = get_current_worker()
        with self._suggester_lock:  # one spaCy pipeline, used by one thread at a time
            if worker.is_cancelled:
                return
            store = Store(self.db_path)
            try:
                todo = self._sentences_needing_suggestions(store, position)
                if not todo or worker.is_cancelled:
                    return
                notice = ""
                if self._suggester is None:
                    try:
                        self._suggester = self._suggester_factory()  # type: ignore[misc]
                    except Exception as exc:  # a broken model must not take the UI down
                        self._suggester_factory = None
                        self.post_message(SuggestionsFailed(f"no suggestions on the fly: {exc}"))
                        return
                    notice = getattr(self._suggester, "notice", "")
                from ..preannotate import SentenceInput

                try:
                    results = list(self._suggester.suggest([SentenceInput(s.text, s.tokens) for s in todo]))
                except Exception as exc:  # the child process died or answered an error: say so, go on without
                    self._suggester_factory = None
                    self._stop_suggester()
                    self.post_message(SuggestionsFailed(f"suggestions stopped: {exc}"))
                    return
                source = getattr(self._suggester, "source", "suggester")
                rows = [
                    Suggestion(sentence.id, source, tuple(spans), tuple(relations))
                    for sentence, (spans, relations) in zip(todo, results)
                ]
                store.add_suggestions(rows)
                ids = {s.id for s in todo}
                self._suggested_ids.update(ids)
                self.post_message(SuggestionsReady(ids, notice))
            finally:
                store.close()

    def _sentences_needing_suggestions(self, store: Store, position: int) -> list:
        """Sentences from ``position`` on without suggestions, or (when a model is configured) with
        pattern-only suggestions; each sentence at most once per run."""
        wanted = {s.id: s for s in store.positions_without_suggestions(self.dataset, position, SUGGEST_AHEAD)}
        if self.scheme.model and (self._suggester is None or getattr(self._suggester, "model_name", None)):
            for offset in range(SUGGEST_AHEAD):
                row = store.sentence_at(self.dataset, position + offset)
                if row is None:
                    break
                sentence = row.sentence
                if sentence.id in wanted or sentence.id in self._suggested_ids:
                    continue
                sources = [s.source for s in store.suggestions(sentence.id)]
                if sources and all(source in ("patterns", "rules") for source in sources):
                    wanted[sentence.id] = sentence
        return [s for s in sorted(wanted.values(), key=lambda s: s.position) if s.id not in self._suggested_ids]

    def on_suggestions_ready(self, message: SuggestionsReady) -> None:
        if self.annotate_screen is not None:
            self.annotate_screen.suggestions_arrived(message.sentence_ids, message.notice)

    def on_suggestions_failed(self, message: SuggestionsFailed) -> None:
        if self.annotate_screen is not None:
            self.annotate_screen.say(message.problem)


def run(db_path: str | Path, dataset: str, annotator: str, scheme, start: int | None = None) -> None:
    """Run the app in the terminal (``annotator annotate``)."""
    AnnotatorApp(db_path, dataset, annotator, scheme, start=start).run()
