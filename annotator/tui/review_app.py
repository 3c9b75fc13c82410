"""``annotator review DATASET --reviewer NAME``: the review app.

``ReviewApp`` owns the Store and the label scheme, builds the review queue in a thread worker (its
own ``Store`` on the same file; it posts :class:`QueueLoaded` and never touches widgets) and shows
:class:`~annotator.tui.screens.review.ReviewScreen`. Gold decisions are written by the screen
through the app's store, one committed transaction each.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import App
from textual.message import Message

from ..store import Store
from .context import ScreenContext, apply_keymap
from .review_state import ReviewQueue, load_queue
from .widgets.prompt_bar import PromptKeys


class QueueLoaded(Message):
    """The worker built the review queue."""

    def __init__(self, queue: ReviewQueue) -> None:
        super().__init__()
        self.queue = queue


class QueueFailed(Message):
    """The worker could not build the review queue."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


class ReviewApp(PromptKeys, App[None]):
    """Settle the disagreements between annotators into the reviewer's gold decisions."""

    CSS_PATH = ["annotator.tcss", "review.tcss"]
    TITLE = "annotator review"

    def __init__(self, db_path: str | Path, dataset: str, reviewer: str, scheme) -> None:
        super().__init__()
        self.db_path = str(db_path)
        """The database file (the queue worker opens its own connection on it)."""
        self.store = Store(self.db_path)
        """The main thread's connection; every gold decision is committed through it."""
        self.dataset = dataset
        """The dataset under review."""
        self.reviewer = reviewer
        """Whose gold decisions are written."""
        self.scheme = scheme
        """The label scheme (colours, symmetric relations, the editor's labels and keys)."""
        self.session = f"{reviewer}-review-{time.strftime('%Y%m%dT%H%M%S')}"
        """Session id stored with every gold decision of this run."""
        self.context = ScreenContext(self.store, scheme, dataset, reviewer, self.session)
        """What the review screen (and the version editor, narrowed to one sentence) works with."""
        self.review_screen = None
        """The review screen (the worker's messages are routed to it)."""

    def on_mount(self) -> None:
        apply_keymap(self, self.scheme)
        from .screens.review import ReviewScreen

        self.review_screen = ReviewScreen(self.context)
        self.push_screen(self.review_screen)
        self._build_queue()

    def on_unmount(self) -> None:
        self.store.close()

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-queue")
    def _build_queue(self) -> None:
        symmetric = [r.name for r in self.scheme.relations if r.symmetric]
        try:
            with Store(self.db_path) as store:
                # the items are read when shown, on the main thread: through the app's store
                queue = load_queue(store, self.dataset, self.reviewer, symmetric_labels=symmetric, reader=self.store)
        except Exception as exc:  # shown on the screen instead of taking the UI down
            self.post_message(QueueFailed(str(getattr(exc, "message", exc))))
            return
        self.post_message(QueueLoaded(queue))

    def on_queue_loaded(self, message: QueueLoaded) -> None:
        if self.review_screen is not None:
            self.review_screen.queue_loaded(message.queue)

    def on_queue_failed(self, message: QueueFailed) -> None:
        if self.review_screen is not None:
            self.review_screen.queue_failed(message.problem)


def run_review(*, dataset: str, reviewer: str, db: str | Path | None = None, labels: str | Path | None = None) -> None:
    """Check the dataset, load the scheme (plus the dataset's extra labels) and run the review app."""
    from ..errors import DatasetError
    from ..labels import find_scheme
    from ..store import default_db_path

    scheme = find_scheme(labels)
    path = Path(db) if db is not None else default_db_path()
    with Store(path, create=False) as store:
        scheme = scheme.for_dataset(store.dataset(dataset).settings)  # DatasetError naming the datasets there are
        if store.sentence_count(dataset) == 0:
            raise DatasetError(f"dataset {dataset!r} has no sentences yet (import some articles first)")
        annotators = store.annotators(dataset)
        if len(annotators) < 2:
            raise DatasetError(
                f"review compares the versions of at least two annotators; dataset {dataset!r} has "
                f"{', '.join(annotators) or 'no decisions yet'}"
            )
    ReviewApp(path, dataset, reviewer, scheme).run()
