"""annotator.agreement: every figure checked by hand and against reference implementations.

Hand-worked examples carry their derivation in comments. Random decisions (hypothesis) are compared
with sklearn's cohen_kappa_score, the ``krippendorff`` package and straightforward re-implementations
written here without the module's shortcuts (dense token lists, no fast paths).
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from fractions import Fraction

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from annotator.agreement import (
    OUTSIDE,
    AgreementReport,
    SentenceVersions,
    chance_corrected,
    cohen_kappa,
    compute_agreement,
    overlap_matches,
    token_labels,
)
from annotator.model import Decision, Relation, Sentence, Span, Token

TOL = 1e-9
_ids = itertools.count(1)

# Token i of every test sentence covers characters [6i, 6i + 5): "xxxxx xxxxx ...".


def tokens(n: int) -> tuple[Token, ...]:
    return tuple(Token(6 * i, 6 * i + 5, True) for i in range(n))


def span(first: int, last: int, label: str) -> Span:
    """The span over tokens ``first..last`` (inclusive)."""
    return Span(6 * first, 6 * last + 5, label, first, last)


def decision(annotator: str, answer: str | None = "accept", spans=(), relations=(), sentence_id: int = 1) -> Decision:
    number = next(_ids)
    return Decision(
        id=number,
        uid=f"uid-{number}",
        sentence_id=sentence_id,
        annotator=annotator,
        session="test",
        answer=answer,
        spans=tuple(spans),
        relations=tuple(relations),
        created_at=1_700_000_000.0 + number,
    )


def item(sentence_id: int, n_tokens: int, **versions) -> SentenceVersions:
    """``item(1, 5, a=("accept", [spans], [relations]), b=("reject",))``."""
    decisions = {}
    for name, version in versions.items():
        answer, spans, relations = (tuple(version) + ((), ()))[:3]
        decisions[name] = decision(name, answer, spans, relations, sentence_id)
    return SentenceVersions(sentence_id, n_tokens, tokens(n_tokens), decisions)


def approx(value):
    return pytest.approx(value, abs=TOL, rel=0)


# ------------------------------------------------------------------------------------ hand-worked


def test_span_exact_and_overlap_by_hand():
    # a: PER 0-1, ORG 3, PER 5-6, LOC 8        b: PER 0-1, ORG 3-4, PER 6-7, GPE 9
    # EXACT   PER tp1 fp1 fn1 -> P .5 R .5 F .5;  ORG tp0 fp1 fn1 -> 0 0 0
    #         LOC fn1 -> P None R 0 F 0;          GPE fp1 -> P 0 R None F 0
    #         micro tp1 fp3 fn3 -> .25 .25 .25;   macro over 4 present labels (None counts 0): .5/4 = .125
    # OVERLAP PER 0-1~0-1, 5-6~6-7 (token 6 shared) tp2; ORG 3~3-4 tp1; LOC fn1; GPE fp1
    #         micro tp3 fp1 fn1 -> .75 .75 .75;   macro (1 + 1 + 0 + 0) / 4 = .5 for P, R and F
    a = [span(0, 1, "PER"), span(3, 3, "ORG"), span(5, 6, "PER"), span(8, 8, "LOC")]
    b = [span(0, 1, "PER"), span(3, 4, "ORG"), span(6, 7, "PER"), span(9, 9, "GPE")]
    report = compute_agreement([item(1, 10, a=("accept", a), b=("accept", b))])
    assert report.labels == ("GPE", "LOC", "ORG", "PER")
    (pair,) = report.spans.pairs
    assert (pair.a, pair.b, pair.n_sentences) == ("a", "b", 1)
    exact = pair.exact
    assert exact.per_label["PER"].to_dict() == {"tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert exact.per_label["ORG"].to_dict() == {"tp": 0, "fp": 1, "fn": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert exact.per_label["LOC"].to_dict() == {"tp": 0, "fp": 0, "fn": 1, "precision": None, "recall": 0.0, "f1": 0.0}
    assert exact.per_label["GPE"].to_dict() == {"tp": 0, "fp": 1, "fn": 0, "precision": 0.0, "recall": None, "f1": 0.0}
    assert (exact.micro.precision, exact.micro.recall, exact.micro.f1) == (0.25, 0.25, 0.25)
    assert exact.macro.to_dict() == {"precision": 0.125, "recall": 0.125, "f1": 0.125, "n_labels": 4}
    overlap = pair.overlap
    assert (overlap.per_label["PER"].tp, overlap.per_label["ORG"].tp) == (2, 1)
    assert overlap.micro.to_dict() == {"tp": 3, "fp": 1, "fn": 1, "precision": 0.75, "recall": 0.75, "f1": 0.75}
    assert overlap.macro.to_dict() == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "n_labels": 4}
    # one pair: the average is the pair
    assert report.spans.average["exact"]["micro"] == {"precision": 0.25, "recall": 0.25, "f1": 0.25}
    assert report.spans.average["overlap"]["macro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_overlap_is_greedy_by_largest_overlap_and_matches_each_span_once():
    # a: X = tokens 0-2 [0,17), W = token 3 [18,23);  b: Y = token 0 [0,5), Z = tokens 1-3 [6,23)
    # overlaps: X~Z 11 chars, X~Y 5, W~Z 5. Greedy takes X~Z first; then Y and W have nothing left
    # (W's only partner Z is used): tp1 fp1 (Y) fn1 (W) -- not the maximum matching X~Y, W~Z.
    a = [span(0, 2, "ORG"), span(3, 3, "ORG")]
    b = [span(0, 0, "ORG"), span(1, 3, "ORG")]
    report = compute_agreement([item(1, 4, a=("accept", a), b=("accept", b))])
    scores = report.spans.pairs[0].overlap.micro
    assert (scores.tp, scores.fp, scores.fn) == (1, 1, 1)
    # one long span against two inside it: matched once
    report = compute_agreement([item(1, 6, a=("accept", [span(0, 5, "ORG")]), b=("accept", [span(0, 1, "ORG"), span(3, 4, "ORG")]))])
    scores = report.spans.pairs[0].overlap.micro
    assert (scores.tp, scores.fp, scores.fn) == (1, 1, 0)
    # a different label never matches, however large the overlap
    report = compute_agreement([item(1, 3, a=("accept", [span(0, 2, "ORG")]), b=("accept", [span(0, 2, "PER")]))])
    assert report.spans.pairs[0].overlap.micro.tp == 0


def test_overlap_matches_ties_go_to_earlier_reference_then_earlier_compared_span():
    # ref R1 = [0,10), R2 = [10,20); compared C = [5,15): overlaps 5 and 5 -> R1 (earlier) wins
    assert overlap_matches([(10, 20, "X"), (0, 10, "X")], [(5, 15, "X")]) == [((0, 10, "X"), (5, 15, "X"))]
    # ref R = [5,15); compared C1 = [0,10), C2 = [10,20): tie -> the earlier compared span
    assert overlap_matches([(5, 15, "X")], [(10, 20, "X"), (0, 10, "X")]) == [((5, 15, "X"), (0, 10, "X"))]


def test_token_labels_take_the_longest_then_the_first_span():
    # LOC 0-2 contains ORG 1: the longer LOC wins everywhere.
    # PER 3-4 and ORG 4-5 have the same length: PER starts first and keeps token 4.
    spans = [span(1, 1, "ORG"), span(0, 2, "LOC"), span(4, 5, "ORG"), span(3, 4, "PER")]
    assert token_labels(spans, 7) == {0: "LOC", 1: "LOC", 2: "LOC", 3: "PER", 4: "PER", 5: "ORG"}
    with pytest.raises(ValueError, match="outside 0-2"):
        token_labels([span(2, 3, "ORG")], 3)


def test_token_cohen_kappa_by_hand():
    # a: PER PER O O ORG O   O O        b: PER O O O ORG ORG O O
    # confusion: (PER,PER)1 (PER,O)1 (O,O)4 (ORG,ORG)1 (O,ORG)1; N = 8; observed = 6/8
    # a: PER2 O5 ORG1; b: PER1 O5 ORG2; expected = (2*1 + 5*5 + 1*2) / 64 = 29/64
    # kappa = (48/64 - 29/64) / (35/64) = 19/35
    report = compute_agreement(
        [
            item(
                1,
                8,
                a=("accept", [span(0, 1, "PER"), span(4, 4, "ORG")]),
                b=("accept", [span(0, 0, "PER"), span(4, 5, "ORG")]),
            )
        ]
    )
    (pair,) = report.tokens.pairs
    assert (pair.n_sentences, pair.n_units) == (1, 8)
    assert pair.observed == approx(0.75)
    assert pair.expected == approx(29 / 64)
    assert pair.kappa == approx(19 / 35)
    a = ["PER", "PER", "O", "O", "ORG", "O", "O", "O"]
    b = ["PER", "O", "O", "O", "ORG", "ORG", "O", "O"]
    assert pair.kappa == approx(cohen_kappa_score(a, b))


def test_answer_agreement_by_hand():
    # a: acc acc acc rej rej ign     b: acc acc rej rej acc ign
    # observed 4/6; both annotators acc3 rej2 ign1 -> expected (9 + 4 + 1) / 36 = 14/36
    # kappa = (24/36 - 14/36) / (22/36) = 5/11
    a = ["accept", "accept", "accept", "reject", "reject", "ignore"]
    b = ["accept", "accept", "reject", "reject", "accept", "ignore"]
    report = compute_agreement(item(i, 3, a=(x,), b=(y,)) for i, (x, y) in enumerate(zip(a, b)))
    (pair,) = report.answers.pairs
    assert (pair.n_sentences, pair.n_units) == (6, 6)
    assert pair.observed == approx(4 / 6)
    assert pair.expected == approx(14 / 36)
    assert pair.kappa == approx(5 / 11)
    assert pair.kappa == approx(cohen_kappa_score(a, b))
    assert report.answers.average == {"observed": pair.observed, "kappa": pair.kappa}


def test_fleiss_and_alpha_by_hand():
    # tokens:  a: X X O O   b: X O O O   c: X X X O   (3 raters, 4 units, 12 values)
    # Fleiss: P_i = (sum n_ij^2 - 3) / 6 -> t0 (9-3)/6 = 1, t1 (4+1-3)/6 = 1/3, t2 1/3, t3 1
    #   P-bar = (8/3) / 4 = 2/3; X: 6/12, O: 6/12 -> P_e = 1/2; kappa = (2/3 - 1/2) / (1/2) = 1/3
    # alpha: coincidence diagonal sum_u sum_c n_uc (n_uc - 1) / (m_u - 1) = 3 + 1 + 1 + 3 = 8
    #   A_o = 8/12 = 2/3; A_e = (6*5 + 6*5) / (12*11) = 5/11; alpha = (2/3 - 5/11) / (6/11) = 7/18
    report = compute_agreement(
        [item(1, 4, a=("accept", [span(0, 1, "X")]), b=("accept", [span(0, 0, "X")]), c=("accept", [span(0, 2, "X")]))]
    )
    fleiss = report.tokens.fleiss
    assert (fleiss.n_sentences, fleiss.n_units, fleiss.n_values) == (1, 4, 12)
    assert fleiss.observed == approx(2 / 3)
    assert fleiss.expected == approx(1 / 2)
    assert fleiss.value == approx(1 / 3)
    alpha = report.tokens.alpha
    assert (alpha.n_units, alpha.n_values) == (4, 12)
    assert alpha.observed == approx(2 / 3)
    assert alpha.expected == approx(5 / 11)
    assert alpha.value == approx(7 / 18)
    data = [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]]
    assert alpha.value == approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def test_fleiss_wikipedia_example():
    # The worked example on Wikipedia's "Fleiss' kappa" page: 14 raters, 10 subjects, 5 categories,
    # P-bar = 172/455 = 0.378, P_e = 417/1960 = 0.213, kappa = 4211/20059 = 0.210.
    # Each subject is a one-token sentence; category 1 is "O", 2..5 are labels L2..L5.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    raters = [f"r{i:02d}" for i in range(14)]
    items = []
    for sentence_id, row in enumerate(table):
        categories = [c for c, count in enumerate(row) for _ in range(count)]
        versions = {
            name: ("accept", [] if c == 0 else [span(0, 0, f"L{c + 1}")]) for name, c in zip(raters, categories)
        }
        items.append(item(sentence_id, 1, **versions))
    fleiss = compute_agreement(items).tokens.fleiss
    assert fleiss.observed == approx(172 / 455)
    assert fleiss.expected == approx(417 / 1960)
    assert fleiss.value == approx(4211 / 20059)
    assert round(fleiss.value, 3) == 0.210


def test_krippendorff_canonical_nominal_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 observers x 12 units with
    # missing values: nominal alpha = 0.743. Each unit is a one-token sentence; value 1 is "O" and
    # 2..5 are labels V2..V5; a missing value is an annotator who did not decide or who rejected.
    nan = math.nan
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    names = ["A", "B", "C", "D"]
    items = []
    for unit in range(12):
        versions = {}
        for name, row in zip(names, data):
            value = row[unit]
            if math.isnan(value):
                if unit % 2:
                    versions[name] = ("reject",)  # rejected: decided, but no token values
                continue
            versions[name] = ("accept", [] if value == 1 else [span(0, 0, f"V{int(value)}")])
        items.append(item(unit, 1, **versions))
    alpha = compute_agreement(items).tokens.alpha
    assert round(alpha.value, 3) == 0.743
    assert alpha.value == approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    # the paper's n = 40 pairable values: 3 + 8 * 4 + 3 + 2 (unit 12 has a single value and drops out)
    assert alpha.n_values == 40
    assert alpha.n_units == 11


def test_relations_labelled_unlabelled_and_symmetric():
    x, y, z = (0, 5), (12, 17), (24, 29)  # spans at tokens 0, 2 and 4
    spans = [span(0, 0, "PER"), span(2, 2, "ORG"), span(4, 4, "PER")]
    a = [Relation(x, y, "works_for"), Relation(y, z, "spouse"), Relation(x, z, "located_in")]
    b = [Relation(x, y, "works_for"), Relation(z, y, "spouse"), Relation(z, x, "located_in"), Relation(z, x, "works_for")]
    items = [item(1, 5, a=("accept", spans, a), b=("accept", spans, b))]
    # symmetric spouse: works_for tp1 fp1 (z->x); spouse tp1; located_in fp1 fn1
    #   micro tp2 fp2 fn1 -> P 1/2, R 2/3, F1 4/7
    #   unlabelled a {(x,y),(y,z),(x,z)} b {(x,y),(y,z),(z,x)} -> tp2 fp1 fn1 -> 2/3 2/3 2/3
    pair = compute_agreement(items, symmetric_labels={"spouse"}).relations.pairs[0]
    assert (pair.labelled.per_label["works_for"].tp, pair.labelled.per_label["works_for"].fp) == (1, 1)
    assert (pair.labelled.per_label["spouse"].tp, pair.labelled.per_label["spouse"].fp) == (1, 0)
    assert (pair.labelled.micro.tp, pair.labelled.micro.fp, pair.labelled.micro.fn) == (2, 2, 1)
    assert pair.labelled.micro.precision == approx(1 / 2)
    assert pair.labelled.micro.recall == approx(2 / 3)
    assert pair.labelled.micro.f1 == approx(4 / 7)
    assert (pair.unlabelled.tp, pair.unlabelled.fp, pair.unlabelled.fn) == (2, 1, 1)
    # without symmetry spouse(y,z) != spouse(z,y): labelled tp1 fp3 fn2; unlabelled tp1 fp2 fn2
    pair = compute_agreement(items).relations.pairs[0]
    assert (pair.labelled.micro.tp, pair.labelled.micro.fp, pair.labelled.micro.fn) == (1, 3, 2)
    assert (pair.unlabelled.tp, pair.unlabelled.fp, pair.unlabelled.fn) == (1, 2, 2)
    assert compute_agreement(items).relation_labels == ("located_in", "spouse", "works_for")


# ---------------------------------------------------------------------------------- conventions


def test_edge_conventions():
    # nothing compared: everything None, no division errors
    report = compute_agreement([item(1, 3, a=("accept", [span(0, 0, "X")]))])
    assert report.n_sentences == 0 and report.n_sentences_seen == 1
    assert report.annotators == ("a",)
    assert report.spans.pairs == () and report.tokens.fleiss.value is None and report.tokens.alpha.value is None
    # both accepted, no spans at all: P/R/F1 None; every token "O" -> expected 1 -> kappa 1.0
    report = compute_agreement([item(1, 3, a=("accept",), b=("accept",))])
    pair = report.spans.pairs[0]
    assert pair.exact.micro.to_dict() == {"tp": 0, "fp": 0, "fn": 0, "precision": None, "recall": None, "f1": None}
    assert pair.exact.macro.to_dict() == {"precision": None, "recall": None, "f1": None, "n_labels": 0}
    tokens_pair = report.tokens.pairs[0]
    assert (tokens_pair.observed, tokens_pair.expected, tokens_pair.kappa) == (1.0, 1.0, 1.0)
    assert report.tokens.fleiss.value == 1.0 and report.tokens.alpha.value == 1.0
    # only a has spans: precision None (b has nothing), recall 0, F1 0
    report = compute_agreement([item(1, 3, a=("accept", [span(0, 0, "X")]), b=("accept",))])
    assert report.spans.pairs[0].exact.micro.to_dict() == {"tp": 0, "fp": 0, "fn": 1, "precision": None, "recall": 0.0, "f1": 0.0}
    # everyone answered the same: answer kappa 1.0
    report = compute_agreement([item(1, 2, a=("reject",), b=("reject",)), item(2, 2, a=("reject",), b=("reject",))])
    assert report.answers.pairs[0].kappa == 1.0
    assert report.spans.pairs[0].n_sentences == 0 and report.tokens.pairs[0].kappa is None
    assert chance_corrected(Fraction(1, 2), Fraction(1)) == 0.0
    assert cohen_kappa({}) == (0, None, None, None)


def test_undo_rows_are_not_decided_and_unknown_answers_fail():
    report = compute_agreement([item(1, 2, a=("accept",), b=(None,)), item(2, 2, a=("accept",), b=("accept",))])
    assert report.n_sentences == 1
    assert report.counts["b"].decided == 1
    with pytest.raises(ValueError, match="unknown answer 'maybe'"):
        compute_agreement([item(1, 2, a=("accept",), b=("maybe",))])


def test_span_outside_the_sentence_names_sentence_and_annotator():
    with pytest.raises(ValueError, match=r"sentence 7, annotator 'b': span .* outside 0-1"):
        compute_agreement([item(7, 2, a=("accept",), b=("accept", [span(1, 2, "X")]))])


def test_pair_orientation_follows_the_annotators_argument():
    items = [item(1, 6, a=("accept", [span(0, 0, "X"), span(2, 2, "X")]), b=("accept", [span(0, 0, "X")]))]
    ab = compute_agreement(items).spans.pairs[0]
    ba = compute_agreement(items, annotators=["b", "a"]).spans.pairs[0]
    assert (ab.a, ab.b, ba.a, ba.b) == ("a", "b", "b", "a")
    # a is the reference: b found 1 of a's 2 (recall 1/2) and everything b has is a's (precision 1)
    assert (ab.exact.micro.precision, ab.exact.micro.recall) == (1.0, 0.5)
    assert (ba.exact.micro.precision, ba.exact.micro.recall) == (0.5, 1.0)


def test_annotator_and_label_selection():
    items = [
        item(1, 6, a=("accept", [span(0, 0, "X"), span(2, 3, "Y")]), b=("accept", [span(0, 0, "X"), span(2, 2, "Y")]), c=("reject",)),
        item(2, 6, a=("accept", [span(1, 1, "X")]), c=("accept", [span(1, 1, "X")])),
    ]
    report = compute_agreement(items, annotators=["a", "b", "zed"], labels=["X", "Z"])
    assert report.annotators == ("a", "b", "zed")
    assert report.n_sentences == 1  # sentence 2: only a among the chosen decided it
    assert report.labels == ("X", "Z")
    pair = report.spans.pairs[0]
    assert list(pair.exact.per_label) == ["X", "Z"]
    assert pair.exact.micro.to_dict()["f1"] == 1.0  # Y was filtered out
    assert pair.exact.per_label["Z"].f1 is None
    assert report.tokens.pairs[0].kappa == 1.0  # Y tokens became "O"
    assert report.counts["zed"].to_dict() == {
        "decided": 0, "compared": 0, "accept": 0, "reject": 0, "ignore": 0, "spans": 0, "relations": 0
    }
    assert report.counts["a"].to_dict() == {
        "decided": 2, "compared": 1, "accept": 1, "reject": 0, "ignore": 0, "spans": 1, "relations": 0
    }
    assert [(p.a, p.b, p.n_sentences) for p in report.answers.pairs] == [("a", "b", 1), ("a", "zed", 0), ("b", "zed", 0)]
    # fleiss needs every chosen annotator to accept: "zed" never did
    assert report.tokens.fleiss.value is None and report.tokens.fleiss.n_units == 0
    assert report.tokens.alpha.n_units == 6
    # averages skip pairs with nothing to compare
    assert report.answers.average["kappa"] == report.answers.pairs[0].kappa


def test_fleiss_only_uses_sentences_all_accepted_and_alpha_uses_partial_ones():
    items = [
        item(1, 2, a=("accept", [span(0, 0, "X")]), b=("accept", [span(0, 0, "X")]), c=("accept", [span(1, 1, "X")])),
        item(2, 3, a=("accept", [span(0, 0, "X")]), b=("accept", [span(1, 1, "X")]), c=("ignore",)),
        item(3, 4, a=("accept",), b=("reject",), c=("accept", [span(0, 0, "X")])),
    ]
    tokens_report = compute_agreement(items).tokens
    assert (tokens_report.fleiss.n_sentences, tokens_report.fleiss.n_units) == (1, 2)
    assert (tokens_report.alpha.n_sentences, tokens_report.alpha.n_units) == (3, 9)
    nan = math.nan
    data = [[1, 0, 1, 0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, nan, nan, nan, nan], [0, 1, nan, nan, nan, 1, 0, 0, 0]]
    assert tokens_report.alpha.value == approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def test_to_dict_is_json_with_stable_keys():
    items = [item(1, 4, a=("accept", [span(0, 0, "X")], [Relation((0, 5), (0, 5), "self")]), b=("accept", [span(0, 1, "X")]))]
    data = compute_agreement(items).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == [
        "n_sentences", "n_sentences_seen", "annotators", "labels", "relation_labels", "counts",
        "spans", "tokens", "relations", "answers",
    ]
    assert list(data["spans"]) == ["pairs", "average"]
    assert list(data["spans"]["pairs"][0]) == ["a", "b", "n_sentences", "exact", "overlap"]
    assert list(data["spans"]["pairs"][0]["exact"]) == ["micro", "macro", "per_label"]
    assert list(data["spans"]["average"]) == ["exact", "overlap"]
    assert list(data["tokens"]) == ["pairs", "average", "fleiss_kappa", "krippendorff_alpha"]
    assert list(data["tokens"]["pairs"][0]) == ["a", "b", "n_sentences", "n_units", "observed", "expected", "kappa"]
    assert list(data["tokens"]["fleiss_kappa"]) == ["n_sentences", "n_units", "n_values", "observed", "expected", "value"]
    assert list(data["relations"]["pairs"][0]) == ["a", "b", "n_sentences", "labelled", "unlabelled"]
    assert list(data["relations"]["average"]) == ["labelled", "unlabelled"]
    assert list(data["answers"]["average"]) == ["observed", "kappa"]


def test_reads_any_iterable_once_and_builds_from_a_sentence():
    sentence = Sentence(id=3, article_id=1, index=0, position=1, start=0, end=11, text="Kyiv Berlin", tokens=tokens(2))
    built = SentenceVersions.from_sentence(sentence, {"a": decision("a", sentence_id=3), "b": decision("b", sentence_id=3)})
    assert (built.sentence_id, built.n_tokens) == (3, 2)
    report = compute_agreement(iter([built]))
    assert isinstance(report, AgreementReport) and report.n_sentences == 1


def test_agreement_and_review_import_only_the_standard_library():
    code = (
        "import sys; import annotator.agreement, annotator.review; "
        "heavy = {'numpy', 'spacy', 'textual', 'sqlite_utils', 'sqlite3'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------ random vs references

NAMES = ["ann", "bea", "cai", "dov"]
SPAN_LABELS = ["LOC", "ORG", "PER"]
RELATION_LABELS = ["rel", "sym"]
ANSWER_STATES = ["missing", "undo", "accept", "accept", "accept", "reject", "ignore"]


@st.composite
def datasets(draw):
    names = NAMES[: draw(st.integers(2, 4))]
    items = []
    for sentence_id in range(draw(st.integers(1, 6))):
        n_tokens = draw(st.integers(1, 6))
        versions = {}
        for name in names:
            state = draw(st.sampled_from(ANSWER_STATES))
            if state == "missing":
                continue
            spans = []
            for _ in range(draw(st.integers(0, 3))):
                first = draw(st.integers(0, n_tokens - 1))
                last = draw(st.integers(first, min(n_tokens - 1, first + 2)))
                spans.append(span(first, last, draw(st.sampled_from(SPAN_LABELS))))
            relations = []
            if spans:
                for _ in range(draw(st.integers(0, 2))):
                    head = draw(st.sampled_from(spans)).key
                    child = draw(st.sampled_from(spans)).key
                    relations.append(Relation(head, child, draw(st.sampled_from(RELATION_LABELS))))
            answer = None if state == "undo" else state
            versions[name] = decision(name, answer, spans, relations, sentence_id)
        items.append(SentenceVersions(sentence_id, n_tokens, tokens(n_tokens), versions))
    return names, items


def reference_token_labels(spans, n_tokens):
    """Dense labels: per token, the covering span with the largest length, then start, then label."""
    labels = []
    for index in range(n_tokens):
        covering = [s for s in spans if s.token_start <= index <= s.token_end]
        labels.append(min(covering, key=lambda s: (-(s.end - s.start), s.start, s.label)).label if covering else OUTSIDE)
    return labels


def decided(item, name):
    d = item.versions.get(name)
    return d if d is not None and d.answer is not None else None


def accepted(item, name):
    d = decided(item, name)
    return d if d is not None and d.answer == "accept" else None


def reference_greedy(ref, pred):
    """Repeatedly take the best remaining pair (largest overlap, then the earliest spans)."""
    ref, pred, tp = set(ref), set(pred), 0
    while True:
        best = None
        for r in ref:
            for p in pred:
                overlap = min(r[1], p[1]) - max(r[0], p[0])
                if r[2] == p[2] and overlap > 0:
                    key = (-overlap, r[0], r[1], p[0], p[1])
                    if best is None or key < best[0]:
                        best = (key, r, p)
        if best is None:
            return tp
        ref.discard(best[1])
        pred.discard(best[2])
        tp += 1


def symmetric(relation, symmetric_labels):
    head, child = relation.head, relation.child
    if relation.label in symmetric_labels:
        head, child = min(head, child), max(head, child)
    return head, child, relation.label


def kappa_matches(ours, reference_a, reference_b):
    """Our Cohen's kappa against sklearn's; sklearn gives nan where expected agreement is 1."""
    if not reference_a:
        assert ours.kappa is None
        return
    if ours.expected == 1.0:
        assert ours.kappa == (1.0 if ours.observed == 1.0 else 0.0)
        return
    assert ours.kappa == approx(cohen_kappa_score(reference_a, reference_b))
    assert ours.observed == approx(sum(x == y for x, y in zip(reference_a, reference_b)) / len(reference_a))


def reference_fleiss(units, raters):
    """Textbook Fleiss' kappa over a list of per-unit label lists."""
    categories = sorted({label for unit in units for label in unit})
    n_units = len(units)
    p_bar = sum((sum(unit.count(c) ** 2 for c in categories) - raters) / (raters * (raters - 1)) for unit in units) / n_units
    p_e = sum((sum(unit.count(c) for unit in units) / (n_units * raters)) ** 2 for c in categories)
    return p_bar, p_e


@settings(max_examples=300)
@given(datasets(), st.booleans())
def test_random_decisions_match_reference_implementations(dataset, use_symmetry):
    names, items = dataset
    symmetric_labels = {"sym"} if use_symmetry else set()
    report = compute_agreement(items, annotators=names, symmetric_labels=symmetric_labels)
    assert report.n_sentences == sum(1 for it in items if sum(decided(it, n) is not None for n in names) >= 2)
    by_pair = {(p.a, p.b): p for p in report.tokens.pairs}
    spans_by_pair = {(p.a, p.b): p for p in report.spans.pairs}
    relations_by_pair = {(p.a, p.b): p for p in report.relations.pairs}
    answers_by_pair = {(p.a, p.b): p for p in report.answers.pairs}
    assert list(by_pair) == list(itertools.combinations(names, 2))

    for a, b in itertools.combinations(names, 2):
        # answers over sentences both decided
        both_decided = [it for it in items if decided(it, a) and decided(it, b)]
        kappa_matches(
            answers_by_pair[(a, b)], [it.versions[a].answer for it in both_decided], [it.versions[b].answer for it in both_decided]
        )
        # tokens, spans and relations over sentences both accepted
        both = [it for it in items if accepted(it, a) and accepted(it, b)]
        labels_a, labels_b = [], []
        exact = {label: [0, 0, 0] for label in SPAN_LABELS}
        overlap_tp = 0
        relations = [0, 0, 0]
        pairs = [0, 0, 0]
        for it in both:
            da, db = it.versions[a], it.versions[b]
            labels_a += reference_token_labels(da.spans, it.n_tokens)
            labels_b += reference_token_labels(db.spans, it.n_tokens)
            sa = {(s.start, s.end, s.label) for s in da.spans}
            sb = {(s.start, s.end, s.label) for s in db.spans}
            for label in SPAN_LABELS:
                la = {s for s in sa if s[2] == label}
                lb = {s for s in sb if s[2] == label}
                exact[label][0] += len(la & lb)
                exact[label][1] += len(lb - la)
                exact[label][2] += len(la - lb)
            overlap_tp += reference_greedy(sa, sb)
            ra = {symmetric(r, symmetric_labels) for r in da.relations}
            rb = {symmetric(r, symmetric_labels) for r in db.relations}
            relations = [relations[0] + len(ra & rb), relations[1] + len(rb - ra), relations[2] + len(ra - rb)]
            pa = {r[:2] for r in ra}
            pb = {r[:2] for r in rb}
            pairs = [pairs[0] + len(pa & pb), pairs[1] + len(pb - pa), pairs[2] + len(pa - pb)]
        token_pair = by_pair[(a, b)]
        assert token_pair.n_units == len(labels_a) and token_pair.n_sentences == len(both)
        kappa_matches(token_pair, labels_a, labels_b)

        span_pair = spans_by_pair[(a, b)]
        for label, (tp, fp, fn) in exact.items():
            scores = span_pair.exact.per_label.get(label)
            if scores is None:
                assert tp + fp + fn == 0
                continue
            assert (scores.tp, scores.fp, scores.fn) == (tp, fp, fn)
        tp, fp, fn = (sum(row[i] for row in exact.values()) for i in range(3))
        micro = span_pair.exact.micro
        assert (micro.tp, micro.fp, micro.fn) == (tp, fp, fn)
        assert micro.f1 == (None if tp + fp + fn == 0 else approx(2 * tp / (2 * tp + fp + fn)))
        present = [row for row in exact.values() if sum(row)]
        if present:
            expected_macro_f1 = sum(2 * r[0] / (2 * r[0] + r[1] + r[2]) for r in present) / len(present)
            assert span_pair.exact.macro.f1 == approx(expected_macro_f1)
        overlap = span_pair.overlap.micro
        assert overlap.tp == overlap_tp
        assert overlap.tp + overlap.fn == tp + fn and overlap.tp + overlap.fp == tp + fp
        assert overlap.tp >= tp

        relation_pair = relations_by_pair[(a, b)]
        micro = relation_pair.labelled.micro
        assert [micro.tp, micro.fp, micro.fn] == relations
        unlabelled = relation_pair.unlabelled
        assert [unlabelled.tp, unlabelled.fp, unlabelled.fn] == pairs

    # Krippendorff's alpha: one unit per token of every sentence, nan where not accepted
    codes = {label: i for i, label in enumerate([OUTSIDE] + SPAN_LABELS)}
    matrix = [[] for _ in names]
    pairable_units = 0
    for it in items:
        dense = {n: reference_token_labels(accepted(it, n).spans, it.n_tokens) for n in names if accepted(it, n)}
        for row, name in zip(matrix, names):
            row += [codes[label] for label in dense[name]] if name in dense else [math.nan] * it.n_tokens
        if len(dense) >= 2:
            pairable_units += it.n_tokens
    alpha = report.tokens.alpha
    assert alpha.n_units == pairable_units
    if pairable_units == 0:
        assert alpha.value is None
    elif alpha.expected == 1.0:
        assert alpha.value == 1.0
    else:
        reference = krippendorff.alpha(reliability_data=np.array(matrix, dtype=float), level_of_measurement="nominal")
        assert alpha.value == approx(reference)

    # Fleiss' kappa over the tokens of sentences everyone accepted
    units = []
    for it in items:
        if all(accepted(it, n) for n in names):
            dense = [reference_token_labels(it.versions[n].spans, it.n_tokens) for n in names]
            units += [list(unit) for unit in zip(*dense)]
    fleiss = report.tokens.fleiss
    assert fleiss.n_units == len(units)
    if not units:
        assert fleiss.value is None
    else:
        p_bar, p_e = reference_fleiss(units, len(names))
        assert fleiss.observed == approx(p_bar)
        assert fleiss.expected == approx(p_e)
        if p_e == 1.0:
            assert fleiss.value == 1.0
        else:
            assert fleiss.value == approx((p_bar - p_e) / (1 - p_e))

    # the default annotator set is everyone who decided something, sorted; streaming gives the same
    default = compute_agreement(iter(items), symmetric_labels=symmetric_labels)
    seen = sorted({n for it in items for n, d in it.versions.items() if d.answer is not None})
    assert default.annotators == tuple(seen)
    if default.annotators == tuple(names):
        assert default.to_dict() == report.to_dict()


@settings(max_examples=100)
@given(datasets())
def test_reversing_a_pair_swaps_precision_and_recall_of_exact_matches(dataset):
    names, items = dataset
    forward = compute_agreement(items, annotators=names[:2]).spans.pairs[0]
    backward = compute_agreement(items, annotators=names[1::-1]).spans.pairs[0]
    assert (forward.exact.micro.tp, forward.exact.micro.fp, forward.exact.micro.fn) == (
        backward.exact.micro.tp,
        backward.exact.micro.fn,
        backward.exact.micro.fp,
    )
    assert forward.exact.micro.f1 == backward.exact.micro.f1
