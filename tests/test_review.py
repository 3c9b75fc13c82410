"""annotator.review: disagreement detection, grouping of versions, review queue, majority merge."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.agreement import SentenceVersions
from annotator.model import Decision, Relation, Span, Token
from annotator.review import (
    ReviewItem,
    VersionGroup,
    diff_spans,
    differs,
    group_versions,
    majority_merge,
    review_queue,
    version_key,
)

_ids = itertools.count(1)


def span(first: int, last: int, label: str, source: str | None = None) -> Span:
    return Span(6 * first, 6 * last + 5, label, first, last, source)


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


def versions(**by_name) -> dict[str, Decision]:
    """``versions(a=("accept", [spans], [relations]), b=("reject",))``."""
    result = {}
    for name, version in by_name.items():
        answer, spans, relations = (tuple(version) + ((), ()))[:3]
        result[name] = decision(name, answer, spans, relations)
    return result


def sentence(sentence_id: int, **by_name) -> SentenceVersions:
    return SentenceVersions(sentence_id, 6, tuple(Token(6 * i, 6 * i + 5, True) for i in range(6)), versions(**by_name))


PER = span(0, 1, "PER")
ORG = span(3, 3, "ORG")
LOC = span(5, 5, "LOC")


def test_differs_on_answer_spans_and_relations():
    assert not differs(versions(a=("accept", [PER, ORG]), b=("accept", [ORG, PER])))
    assert differs(versions(a=("accept", [PER]), b=("reject", [PER])))
    assert differs(versions(a=("accept", [PER]), b=("accept", [span(0, 1, "ORG")])))
    assert differs(versions(a=("accept", [PER]), b=("accept", [span(0, 0, "PER")])))
    assert differs(versions(a=("accept", [PER, ORG]), b=("accept", [PER])))
    rel = Relation(PER.key, ORG.key, "works_for")
    assert differs(versions(a=("accept", [PER, ORG], [rel]), b=("accept", [PER, ORG])))
    assert differs(versions(a=("accept", [PER, ORG], [rel]), b=("accept", [PER, ORG], [rel.reversed()])))
    assert not differs(versions(a=("accept", [PER, ORG], [rel]), b=("accept", [PER, ORG], [rel, rel])))


def test_differs_ignores_source_undo_and_content_of_rejections():
    # where a span came from does not matter, only (start, end, label)
    assert not differs(versions(a=("accept", [span(0, 1, "PER", "en_core_web_sm")]), b=("accept", [PER])))
    # rejected or ignored decisions are compared by answer only
    assert not differs(versions(a=("reject", [PER]), b=("reject", [ORG])))
    assert not differs(versions(a=("ignore", [PER]), b=("ignore",)))
    # undone versions are not decided; one decided version never differs
    assert not differs(versions(a=("accept", [PER]), b=(None, [ORG])))
    assert not differs(versions(a=("accept", [PER])))
    assert not differs({})


def test_symmetric_relations_compare_unordered():
    rel = Relation(PER.key, ORG.key, "spouse")
    pair = versions(a=("accept", [PER, ORG], [rel]), b=("accept", [PER, ORG], [rel.reversed()]))
    assert differs(pair)
    assert not differs(pair, symmetric_labels={"spouse"})
    assert len(group_versions(pair, symmetric_labels={"spouse"})) == 1
    assert version_key(pair["a"], {"spouse"}) == version_key(pair["b"], {"spouse"})


def test_group_versions_largest_first_then_first_annotator_name():
    v = versions(
        dan=("accept", [PER]),
        bob=("accept", [PER, ORG]),
        cat=("reject", [LOC]),
        ann=("accept", [ORG, PER]),
        eve=("accept", [span(0, 1, "PER", "model"), PER]),
        fay=(None,),
    )
    groups = group_versions(v)
    # {ann, bob}: PER+ORG; {dan, eve}: PER; {cat}: reject. Two groups of 2: "ann" < "dan".
    assert [g.annotators for g in groups] == [("ann", "bob"), ("dan", "eve"), ("cat",)]
    assert [g.answer for g in groups] == ["accept", "accept", "reject"]
    assert groups[0].spans == (PER, ORG)  # sorted, from ann's decision
    assert groups[0].decision_ids == (v["ann"].id, v["bob"].id)
    assert groups[1].spans == (PER,)  # duplicates collapse; the first annotator's span is kept
    assert groups[1].spans[0].source is None
    assert groups[2].spans == () and groups[2].relations == ()  # a rejection carries no content
    assert groups[0].to_dict()["annotators"] == ["ann", "bob"]
    # largest group first even when its first name sorts later
    groups = group_versions(versions(ann=("reject",), zed=("accept",), yan=("accept",)))
    assert [g.annotators for g in groups] == [("yan", "zed"), ("ann",)]
    assert group_versions({}) == []


def test_diff_spans_shared_unique_partial():
    groups = [
        VersionGroup(("a",), "accept", (PER, ORG), (), (1,)),
        VersionGroup(("b",), "accept", (PER, LOC), (), (2,)),
        VersionGroup(("c",), "accept", (PER, ORG, span(4, 4, "DATE")), (), (3,)),
    ]
    diff = diff_spans(groups)
    assert list(diff) == [("a",), ("b",), ("c",)]
    assert (diff[("a",)].shared, diff[("a",)].unique, diff[("a",)].partial) == ((PER,), (), (ORG,))
    assert (diff[("b",)].shared, diff[("b",)].unique, diff[("b",)].partial) == ((PER,), (LOC,), ())
    assert (diff[("c",)].shared, diff[("c",)].unique, diff[("c",)].partial) == ((PER,), (span(4, 4, "DATE"),), (ORG,))
    assert diff[("a",)].to_dict()["partial"] == [ORG.to_dict()]
    # with a rejecting group nothing is shared; a single group shares everything
    with_reject = diff_spans(group_versions(versions(a=("accept", [PER]), b=("reject",))))
    assert with_reject[("a",)].unique == (PER,) and with_reject[("b",)].shared == ()
    alone = diff_spans(group_versions(versions(a=("accept", [PER, ORG]))))
    assert alone[("a",)].shared == (PER, ORG)


def test_review_queue_filters_and_is_lazy():
    items = [
        sentence(1, a=("accept", [PER]), b=("accept", [PER])),  # agreed
        sentence(2, a=("accept", [PER]), b=("accept", [ORG])),  # disagreed
        sentence(3, a=("accept", [PER])),  # one version
        sentence(4, a=("accept", [PER]), b=(None,)),  # one decided version
        sentence(5, a=("accept", [PER]), b=("reject",), c=("accept", [PER])),  # disagreed, 3 versions
    ]
    queue = list(review_queue(items))
    assert [(r.sentence_id, r.agreed, r.n_versions) for r in queue] == [(2, False, 2), (5, False, 3)]
    assert [g.annotators for g in queue[1].groups] == [("a", "c"), ("b",)]
    assert isinstance(queue[0], ReviewItem) and queue[0].sentence is items[1]
    assert [r.sentence_id for r in review_queue(items, include_agreed=True)] == [1, 2, 5]
    assert [r.sentence_id for r in review_queue(items, min_versions=3)] == [5]
    assert [r.sentence_id for r in review_queue(items, min_versions=1, include_agreed=True)] == [1, 2, 3, 4, 5]

    def stream():
        yield items[1]
        raise AssertionError("read past what was asked for")

    assert next(review_queue(stream())).sentence_id == 2
    with pytest.raises(ValueError, match="min_versions"):
        list(review_queue(items, min_versions=0))


def test_majority_merge():
    two_of_three = versions(a=("accept", [PER]), b=("accept", [ORG]), c=("accept", [PER]))
    merged = majority_merge(two_of_three)
    assert merged is not None and merged.annotators == ("a", "c") and merged.spans == (PER,)
    # ties are left for review: 2-2, 1-1-1, 1-1
    assert majority_merge(versions(a=("accept", [PER]), b=("accept", [PER]), c=("reject",), d=("reject",))) is None
    assert majority_merge(versions(a=("accept", [PER]), b=("accept", [ORG]), c=("reject",))) is None
    assert majority_merge(versions(a=("accept", [PER]), b=("accept", [ORG]))) is None
    # 2 of 4 is not a strict majority even when it is the largest group
    assert majority_merge(versions(a=("accept", [PER]), b=("accept", [PER]), c=("reject",), d=("ignore",))) is None
    # unanimous pair; a rejection can win too
    assert majority_merge(versions(a=("reject", [PER]), b=("reject",))).answer == "reject"
    # one annotator alone: only with min_annotators=1
    alone = versions(a=("accept", [PER]), b=(None,))
    assert majority_merge(alone) is None
    assert majority_merge(alone, min_annotators=1).annotators == ("a",)
    # min_annotators is the size the majority group must reach: 3 of 5 is a majority, not 4
    five = versions(a=("accept", [PER]), b=("accept", [PER]), c=("accept", [PER]), d=("reject",), e=("reject",))
    assert majority_merge(five).annotators == ("a", "b", "c")
    assert majority_merge(five, min_annotators=4) is None
    assert majority_merge({}) is None
    with pytest.raises(ValueError, match="min_annotators"):
        majority_merge(five, min_annotators=0)


SPANS = [PER, ORG, LOC, span(0, 1, "ORG")]
RELATION = Relation(PER.key, ORG.key, "works_for")


@st.composite
def random_versions(draw):
    by_name = {}
    for name in ["ann", "bob", "cat", "dan", "eve"][: draw(st.integers(0, 5))]:
        answer = draw(st.sampled_from(["accept", "accept", "reject", "ignore", None]))
        spans = draw(st.lists(st.sampled_from(SPANS), max_size=3))
        relations = [RELATION] if PER in spans and ORG in spans and draw(st.booleans()) else []
        by_name[name] = (answer, spans, relations)
    return versions(**by_name)


@settings(max_examples=300)
@given(random_versions())
def test_grouping_partitions_the_decided_versions(v):
    groups = group_versions(v)
    decided = sorted(name for name, d in v.items() if d.answer is not None)
    assert sorted(name for g in groups for name in g.annotators) == decided
    assert differs(v) == (len(groups) > 1)
    sizes = [len(g.annotators) for g in groups]
    assert sizes == sorted(sizes, reverse=True)
    for g in groups:
        assert list(g.annotators) == sorted(g.annotators)
        keys = {version_key(v[name]) for name in g.annotators}
        assert len(keys) == 1
        assert g.decision_ids == tuple(v[name].id for name in g.annotators)
    assert len({version_key(v[g.annotators[0]]) for g in groups}) == len(groups)
    # majority: recount independently
    counts = Counter(version_key(v[name]) for name in decided)
    winner = [key for key, count in counts.items() if 2 * count > len(decided) and count >= 2]
    merged = majority_merge(v)
    if winner:
        assert merged is not None and version_key(v[merged.annotators[0]]) == winner[0]
        assert len(merged.annotators) == counts[winner[0]]
    else:
        assert merged is None
    # diff: every span of a group lands in exactly one bucket
    for g, d in zip(groups, diff_spans(groups).values()):
        assert sorted(d.shared + d.unique + d.partial) == sorted(g.spans)
