"""The review screen's queue, read lazily, against the eager build it replaces.

``load_queue`` reads an index of the reviewable sentences (``gold.load_review_index``: which have
two or more decided versions and whether they agree, decoding only versions whose stored JSON
differs) and each sentence's :class:`~annotator.review.ReviewItem` when first shown. Here random
decisions of three annotators (copies of one another, the same spans in another order or with
another ``source``, symmetric relations reversed, rejections, undos) are stored, and the lazy
queue is checked against ``list(review_queue(gold.load_versions(...), include_agreed=True))``
(what the queue was built from before): the same items in the same order, the same counts, the
same visible queue with and without the agreed sentences.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.gold import load_review_index, load_versions
from annotator.model import Relation, Span
from annotator.review import review_index, review_queue
from annotator.store import Store
from annotator.store.codec import decode_relation_tuples, decode_span_tuples, encode_relations, encode_spans
from annotator.tui.review_state import LazyItems, ReviewQueue, load_queue, position_runs

from .conftest import SEED
from .test_agreement_fastpath import datasets

DATASET = "demo"
NAMES = ("ann", "bea", "cai")
LABELS = ("GPE", "ORG", "PERSON")
REVIEWER = "rev"
N_SENTENCES = 6
_copies = itertools.count()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    from annotator.importer import ArticleImporter, ArticleInput

    path = tmp_path_factory.mktemp("lazy") / "template.db"
    with Store(path) as store:
        store.ensure_dataset(DATASET)
        ArticleImporter(store, DATASET).import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))])
        assert store.sentence_count(DATASET) >= N_SENTENCES
    return path


@st.composite
def picks(draw):
    """Per sentence and annotator: what they do, and the spans (token ranges, labels) they mark."""
    plan = []
    for _ in range(N_SENTENCES):
        base = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1), st.sampled_from(LABELS)), max_size=3))
        per_name = []
        for _ in NAMES:
            action = draw(st.sampled_from(["missing", "copy", "copy", "reordered", "sourced", "reversed", "own", "reject", "ignore", "undo"]))
            own = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1), st.sampled_from(LABELS)), max_size=3))
            per_name.append((action, own))
        plan.append((base, per_name, draw(st.sampled_from(["NEAR", "MEETS_WITH"]))))
    return plan


def spans_for(sentence, marks, source=None) -> list[Span]:
    spans = {}
    for first, length, label in marks:
        first = min(first, len(sentence.tokens) - 1)
        last = min(first + length, len(sentence.tokens) - 1)
        start, end = sentence.tokens[first].start, sentence.tokens[last].end
        spans[(start, end, label)] = Span(start, end, label, first, last, source)
    return list(spans.values())


def store_plan(store: Store, plan) -> None:
    for position, (base, per_name, relation_label) in enumerate(plan, start=1):
        sentence = store.sentence_at(DATASET, position).sentence
        spans = spans_for(sentence, base)
        relations = [Relation(spans[0].key, spans[-1].key, relation_label)] if len(spans) > 1 else []
        for name, (action, own) in zip(NAMES, per_name):
            if action == "missing":
                continue
            if action in ("reject", "ignore"):
                store.add_decision(sentence, annotator=name, answer=action, spans=spans_for(sentence, own))
            elif action == "own":
                store.add_decision(sentence, annotator=name, answer="accept", spans=spans_for(sentence, own))
            elif action == "undo":
                store.undo(store.add_decision(sentence, annotator=name, answer="accept", spans=spans))
            else:  # the same version, stored as the same JSON or not
                mine, theirs = list(spans), list(relations)
                if action == "reordered":
                    mine.reverse()
                elif action == "sourced":
                    mine = spans_for(sentence, base, source="model")
                elif action == "reversed":
                    theirs = [Relation(r.child, r.head, r.label) for r in theirs]
                store.add_decision(sentence, annotator=name, answer="accept", spans=mine, relations=theirs)


def eager_queue(store: Store, min_versions: int, symmetric) -> list:
    return list(review_queue(load_versions(store, DATASET), min_versions, include_agreed=True, symmetric_labels=symmetric))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=picks(), min_versions=st.integers(1, 3), use_symmetry=st.booleans(), gold_at=st.sets(st.integers(1, N_SENTENCES), max_size=3))
def test_lazy_queue_equals_the_eager_build(template_db, tmp_path, plan, min_versions, use_symmetry, gold_at):
    db = tmp_path / f"lazy-{next(_copies)}.db"
    shutil.copyfile(template_db, db)
    symmetric = frozenset({"MEETS_WITH"} if use_symmetry else ())
    with Store(db) as store:
        store_plan(store, plan)
        for position in sorted(gold_at):
            store.add_decision(store.sentence_at(DATASET, position).sentence, annotator=REVIEWER, answer="reject", gold=True)
        eager = eager_queue(store, min_versions, symmetric)
        index = load_review_index(store, DATASET, min_versions, symmetric)
        assert [(entry[0], entry[2]) for entry in index] == [(item.sentence_id, item.agreed) for item in eager]
        assert [entry[1] for entry in index] == [store.sentence(item.sentence_id).position for item in eager]

        lazy = load_queue(store, DATASET, REVIEWER, symmetric_labels=symmetric, min_versions=min_versions)
        gold = {s.id: d for s, d in store.current_decisions(DATASET, [REVIEWER], gold=True)}
        old = ReviewQueue(eager, gold)
        start = old.first_unsettled()
        old.index = start if start is not None else 0
        assert isinstance(lazy.items, LazyItems) and len(lazy.items) == len(eager)
        for include in (False, True):
            lazy.set_include_agreed(include)
            old.set_include_agreed(include)
            assert (len(lazy), lazy.n_agreed, lazy.settled, lazy.unsettled, lazy.agreed_pending, lazy.index, lazy.first_unsettled()) == (
                len(old), old.n_agreed, old.settled, old.unsettled, old.agreed_pending, old.index, old.first_unsettled()
            )
            assert lazy.current == old.current
            assert [lazy.item_at(n) for n in range(len(lazy))] == [old.item_at(n) for n in range(len(old))]
        assert [item.groups for item in lazy.items] == [item.groups for item in eager]
        assert lazy.agreed_without_gold() == old.agreed_without_gold()
        fresh = load_queue(store, DATASET, REVIEWER, symmetric_labels=symmetric, min_versions=min_versions)
        assert fresh.agreed_without_gold() == old.agreed_without_gold()  # read in one pass, none loaded before


def test_an_item_changed_after_the_index_is_read_shows_what_is_there(template_db, tmp_path):
    """The items are read when shown: a version undone since the index was read is not shown."""
    db = tmp_path / "changed.db"
    shutil.copyfile(template_db, db)
    with Store(db) as store:
        sentence = store.sentence_at(DATASET, 2).sentence
        spans = spans_for(sentence, [(0, 0, "GPE")])
        first = store.add_decision(sentence, annotator="ann", answer="accept", spans=spans)
        store.add_decision(sentence, annotator="bea", answer="reject")
        queue = load_queue(store, DATASET, REVIEWER)
        assert len(queue) == 1 and queue.items.sentence_ids == [sentence.id]
        store.undo(first)
        item = queue.current
        assert item.sentence_id == sentence.id and [g.annotators for g in item.groups] == [("bea",)]
        store.undo(store.current_decision(sentence.id, "bea"))
        assert queue.agreed_without_gold() == []
        empty = load_queue(store, DATASET, REVIEWER)
        assert len(empty) == 0 and empty.current is None


@given(st.lists(st.integers(1, 5000), max_size=60, unique=True).map(sorted), st.integers(0, 600))
def test_position_runs_cover_exactly_the_positions_with_small_gaps(positions, gap):
    """What ``A`` reads: every wanted position in one run, runs in order, no gap wider than ``gap``
    inside a run, and runs more than ``gap`` apart."""
    runs = list(position_runs(positions, gap))
    assert [p for p in positions if not any(a <= p <= b for a, b in runs)] == []
    assert all(a in positions and b in positions for a, b in runs)
    for (_, last), (first, _) in zip(runs, runs[1:]):
        assert first - last > gap
    for a, b in runs:
        inside = [p for p in positions if a <= p <= b]
        assert all(q - p <= gap for p, q in zip(inside, inside[1:]))


def test_review_index_refuses_min_versions_below_one(template_db):
    with pytest.raises(ValueError, match="at least 1"):
        review_index([], str, str, 0)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), min_versions=st.integers(1, 3), use_symmetry=st.booleans())
def test_review_index_equals_review_queue_whatever_the_json_looks_like(data, min_versions, use_symmetry):
    """``review.review_index`` on stored texts: one version written as different JSON (spans in
    another order, another ``source``, a symmetric relation reversed) still agrees."""
    from dataclasses import replace

    _, items = data.draw(datasets())
    symmetric = {"sym"} if use_symmetry else set()
    records = []
    for item in items:
        versions = []
        for name, decision in item.versions.items():
            spans = list(data.draw(st.permutations(decision.spans)))
            spans = [replace(s, source=data.draw(st.sampled_from([None, "model"]))) for s in spans]
            relations = [
                Relation(r.child, r.head, r.label) if r.label in symmetric and data.draw(st.booleans()) else r
                for r in data.draw(st.permutations(decision.relations))
            ]
            versions.append((name, decision.answer, encode_spans(spans), encode_relations(relations)))
        records.append((item.sentence_id, 10 * item.sentence_id, sorted(versions)))
    index = review_index(records, decode_span_tuples, decode_relation_tuples, min_versions, symmetric_labels=symmetric)
    expected = review_queue(items, min_versions, include_agreed=True, symmetric_labels=symmetric)
    assert index == [(q.sentence_id, 10 * q.sentence_id, q.agreed) for q in expected]
