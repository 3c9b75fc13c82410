"""One browser connection's app: ``python -m annotator.tui.serve_app --db … --dataset … --user …
--role annotator|reviewer``, started by :mod:`annotator.serve` for each websocket it accepted.

The server checked the token; what it passes here is who the token belongs to (no secret), so
the app writes under that name only. An annotator gets :class:`~annotator.tui.app.AnnotatorApp`
(routing by the dataset's ``overlap`` as in the terminal), a reviewer
:class:`~annotator.tui.review_app.ReviewApp`. Each process opens its own ``Store`` connection.
"""

from __future__ import annotations

import argparse
import os
import threading

from ..labels import find_scheme
from ..store import Store


def build_app(db: str, dataset: str, user: str, role: str, labels: str | None = None, suggest: bool = True):
    """The app one connection runs (not started)."""
    scheme = find_scheme(labels)
    with Store(db, create=False) as store:
        scheme = scheme.for_dataset(store.dataset(dataset).settings)
    if role == "reviewer":
        from .review_app import ReviewApp

        return ReviewApp(db, dataset, user, scheme)
    from .app import AnnotatorApp

    return AnnotatorApp(db, dataset, user, scheme, suggester="default" if suggest else None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="annotator.tui.serve_app", description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--role", choices=("annotator", "reviewer"), required=True)
    parser.add_argument("--labels")
    parser.add_argument("--no-suggest", action="store_true")
    args = parser.parse_args(argv)
    app = build_app(args.db, args.dataset, args.user, args.role, args.labels, not args.no_suggest)
    _quit_when_orphaned(app)
    app.run()


def _quit_when_orphaned(app, every: float = 1.0) -> None:
    """Quit the app (cleanly: its store closed, the sentence's edits kept as a draft) when the
    server that started it is gone, even killed with SIGKILL, so no process outlives it."""
    server = os.getppid()
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every):
            if os.getppid() != server:
                try:
                    app.call_from_thread(app.exit)
                except RuntimeError:  # the app is not running (any more)
                    pass
                return

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


if __name__ == "__main__":
    main()
