"""The shortcuts of annotator.agreement and annotator.review against straightforward computations.

``compute_agreement`` counts token labels per version and loops only over the tokens two versions
label differently, takes Fleiss/alpha's per-unit squares from the pairs' agreeing tokens, counts
exact spans per label from the spans only one side has and runs the overlap matching only for the
labels whose spans differ (one span a side: a comparison); sentences where everyone gave one
version are added once per set of annotators. ``review_queue`` builds a ReviewItem's groups when
first read. Here random versions (overlapping spans, spans cut inside tokens, annotators sharing
one decoded version, undone and rejected decisions) are checked against the same figures computed
per token from dense label lists, with the brute-force greedy matching and the textbook sums, and
the floats compared exactly (the same integers through the same ``Fraction`` arithmetic).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.agreement import OUTSIDE, SentenceVersions, chance_corrected, cohen_kappa, compute_agreement
from annotator.model import Decision, Relation, Span, Token
from annotator.review import ReviewItem, group_versions, review_queue, version_key

NAMES = ["ann", "bea", "cai", "dov"]
LABELS = ["LOC", "ORG", "PER"]
_ids = itertools.count(1)


def tokens(n: int) -> tuple[Token, ...]:
    return tuple(Token(6 * i, 6 * i + 5, True) for i in range(n))


@st.composite
def spans_of(draw, n_tokens: int) -> tuple[Span, ...]:
    spans = []
    for _ in range(draw(st.integers(0, 4))):
        first = draw(st.integers(0, n_tokens - 1))
        last = draw(st.integers(first, min(n_tokens - 1, first + 2)))
        start = 6 * first + draw(st.integers(0, 3))  # character offsets vary: overlaps of every size, ties,
        end = draw(st.integers(max(start + 1, 6 * last + 2), 6 * last + 5))  # spans that only touch
        spans.append(Span(start, end, draw(st.sampled_from(LABELS)), first, last))
    return tuple(spans)


@st.composite
def datasets(draw):
    names = NAMES[: draw(st.integers(2, 4))]
    items = []
    for sentence_id in range(1, draw(st.integers(1, 8)) + 1):
        n_tokens = draw(st.integers(1, 7))
        versions: dict[str, Decision] = {}
        for name in names:
            state = draw(st.sampled_from(["missing", "undo", "accept", "accept", "copy", "copy", "reject", "ignore"]))
            if state == "missing":
                continue
            if state == "copy" and versions:  # another annotator's very spans and relations (shared tuples)
                source = versions[draw(st.sampled_from(sorted(versions)))]
                answer, spans, relations = source.answer, source.spans, source.relations
            else:
                answer = None if state == "undo" else ("accept" if state == "copy" else state)
                spans = draw(spans_of(n_tokens))
                relations = ()
                if spans:
                    relations = tuple(
                        Relation(draw(st.sampled_from(spans)).key, draw(st.sampled_from(spans)).key, draw(st.sampled_from(["rel", "sym"])))
                        for _ in range(draw(st.integers(0, 2)))
                    )
            number = next(_ids)
            versions[name] = Decision(
                id=number, uid=f"u{number}", sentence_id=sentence_id, annotator=name, session="s", answer=answer,
                spans=spans, relations=relations, created_at=float(number),
            )
        items.append(SentenceVersions(sentence_id, n_tokens, tokens(n_tokens), versions))
    return names, items


def dense(spans, n_tokens):
    """Per token: the label of the covering span with the most characters, then the earliest start, then the smallest label."""
    labels = []
    for index in range(n_tokens):
        covering = [s for s in spans if s.token_start <= index <= s.token_end]
        labels.append(min(covering, key=lambda s: (s.start - s.end, s.start, s.label)).label if covering else OUTSIDE)
    return labels


def greedy(reference, compared):
    """Brute force: repeatedly take the remaining same-label pair with the largest overlap (then the earliest spans)."""
    reference, compared, matched = set(reference), set(compared), []
    while True:
        best = None
        for r in reference:
            for c in compared:
                overlap = min(r[1], c[1]) - max(r[0], c[0])
                if r[2] == c[2] and overlap > 0 and (best is None or (-overlap, r, c) < best):
                    best = (-overlap, r, c)
        if best is None:
            return matched
        reference.discard(best[1])
        compared.discard(best[2])
        matched.append(best[1][2])


def accepted(item, name):
    d = item.versions.get(name)
    return d if d is not None and d.answer == "accept" else None


@settings(max_examples=400, deadline=None)
@given(datasets(), st.booleans())
def test_figures_equal_a_dense_per_token_computation(dataset, use_symmetry):
    names, items = dataset
    symmetric = {"sym"} if use_symmetry else set()
    report = compute_agreement(items, annotators=names, symmetric_labels=symmetric)

    for token_pair, span_pair, relation_pair in zip(report.tokens.pairs, report.spans.pairs, report.relations.pairs):
        a, b = token_pair.a, token_pair.b
        confusion: dict[tuple[str, str], int] = {}
        exact = {label: [0, 0, 0] for label in LABELS}
        overlap = {label: [0, 0, 0] for label in LABELS}
        relations: dict[str, list[int]] = {}
        pairs = [0, 0, 0]
        both = 0
        for it in items:
            da, db = accepted(it, a), accepted(it, b)
            if da is None or db is None:
                continue
            both += 1
            for key in zip(dense(da.spans, it.n_tokens), dense(db.spans, it.n_tokens)):
                confusion[key] = confusion.get(key, 0) + 1
            sa = {(s.start, s.end, s.label) for s in da.spans}
            sb = {(s.start, s.end, s.label) for s in db.spans}
            for x in sa & sb:
                exact[x[2]][0] += 1
            for x in sb - sa:
                exact[x[2]][1] += 1
            for x in sa - sb:
                exact[x[2]][2] += 1
            for x in sa:
                overlap[x[2]][2] += 1
            for x in sb:
                overlap[x[2]][1] += 1
            for label in greedy(sa, sb):
                overlap[label][0] += 1
                overlap[label][1] -= 1
                overlap[label][2] -= 1
            ra = {(min(r.head, r.child), max(r.head, r.child), r.label) if r.label in symmetric else (r.head, r.child, r.label) for r in da.relations}
            rb = {(min(r.head, r.child), max(r.head, r.child), r.label) if r.label in symmetric else (r.head, r.child, r.label) for r in db.relations}
            for column, found in enumerate((ra & rb, rb - ra, ra - rb)):
                for r in found:
                    relations.setdefault(r[2], [0, 0, 0])[column] += 1
            pa, pb = {r[:2] for r in ra}, {r[:2] for r in rb}
            pairs = [pairs[0] + len(pa & pb), pairs[1] + len(pb - pa), pairs[2] + len(pa - pb)]
        assert token_pair.n_sentences == both
        assert (token_pair.n_units, token_pair.observed, token_pair.expected, token_pair.kappa) == cohen_kappa(confusion)
        for label in LABELS:
            got_exact = span_pair.exact.per_label.get(label)
            got_overlap = span_pair.overlap.per_label.get(label)
            if got_exact is None:
                assert exact[label] == [0, 0, 0] and overlap[label] == [0, 0, 0]
                continue
            assert [got_exact.tp, got_exact.fp, got_exact.fn] == exact[label]
            assert [got_overlap.tp, got_overlap.fp, got_overlap.fn] == overlap[label]
        for label, row in relations.items():
            got = relation_pair.labelled.per_label[label]
            assert [got.tp, got.fp, got.fn] == row
        micro = relation_pair.labelled.micro
        assert [micro.tp, micro.fp, micro.fn] == [sum(row[i] for row in relations.values()) for i in range(3)]
        assert [relation_pair.unlabelled.tp, relation_pair.unlabelled.fp, relation_pair.unlabelled.fn] == pairs

    # Fleiss' kappa (sentences everyone accepted) and Krippendorff's alpha (at least two accepted), textbook sums
    fleiss_units, alpha_units = [], []
    for it in items:
        labelled = [dense(accepted(it, n).spans, it.n_tokens) for n in names if accepted(it, n)]
        if len(labelled) == len(names):
            fleiss_units += [list(unit) for unit in zip(*labelled)]
        if len(labelled) >= 2:
            alpha_units += [list(unit) for unit in zip(*labelled)]
    fleiss = report.tokens.fleiss
    assert fleiss.n_units == len(fleiss_units)
    if fleiss_units:
        raters = len(names)
        values = len(fleiss_units) * raters
        squares = sum(unit.count(c) ** 2 for unit in fleiss_units for c in set(unit))
        observed = Fraction(squares - values, values * (raters - 1))
        totals = [sum(unit.count(c) for unit in fleiss_units) for c in {c for unit in fleiss_units for c in unit}]
        expected = Fraction(sum(t * t for t in totals), values * values)
        assert (fleiss.observed, fleiss.expected, fleiss.value) == (float(observed), float(expected), chance_corrected(observed, expected))
    else:
        assert fleiss.value is None
    alpha = report.tokens.alpha
    assert alpha.n_units == len(alpha_units)
    if alpha_units:
        diagonal = sum(Fraction(unit.count(c) * (unit.count(c) - 1), len(unit) - 1) for unit in alpha_units for c in set(unit))
        margins = [sum(unit.count(c) for unit in alpha_units) for c in {c for unit in alpha_units for c in unit}]
        n = sum(margins)
        observed = diagonal / n
        expected = Fraction(sum(m * (m - 1) for m in margins), n * (n - 1))
        assert (alpha.n_values, alpha.observed, alpha.expected, alpha.value) == (n, float(observed), float(expected), chance_corrected(observed, expected))
    else:
        assert alpha.value is None


@settings(max_examples=200, deadline=None)
@given(datasets(), st.booleans(), st.integers(1, 3))
def test_review_queue_items_equal_their_groups_built_directly(dataset, use_symmetry, min_versions):
    _, items = dataset
    symmetric = {"sym"} if use_symmetry else set()
    queue = list(review_queue(items, min_versions, include_agreed=True, symmetric_labels=symmetric))
    expected = []
    for it in items:
        decided = {name: d for name, d in it.versions.items() if d.answer is not None}
        if len(decided) >= min_versions:
            expected.append((it, len({version_key(d, symmetric) for d in decided.values()}) == 1))
    assert [(q.sentence, q.agreed) for q in queue] == expected
    for q in queue:
        groups = tuple(group_versions(q.sentence.versions, symmetric_labels=symmetric))
        assert q.groups == groups and q.groups is q.groups  # built once, on first read
        assert q == ReviewItem(q.sentence, groups, q.agreed) and q.n_versions == sum(len(g.annotators) for g in groups)
    without_agreed = [q.sentence for q in review_queue(items, min_versions, symmetric_labels=symmetric)]
    assert without_agreed == [it for it, agreed in expected if not agreed]
