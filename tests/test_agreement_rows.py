"""``annotator agreement`` reads the versions through ``Store.current_version_rows`` (the rows
and token counts only; a sentence's tokens and decisions read again when used): the same
``SentenceVersions`` as ``gold.load_versions`` and the same report, split decisions included.
"""

from __future__ import annotations

import multiprocessing
import random

import pytest

from annotator.agreement import compute_agreement
from annotator.gold import _counted_versions, dataset_agreement, load_versions
from annotator.model import Span, split_for_spans
from annotator.store import Store

from .test_agreement_parallel import NAMES, make_dataset


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """The parallel tests' dataset, plus decisions that split a token (their spans index the split tokens)."""
    path = tmp_path_factory.mktemp("rows") / "rows.db"
    make_dataset(path, seed=11)
    rng = random.Random(3)
    with Store(path) as store:
        for position in (2, 9, 17, 33):
            sentence = store.sentence_at("demo", position).sentence
            token = sentence.tokens[rng.randrange(len(sentence.tokens))]
            inside = Span(token.start + 1, token.end, "LOC", 0, 0)  # cuts the token: indices set by the split
            tokens, spans = split_for_spans(sentence.text, sentence.tokens, [inside])
            assert tokens is not None
            store.add_decision(sentence, annotator=rng.choice(NAMES), answer="accept", spans=spans, tokens=tokens)
    return path


@pytest.mark.parametrize("annotators", [None, ["ann", "cai"], ["dov"]])
@pytest.mark.parametrize("positions", [None, (1, 1), (5, 40), (55, 99)])
def test_the_same_versions_as_load_versions(db, annotators, positions):
    with Store(db, create=False, readonly=True) as store:
        counted = list(_counted_versions(store, "demo", annotators, positions))
        loaded = list(load_versions(store, "demo", annotators, positions))
        assert [item.rows for item in counted] == [item.rows for item in loaded]
        assert [item.n_tokens for item in counted] == [item.n_tokens for item in loaded]
        assert counted == loaded  # tokens and decisions, read when used, as load_versions decodes them
        if annotators is None and positions is None:
            assert any(row.split for item in counted for row in item.rows)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method")
@pytest.mark.parametrize("workers", [1, 3])
def test_the_same_report_with_split_decisions(db, workers):
    with Store(db, create=False, readonly=True) as store:
        expected = compute_agreement(load_versions(store, "demo"), symmetric_labels=["near"]).to_dict()
        assert dataset_agreement(store, "demo", symmetric_labels=["near"], workers=workers).to_dict() == expected
