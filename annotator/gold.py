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

import gc
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


def load_versions(store: "Store", dataset: str, annotators: Sequence[str] | None = None) -> Iterator["SentenceVersions"]:
    """Stream ``SentenceVersions`` (one per sentence with current decisions), in position order.

    From ``Store.current_versions``: the metrics and the review queue read the versions as plain
    tuples; a sentence's tokens and full decisions are decoded when first used.

    The garbage collector is paused while streaming: the load creates millions of small objects
    and nothing cyclic, and its repeated scans of the growing heap cost more than half the time.
    """
    from .agreement import SentenceVersions

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for record in store.current_versions(dataset, annotators):
            yield SentenceVersions.stored(*record)
    finally:
        if was_enabled:
            gc.enable()


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
