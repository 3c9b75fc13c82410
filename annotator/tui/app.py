"""``AnnotatorApp``: owns the Store, applies the keymap, runs the suggestion worker.

Start-up loads one sentence (plus its article's sentences for context); spaCy is imported only by
the suggestion worker, in its own thread, and only when a sentence near the cursor has no model
suggestions yet. The worker opens its own ``Store`` on the same file (SQLite connections are per
thread) and posts :class:`SuggestionsReady`; it never touches widgets.

The annotation memory (:mod:`annotator.memory`) lives in a second worker group: its first pass
reads the decisions that feed it (start-up does not wait), each committed decision is queued by the
``decided`` hook (O(1) on the key's path) and applied by the next pass, which then matches the
sentences ahead and posts :class:`SuggestionsReady` for those whose memory suggestions changed. The
screen's ``suggestion_rows`` is a dict lookup of those precomputed matches over the stored rows of
the active suggestion source.

Both passes start once no key came for ``QUIET_SECONDS`` (and not before the first paint), at
most ``QUIET_BOUND`` after they were asked for: a key pressed right after an accept does not share
the interpreter with them, and keys that never pause do not starve them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from array import array
from bisect import bisect_left
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.events import Key
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from ..errors import AnnotatorError
from ..keymap import DEFAULT_KEYMAP, keys_display
from ..memory import MEMORY_SOURCE, AnnotationMemory, MemoryMatch, memory_mode, suggested_keys
from ..model import Decision, Sentence, Suggestion
from ..queue_order import UncertainQueue
from ..store import Store
from .context import Navigation, ScreenContext, apply_keymap
from .widgets.prompt_bar import PromptKeys

SUGGEST_AHEAD = 11
"""Sentences (the current one and the next ten) given suggestions in the background."""

KEPT_SOURCES = ("patterns", "rules")
"""Span sources shown whatever the active suggestion source is (the scheme's own patterns and rules)."""

MEMORY_CACHE = 256
"""Sentences whose memory matches are kept (the window ahead is recomputed after each decision)."""

QUIET_SECONDS = 0.2
"""The background passes (memory, suggestions) start once no key came for this long: a key pressed
right after an accept does not share the interpreter with them."""

QUIET_BOUND = 1.0
"""...but at most this long after they were asked for, so that keys held down never starve them (the
memory's matches still reach the sentences ahead before the annotator does)."""

SuggesterFactory = Callable[[], Any]
"""Builds an object with ``suggest(list[SentenceInput])`` and ``source`` (a ``Preannotator``)."""


class SuggestionsReady(Message):
    """The worker stored suggestions for these sentences (or the memory changed theirs)."""

    def __init__(self, sentence_ids: set[int], notice: str = "", from_memory: bool = False) -> None:
        super().__init__()
        self.sentence_ids = sentence_ids
        self.notice = notice
        self.from_memory = from_memory


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
        suggestions: str | None = None,
        memory: str | None = None,
        order: str = "document",
    ) -> None:
        """``suggester`` builds the pre-annotator in the worker ("default": the scheme's spaCy
        pipeline via :class:`~annotator.preannotate.Preannotator`; ``None``: no suggestions on the fly).
        ``suggestions`` is the active suggestion source (None: the dataset's ``suggestions`` setting,
        else every stored source); ``memory`` the memory mode (None: the dataset's ``memory``
        setting, else the scheme's); ``order`` the queue order (:mod:`annotator.queue_order`)."""
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
        settings = self.store.dataset(dataset).settings
        self.active_source: str | None = suggestions or settings.get("suggestions") or None
        """The suggestion source shown (with the patterns and rules), or None: every source."""
        self.memory_mode: str = memory_mode(memory) or memory_mode(settings.get("memory")) or scheme.memory
        """``own``, ``shared`` or ``off`` (see :mod:`annotator.memory`)."""
        self.context = ScreenContext(
            self.store, scheme, dataset, annotator, self.session,
            suggestions=self.request_suggestions, navigation=Navigation(start=start),
            suggestion_rows=self.suggestion_rows, decided=self.decided,
            queue=UncertainQueue(self.store, dataset, annotator) if order == "uncertain" else None,
        )
        """What the annotate screen works with (``--start N``, or None: the first undecided sentence)."""
        self._suggester_factory: SuggesterFactory | None = self._default_suggester if suggester == "default" else suggester  # type: ignore[assignment]
        self._suggester: Any = None
        self._suggester_lock = threading.Lock()
        self._suggested_ids: set[int] = set()
        self.memory: AnnotationMemory | None = None
        """The annotation memory, once its first pass has read the decisions (None before, or off)."""
        self._memory_lock = threading.Lock()
        self._memory_store: Store | None = None
        """The memory passes' own connection (opened by the first pass, kept: passes run one at a
        time under ``_memory_lock``; closed by the pass that finds the app unmounted, or on unmount)."""
        self._memory_closed = False
        self._ahead: dict[int, Sentence] = {}
        """Position -> sentence, for the memory's matching ahead (sentences never change; a few kept)."""
        self._memory_matches: dict[int, MemoryMatch] = {}
        """Sentence id -> the memory's match, written by the memory worker (read with one lookup)."""
        self._pending: deque[tuple[Sentence, Decision]] = deque()
        """Decisions committed since the last memory pass (appended by the ``decided`` hook)."""
        self._counted: dict[int, tuple[Decision, frozenset]] = {}
        """Sentence id -> what the memory counts for it (this run's decisions only)."""
        self._streamed_ids = array("q")
        """Sorted ids of the decisions the memory's first pass read (which of them it counted)."""
        self._memory_requests: list[tuple[int | None, int | None]] = []
        """Where the next memory pass matches from: (position, or the id of a sentence), each asked
        for since the last pass took them (a pass waits for the keys to pause: several may come)."""
        self._memory_starts: set[int] = {1}
        """The positions the last pass matched from."""
        self._memory_scheduled = False
        """True while a memory pass was started and has not taken its request yet."""
        self.annotate_screen: Screen | None = None
        """The annotate screen (messages from workers are routed to it)."""
        self._last_key = time.monotonic()
        """When the last key came (the start counts as one until the first paint: see on_mount)."""
        self._suggest_since: float | None = None
        """When suggestions were first asked for since the last suggestion pass started (its bound)."""

    def _default_suggester(self) -> Any:
        # spaCy and the model are loaded in a child process: this one stays small and responsive.
        from ..suggest_process import SubprocessSuggester

        return in_background_priority(lambda: SubprocessSuggester(self.scheme.path))

    @property
    def suggests_on_the_fly(self) -> bool:
        return self._suggester_factory is not None

    def on_mount(self) -> None:
        apply_keymap(self, self.scheme)
        from .screens.annotate import AnnotateScreen

        self.annotate_screen = AnnotateScreen(self.context)
        self.push_screen(self.annotate_screen)
        self.call_after_refresh(self._note_key)  # the background passes wait for the first paint

    async def on_event(self, event) -> None:
        if isinstance(event, Key):
            self._last_key = time.monotonic()
        await super().on_event(event)

    def _note_key(self) -> None:
        self._last_key = time.monotonic()

    def _wait_for_quiet(self, since: float) -> bool:
        """In a worker thread: sleep until no key came for ``QUIET_SECONDS``, or ``QUIET_BOUND``
        after ``since``; False when the worker was cancelled (or the app closed) meanwhile."""
        worker = get_current_worker()
        deadline = since + QUIET_BOUND
        while not (worker.is_cancelled or self._memory_closed):
            wait = min(self._last_key + QUIET_SECONDS, deadline) - time.monotonic()
            if wait <= 0:
                return True
            time.sleep(min(wait, 0.02))
        return False

    # -- which suggestions a sentence shows: the active source, then the memory ------------------

    def suggestion_rows(self, sentence_id: int) -> list[Suggestion]:
        """The stored rows of the active source (every source when none is set; pattern and rule
        spans always), minus what the memory suppresses, plus the memory's row last (it wins
        overlaps of equal length). A dict lookup beyond the stored rows: the memory's match was
        computed by its worker."""
        rows = self._shown_rows(self.store.suggestions(sentence_id))
        match = self._memory_matches.get(sentence_id)
        if match is None:
            if self.memory_mode != "off":  # not matched yet (a jump): the worker will, and say so
                self._want_memory(sentence_id=sentence_id)
            return rows
        return match.filter(rows, self.scheme)

    def _shown_rows(self, rows: list[Suggestion]) -> list[Suggestion]:
        """The stored rows the screen shows: the active source's, and pattern/rule spans of others."""
        rows = [row for row in rows if row.source != MEMORY_SOURCE]
        active = self.active_source
        if active is not None:
            rows = [row if row.source == active else _kept_spans(row) for row in rows]
            rows = [row for row in rows if row.spans]
        return rows

    def _offered(self, store: Store, sentence_id: int) -> frozenset:
        """What the stored rows offered for a sentence (as the screen shows them), for the memory's
        "removed" counts: a source that is not shown removes nothing."""
        return suggested_keys(self._shown_rows(store.suggestions(sentence_id)))

    def decided(self, sentence: Sentence, decision: Decision) -> None:
        """A decision (or an undo's row) was committed: queue it for the memory (never waits)."""
        if self.memory_mode == "off":
            return
        self._pending.append((sentence, decision))
        self._want_memory(position=sentence.position + 1)

    def _want_memory(self, position: int | None = None, sentence_id: int | None = None) -> None:
        """Ask for a memory pass from ``position`` (or the sentence ``sentence_id``) on; requests
        made while one waits to start are merged into it (it matches each one's window)."""
        self._memory_requests.append((position, sentence_id))
        if not self._memory_scheduled:
            self._memory_scheduled = True
            self._memory_pass(time.monotonic())

    @work(thread=True, exit_on_error=False, group="memory")
    def _memory_pass(self, since: float) -> None:
        """Build the memory (first pass), apply the queued decisions, match the sentences ahead;
        once the keys pause (requests made meanwhile are merged into this pass)."""
        self._wait_for_quiet(since)  # a closed app is seen below, under the lock
        with self._memory_lock:  # passes run one at a time
            self._memory_scheduled = False  # before taking the requests: a newer one starts a pass
            requests, self._memory_requests = self._memory_requests, []
            if self._memory_closed:
                return
            try:
                store = self._memory_store
                if store is None:
                    store = self._memory_store = Store(self.db_path)
                starts = {store.sentence(sentence_id).position if sentence_id is not None else position
                          for position, sentence_id in requests} or self._memory_starts
                self._memory_starts = starts  # (a pass whose requests the previous one took: the same)
                built = self.memory is None
                if built:
                    self._pending.clear()  # the first read sees every decision committed before it
                    self.memory = self._build_memory(store)
                updated = self._apply_pending(store)
                changed = self._match_ahead(store, starts, stale=built or updated)
            except Exception as exc:  # a store error must not take the UI down: go on without memory
                self.memory_mode = "off"
                self._memory_matches = {}
                self._close_memory_store()
                self.post_message(SuggestionsFailed(f"annotation memory stopped: {exc}"))
                return
            finally:
                if self._memory_closed:
                    self._close_memory_store()
        if changed:
            self.post_message(SuggestionsReady(changed, from_memory=True))

    def _build_memory(self, store: Store) -> AnnotationMemory:
        memory = AnnotationMemory(self.scheme)
        streamed: list[int] = []
        annotators = None if self.memory_mode == "shared" else [self.annotator]
        for sentence, decision in store.current_decisions(self.dataset, annotators):
            memory.add(sentence, decision, self._offered(store, sentence.id))
            if decision.annotator == self.annotator:
                streamed.append(decision.id)  # type: ignore[arg-type]
        for sentence, decision in store.current_decisions(self.dataset, gold=True):
            memory.add(sentence, decision, self._offered(store, sentence.id))
        self._streamed_ids = array("q", sorted(streamed))
        return memory

    def _was_streamed(self, decision: Decision | None) -> bool:
        ids = self._streamed_ids
        if decision is None or decision.id is None:
            return False
        at = bisect_left(ids, decision.id)
        return at < len(ids) and ids[at] == decision.id

    def _apply_pending(self, store: Store) -> bool:
        """Move the counts of each sentence decided since the last pass from what the memory counted
        for it to its newest decision. What was counted is this run's last decision for it, or else
        the one of its decisions the first pass read (a decision committed while that pass was
        reading may or may not have been read: the ids say which)."""
        memory = self.memory
        assert memory is not None
        chains: dict[int, tuple[Sentence, list[Decision]]] = {}
        if not self._pending:
            return False
        while self._pending:
            sentence, decision = self._pending.popleft()
            chains.setdefault(sentence.id, (sentence, []))[1].append(decision)  # type: ignore[arg-type]
        for sentence_id, (sentence, chain) in chains.items():
            if sentence_id in self._counted:
                before, before_suggested = self._counted[sentence_id]
            else:
                first = chain[0]
                root = store.decision(first.supersedes) if first.supersedes is not None else None
                read = [d for d in (root, *chain) if self._was_streamed(d)]
                before = read[-1] if read else None
                before_suggested = self._offered(store, sentence_id)
            newest = chain[-1]
            suggested = self._offered(store, sentence_id)
            memory.remove(sentence, before, before_suggested)
            memory.add(sentence, newest, suggested)
            self._counted[sentence_id] = (newest, suggested)
        return True

    def _match_ahead(self, store: Store, starts: Iterable[int], *, stale: bool) -> set[int]:
        """Match the ``SUGGEST_AHEAD`` sentences from each of ``starts`` on; the ids whose match
        changed. ``stale``: the memory changed, so matches of other sentences are dropped."""
        memory = self.memory
        assert memory is not None
        matches: dict[int, MemoryMatch] = {}
        for position in sorted({start + offset for start in starts for offset in range(SUGGEST_AHEAD)}):
            sentence = self._ahead.get(position)
            if sentence is None:
                row = store.sentence_at(self.dataset, position)
                if row is None:
                    continue  # past the last sentence
                sentence = row.sentence
                if len(self._ahead) >= 4 * SUGGEST_AHEAD:
                    self._ahead.clear()
                self._ahead[position] = sentence
            matches[sentence.id] = memory.match(sentence)  # type: ignore[index]
        old = self._memory_matches
        changed = {sid for sid, match in matches.items() if old.get(sid, MemoryMatch(None)) != match}
        # Everything else may be stale now: keep only what was just computed, plus older entries
        # while the memory has not changed (a pass without decisions), within the cache size.
        kept = {} if stale else dict(old)
        kept.update(matches)
        if len(kept) > MEMORY_CACHE:
            kept = matches
        self._memory_matches = kept  # one assignment: the main thread sees the old or the new dict
        return changed

    def _release_claim(self) -> None:
        """Free the sentence routing handed this annotator (``Store.claim``) for the others."""
        try:
            self.store.release_claim(self.dataset, self.annotator)
        except AnnotatorError:
            pass  # the database stayed locked: the claim lapses after CLAIM_SECONDS

    def _close_memory_store(self) -> None:
        store, self._memory_store = self._memory_store, None
        if store is not None:
            store.close()

    def on_unmount(self) -> None:
        self._release_claim()
        self.store.close()
        self._memory_closed = True
        if self._memory_lock.acquire(blocking=False):  # else the running pass closes it when done
            try:
                self._close_memory_store()
            finally:
                self._memory_lock.release()
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
            if self._suggest_since is None:
                self._suggest_since = time.monotonic()
            self._suggest_ahead(position, self._suggest_since)
        if self.memory_mode != "off":
            self._want_memory(position=position)

    @work(thread=True, exclusive=True, exit_on_error=False, group="suggestions")
    def _suggest_ahead(self, position: int, since: float) -> None:
        worker = get_current_worker()
        if not self._wait_for_quiet(since):
            return
        self._suggest_since = None
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
                sources = [s.source for s in store.suggestions(sentence.id) if s.source != MEMORY_SOURCE]
                if sources and all(source in KEPT_SOURCES for source in sources):
                    wanted[sentence.id] = sentence
        return [s for s in sorted(wanted.values(), key=lambda s: s.position) if s.id not in self._suggested_ids]

    def _live_screen(self) -> Screen | None:
        """The annotate screen, or None once it is closing (a worker's message may arrive while the
        app shuts down, after the screen's widgets are gone)."""
        screen = self.annotate_screen
        if screen is None or screen._closing or screen._closed or not screen.is_attached:
            return None
        return screen

    def on_suggestions_ready(self, message: SuggestionsReady) -> None:
        screen = self._live_screen()
        if screen is None:
            return
        notice = message.notice
        if message.from_memory:
            # The refresh comes right after a decision: keep its "✔ accepted: sentence N saved".
            said = getattr(screen, "notice", "")
            notice = "from memory" + (f" · {said}" if said and not said.startswith("suggestions arrived") else "")
        screen.suggestions_arrived(message.sentence_ids, notice)

    def on_suggestions_failed(self, message: SuggestionsFailed) -> None:
        screen = self._live_screen()
        if screen is not None:
            screen.say(message.problem)


SUGGESTER_NICENESS = 10
"""How much lower the suggestion process's CPU priority is than the screen's (``nice`` increment)."""


def in_background_priority(start: Callable[[], Any]) -> Any:
    """``start()`` run in a helper thread whose CPU priority is lowered first, so that a child
    process it starts (the suggester: spaCy loading and running the model on the sentences ahead)
    inherits the lower priority and never takes a core from the screen's key handling.

    On Linux the nice value belongs to a thread and a forked child inherits its thread's; the
    screen's own threads keep theirs. Elsewhere (or when the priority cannot be changed) ``start``
    runs as it is.
    """
    if not sys.platform.startswith("linux"):
        return start()
    outcome: list = []

    def run() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SUGGESTER_NICENESS)
        except OSError:
            pass
        try:
            outcome.append((True, start()))
        except BaseException as exc:  # handed back to the caller's thread
            outcome.append((False, exc))

    helper = threading.Thread(target=run, name="suggester-start", daemon=True)
    helper.start()
    helper.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _kept_spans(row: Suggestion) -> Suggestion:
    """A row of another source than the active one: its pattern and rule spans only."""
    spans = tuple(span for span in row.spans if span.source in KEPT_SOURCES)
    if row.source in KEPT_SOURCES and len(spans) == len(row.spans):
        return row
    keys = {span.key for span in spans}
    relations = tuple(r for r in row.relations if r.head in keys and r.child in keys)
    return Suggestion(row.sentence_id, row.source, spans, relations)


def run(
    db_path: str | Path, dataset: str, annotator: str, scheme, start: int | None = None,
    suggestions: str | None = None, memory: str | None = None, order: str = "document",
) -> None:
    """Run the app in the terminal (``annotator annotate``; ``--suggestions SOURCE``, ``--order``)."""
    AnnotatorApp(db_path, dataset, annotator, scheme, start=start, suggestions=suggestions, memory=memory,
                 order=order).run()
