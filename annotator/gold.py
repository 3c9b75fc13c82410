"""Gold decisions: loading the annotators' versions, storing a reviewer's gold, automatic review.

Headless: the review screen, ``annotator review --auto`` and the tests write gold through these
functions only, so a gold decision always carries the same meta:

``resolves``
    the ids of every annotator decision the reviewer saw for the sentence;
``versions``
    the annotators whose version was taken (empty when the reviewer wrote their own);
``method``
    how: ``chosen``, ``edited``, ``rejected``, ``agreed`` or ``majority``.

The grouping of versions itself is pure and lives in :mod:`annotator.review`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

from .errors import DatasetError
from .model import Decision, Relation, Span, Token, split_for_spans
from .review import ReviewItem, VersionGroup, majority_merge, review_queue

if TYPE_CHECKING:  # pragma: no cover
    from .agreement import SentenceVersions
    from .store import Store

METHOD_CHOSEN = "chosen"
"""A version taken as it was."""
METHOD_EDITED = "edited"
"""An edited copy of a version."""
METHOD_REJECTED = "rejected"
"""The reviewer rejected the sentence."""
METHOD_AGREED = "agreed"
"""Every annotator agreed."""
METHOD_MAJORITY = "majority"
"""A strict majority of the annotators agreed (``review --auto majority``)."""

AUTO_METHODS = ("majority",)


def load_versions(
    store: "Store", dataset: str, annotators: Sequence[str] | None = None, positions: tuple[int, int] | None = None
) -> Iterator["SentenceVersions"]:
    """Stream ``SentenceVersions`` (one per sentence with current decisions), in position order.

    From ``Store.current_versions``: the metrics and the review queue read the versions as plain
    tuples; a sentence's tokens and full decisions are decoded when first used.

    The garbage collector is paused while streaming: the load creates millions of small objects
    and nothing cyclic, and its repeated scans of the growing heap cost more than half the time.
    ``positions=(first, last)``: only the sentences at those positions (inclusive).
    """
    from .agreement import SentenceVersions, paused_gc

    with paused_gc():
        for record in store.current_versions(dataset, annotators, positions=positions):
            yield SentenceVersions.stored(*record)


def _counted_versions(
    store: "Store", dataset: str, annotators: Sequence[str] | None = None, positions: tuple[int, int] | None = None
) -> Iterator["SentenceVersions"]:
    """``load_versions`` for ``dataset_agreement``, which reads each sentence's ``rows`` and
    ``n_tokens`` only: from ``Store.current_version_rows`` (a sentence's tokens and decisions are
    read again if used, while ``store`` is open)."""
    from .agreement import SentenceVersions, paused_gc

    with paused_gc():
        for record in store.current_version_rows(dataset, annotators, positions=positions):
            yield SentenceVersions.stored(*record)


def load_review_index(
    store: "Store", dataset: str, min_versions: int = 2, symmetric_labels: Sequence[str] = ()
) -> list[tuple[int, int, bool]]:
    """``(sentence_id, position, agreed)`` of every sentence the review queue holds (at least
    ``min_versions`` decided versions), in position order: ``review.review_index`` over
    ``Store.current_version_texts``, so only versions whose stored texts differ are decoded."""
    from .agreement import paused_gc
    from .review import review_index
    from .store.codec import decode_relation_tuples, decode_span_tuples

    with paused_gc():
        return review_index(
            store.current_version_texts(dataset), decode_span_tuples, decode_relation_tuples, min_versions,
            symmetric_labels=symmetric_labels,
        )


def load_review_item(
    store: "Store", dataset: str, sentence_id: int, position: int, min_versions: int = 2, symmetric_labels: Sequence[str] = ()
) -> ReviewItem | None:
    """The review item of the sentence at ``position`` (``review_queue(..., include_agreed=True)``
    of its current versions), or None when it no longer has ``min_versions`` decided versions
    or the position holds another sentence."""
    for item in review_queue(
        load_versions(store, dataset, positions=(position, position)), min_versions, include_agreed=True, symmetric_labels=symmetric_labels
    ):
        if item.sentence_id == sentence_id:
            return item
    return None


PARALLEL_MIN_SENTENCES = 20_000
"""Below this many sentences ``dataset_agreement`` counts in-process by default (starting
workers costs more than it saves)."""


def default_workers(n_sentences: int) -> int:
    """Worker processes ``dataset_agreement`` uses by default: one per core, at most 4, and one
    (in-process) for datasets under ``PARALLEL_MIN_SENTENCES`` or where ``fork`` is unavailable."""
    import multiprocessing
    import os

    if n_sentences < PARALLEL_MIN_SENTENCES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def position_ranges(n_sentences: int, parts: int) -> list[tuple[int, int]]:
    """Positions ``1..n_sentences`` cut into at most ``parts`` consecutive inclusive ranges of
    nearly equal size, in order."""
    parts = max(1, min(parts, n_sentences))
    bounds = [1 + n_sentences * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(parts)]


def _agreement_part(path: str, dataset: str, annotators, labels, symmetric_labels, positions: tuple[int, int]):
    """One worker's share of ``dataset_agreement``: the counts over a range of positions, read
    through a read-only store of its own."""
    from .agreement import agreement_counts
    from .store import Store

    store = Store(path, create=False, readonly=True)
    try:
        return agreement_counts(_counted_versions(store, dataset, annotators, positions), annotators, labels, symmetric_labels)
    finally:
        store.close()


def _ignore_interrupts() -> None:
    """Pool workers leave Ctrl-C to the parent, which terminates them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def dataset_agreement(
    store: "Store",
    dataset: str,
    annotators: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    symmetric_labels: Sequence[str] | None = None,
    *,
    workers: int | None = None,
):
    """``compute_agreement`` over the dataset's current decisions (what ``annotator agreement``
    reports).

    With ``workers`` > 1 (default: ``default_workers``) the sentences are cut into that many
    ranges of positions, each counted in a forked worker process that opens the database
    read-only, and the counts are merged (``agreement.merged_report``): the report is exactly the
    in-process one. A worker's error is raised here as the in-process pass would raise it (the
    first range that fails, in position order, so the first failing sentence); on Ctrl-C the
    workers are terminated.
    """
    from .agreement import agreement_counts, merged_report

    symmetric = sorted(symmetric_labels or ())
    n_sentences = store.sentence_count(dataset)
    if workers is None:
        workers = default_workers(n_sentences)
    ranges = position_ranges(n_sentences, workers) if n_sentences else []
    if len(ranges) <= 1 or store.path == ":memory:":
        return agreement_counts(_counted_versions(store, dataset, annotators), annotators, labels, symmetric).report()
    import multiprocessing

    context = multiprocessing.get_context("fork")
    chosen = list(annotators) if annotators is not None else None
    chosen_labels = list(labels) if labels is not None else None
    with context.Pool(len(ranges), initializer=_ignore_interrupts) as pool:  # leaving it terminates the workers
        pending = [
            pool.apply_async(_agreement_part, (store.path, dataset, chosen, chosen_labels, symmetric, positions))
            for positions in ranges
        ]
        parts = []
        for result in pending:
            try:
                parts.append(result.get())
            except Exception as error:
                error.__cause__ = None  # the worker's traceback text: not shown (the error is one line)
                raise error from None
    return merged_report(parts)


def gold_meta(item: ReviewItem, chosen: VersionGroup | None, method: str) -> dict:
    """Meta of a gold decision (see the module docstring)."""
    return {
        "resolves": [d for group in item.groups for d in group.decision_ids if d is not None],
        "versions": list(chosen.annotators) if chosen is not None else [],
        "method": method,
    }


def store_gold(
    store: "Store",
    item: ReviewItem,
    *,
    reviewer: str,
    answer: str,
    spans: Sequence[Span],
    relations: Sequence[Relation],
    chosen: VersionGroup | None,
    method: str,
    session: str = "",
    allow_overlaps: bool = True,
    tokens: Sequence[Token] | None = None,
) -> Decision:
    """Store the reviewer's gold decision for ``item`` (one committed transaction, or part of the caller's).

    ``tokens``: the tokens the spans' indices refer to. Without them, a version's spans that cut
    a token of the sentence (an annotator split it) get the fewest splits that hold them, and the
    spans are indexed on those tokens.
    """
    sentence = store.sentence(item.sentence_id)
    if tokens is None:
        tokens, spans = split_for_spans(sentence.text, sentence.tokens, spans)
    return store.add_decision(
        sentence,
        annotator=reviewer,
        answer=answer,
        spans=spans,
        relations=relations,
        session=session,
        gold=True,
        meta=gold_meta(item, chosen, method),
        allow_overlaps=allow_overlaps,
        tokens=tokens,
    )


@dataclass
class AutoReview:
    """What ``auto_review`` stored and left."""

    agreed: int = 0
    """Sentences where every annotator agreed, stored as gold."""
    majority: int = 0
    """Sentences decided by a strict majority, stored as gold."""
    ties: int = 0
    """Sentences without a majority, left for the review screen."""
    already: int = 0
    """Sentences that had the reviewer's gold already (left as they are)."""


def auto_review(store: "Store", dataset: str, reviewer: str, method: str = "majority", *, allow_overlaps: bool = True) -> AutoReview:
    """Sentences where all agree, and strict majorities, become the reviewer's gold (one transaction)."""
    if method not in AUTO_METHODS:
        raise DatasetError(f"--auto supports {', '.join(AUTO_METHODS)}, not {method!r}")
    result = AutoReview()
    items = list(review_queue(load_versions(store, dataset), include_agreed=True))
    with store.transaction():
        for item in items:
            gold_now = store.current_decision(item.sentence_id, reviewer, gold=True)
            if gold_now is not None and gold_now.answer is not None:
                result.already += 1
                continue
            if item.agreed:
                group, how = item.groups[0], METHOD_AGREED
            else:
                group, how = majority_merge(item.sentence.versions), METHOD_MAJORITY
                if group is None:
                    result.ties += 1
                    continue
            store_gold(
                store, item, reviewer=reviewer, answer=group.answer, spans=group.spans, relations=group.relations,
                chosen=group, method=how, session=f"{reviewer}-auto", allow_overlaps=allow_overlaps,
            )
            if how == METHOD_AGREED:
                result.agreed += 1
            else:
                result.majority += 1
    return result
