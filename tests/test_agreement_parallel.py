"""``gold.dataset_agreement`` in worker processes against the in-process pass: the same report.

The sentences are cut into ranges of positions, each counted in a forked worker with its own
read-only store, and the counts merged; every figure of ``to_dict()`` must equal the in-process
report's (floats compared exactly: the same integers through the same ``Fraction`` arithmetic).
"""

from __future__ import annotations

import multiprocessing
import pickle
import random

import pytest

from annotator import agreement as agreement_module
from annotator.agreement import compute_agreement
from annotator.errors import DatasetError
from annotator.gold import dataset_agreement, default_workers, load_versions, position_ranges
from annotator.model import Relation, Span, Token
from annotator.store import Store

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method")

NAMES = ["ann", "bea", "cai", "dov"]
LABELS = ["LOC", "ORG", "PER"]
N_SENTENCES = 60
N_TOKENS = 7


def _spans(rng: random.Random) -> list[Span]:
    spans = {}
    for _ in range(rng.randint(0, 4)):  # overlapping spans, several labels on one range
        first = rng.randrange(N_TOKENS)
        last = min(N_TOKENS - 1, first + rng.randint(0, 2))
        label = rng.choice(LABELS)
        spans[(first, last, label)] = Span(6 * first, 6 * last + 5, label, first, last)
    return list(spans.values())


def _relations(rng: random.Random, spans: list[Span]) -> list[Relation]:
    if len(spans) < 2:
        return []
    relations = {}
    for _ in range(rng.randint(0, 2)):
        head, child = rng.sample(spans, 2)
        label = rng.choice(["near", "works_for"])
        relations[((head.start, head.end), (child.start, child.end), label)] = Relation((head.start, head.end), (child.start, child.end), label)
    return list(relations.values())


def make_dataset(path, seed: int = 7) -> None:
    rng = random.Random(seed)
    text = " ".join("w%04d" % i for i in range(N_SENTENCES * N_TOKENS))
    sentences = []
    for s in range(N_SENTENCES):
        base = 6 * N_TOKENS * s
        tokens = [Token(6 * i, 6 * i + 5, True) for i in range(N_TOKENS)]
        sentences.append((base, base + 6 * N_TOKENS - 1, tokens))
    with Store(path) as store:
        store.ensure_dataset("demo")
        store.add_article("demo", title="t", text=text, content_hash="h", source="test", meta={}, sentences=sentences)
        for position in range(1, N_SENTENCES + 1):
            sentence = store.sentence_at("demo", position).sentence
            given: dict[str, tuple] = {}
            for name in NAMES:
                state = rng.choice(["missing", "undo", "accept", "accept", "copy", "copy", "reject", "ignore", "twice"])
                if state == "missing":
                    continue
                if state == "copy" and given:
                    answer, spans, relations = given[rng.choice(sorted(given))]
                elif state in ("accept", "twice", "copy"):
                    spans = _spans(rng)
                    answer, relations = "accept", _relations(rng, spans)
                else:
                    answer, spans, relations = (None if state == "undo" else state), [], []
                if state == "twice":  # superseded: only the later decision counts
                    store.add_decision(sentence, annotator=name, answer="reject", session=name)
                store.add_decision(sentence, annotator=name, answer=answer, spans=spans, relations=relations, session=name)
                given[name] = (answer, spans, relations)
            if position % 5 == 0 and given:  # gold decisions are not an annotator's
                answer, spans, relations = given[sorted(given)[0]]
                store.add_decision(sentence, annotator="rev", answer=answer, spans=spans, relations=relations, gold=True)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("parallel") / "many.db"
    make_dataset(path)
    return path


def in_process(path, annotators=None, labels=None, symmetric=("near",)):
    with Store(path, create=False, readonly=True) as store:
        return compute_agreement(load_versions(store, "demo", annotators), annotators, labels, symmetric)


@pytest.mark.parametrize("workers", [2, 3, 7])
@pytest.mark.parametrize(
    "annotators,labels",
    [(None, None), (["ann", "bea", "cai", "dov"], None), (["dov", "bea"], None), (["ann", "cai", "dov"], ["PER", "LOC"])],
)
def test_workers_report_exactly_the_in_process_figures(db, workers, annotators, labels):
    expected = in_process(db, annotators, labels)
    assert expected.n_sentences > 10  # the dataset has disagreements to count
    with Store(db, create=False, readonly=True) as store:
        one = dataset_agreement(store, "demo", annotators, labels, ["near"], workers=1)
        many = dataset_agreement(store, "demo", annotators, labels, ["near"], workers=workers)
    assert one.to_dict() == expected.to_dict()
    assert many.to_dict() == expected.to_dict()
    assert many == expected


def test_position_ranges_cover_every_position_once():
    for n in (1, 2, 5, 59, 60, 61, 100_000):
        for parts in (1, 2, 3, 4, 7):
            ranges = position_ranges(n, parts)
            assert len(ranges) == min(parts, n)
            covered = [p for first, last in ranges for p in range(first, last + 1)]
            assert covered == list(range(1, n + 1))
            sizes = [last - first + 1 for first, last in ranges]
            assert max(sizes) - min(sizes) <= 1


def test_default_is_in_process_for_small_datasets():
    assert default_workers(100) == 1
    assert default_workers(19_999) == 1
    assert 1 <= default_workers(100_000) <= 4


def test_a_workers_error_is_the_in_process_error(db, monkeypatch):
    """The first sentence that fails, in position order, as the in-process pass reports it: the
    same type and message, without the worker's traceback attached."""
    with Store(db, create=False, readonly=True) as store:
        failing = {store.sentence_at("demo", p).sentence.id for p in (45, 50)}  # both in the last range of 2
    original = agreement_module._Agreement.add

    def add(self, item):
        if item.sentence_id in failing:
            raise ValueError(f"sentence {item.sentence_id}: broken")
        original(self, item)

    monkeypatch.setattr(agreement_module._Agreement, "add", add)  # forked workers inherit it
    with Store(db, create=False, readonly=True) as store:
        with pytest.raises(ValueError) as one:
            dataset_agreement(store, "demo", workers=1)
        with pytest.raises(ValueError) as many:
            dataset_agreement(store, "demo", workers=2)
    assert str(many.value) == str(one.value) == f"sentence {min(failing)}: broken"
    assert many.value.__cause__ is None


def test_unknown_dataset_is_a_dataset_error(db):
    with Store(db, create=False, readonly=True) as store:
        with pytest.raises(DatasetError):
            dataset_agreement(store, "nope", workers=2)
    error = DatasetError("no dataset 'x'", "some.db")  # what a worker would send back
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
