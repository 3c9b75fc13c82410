"""The annotation memory (annotator/memory.py): what it learns from decisions and what it suggests."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.errors import LabelSchemeError
from annotator.labels import load_scheme
from annotator.memory import MEMORY_SOURCE, AnnotationMemory, MemoryMatch, memory_mode, suggested_keys
from annotator.model import Decision, Relation, Sentence, Span, Suggestion, span_at_tokens, tokens_from_offsets

from .conftest import ROOT

SCHEME = load_scheme(ROOT / "labels.yaml")


def sentence(sentence_id: int, text: str) -> Sentence:
    tokens = tokens_from_offsets(text, [(m.start(), m.end()) for m in re.finditer(r"\S+", text)])
    return Sentence(sentence_id, 1, sentence_id, sentence_id, 0, len(text), text, tokens)


def span(s: Sentence, words: str, label: str, source: str | None = None, nth: int = 0) -> Span:
    texts = s.token_texts()
    parts = words.split()
    starts = [i for i in range(len(texts)) if texts[i : i + len(parts)] == parts]
    first = starts[nth]
    return span_at_tokens(s.text, s.tokens, first, first + len(parts) - 1, label, source)


def decision(s: Sentence, spans=(), relations=(), answer: str | None = "accept", gold: bool = False, number: int = 1) -> Decision:
    return Decision(number, f"u{number}", s.id, "ann", "", answer, tuple(spans), tuple(relations), float(number), gold=gold)


def shown(match: MemoryMatch, s: Sentence) -> list[tuple[str, str]]:
    return [(s.text[x.start : x.end], x.label) for x in (match.row.spans if match.row else ())]


FIRST = sentence(1, "Ukraine pressed officials to allow Kyiv to strike")
LATER = sentence(2, "Kyiv has a small batch of missiles , officials said")


def test_a_correction_is_suggested_where_the_form_meets_again_and_the_model_label_is_suppressed():
    model = Suggestion(FIRST.id, "en_core_web_sm", (span(FIRST, "Kyiv", "PERSON", "en_core_web_sm"),))
    memory = AnnotationMemory(SCHEME)
    memory.add(FIRST, decision(FIRST, [span(FIRST, "Kyiv", "GPE"), span(FIRST, "Ukraine", "GPE")]), suggested_keys([model]))
    match = memory.match(LATER)
    assert shown(match, LATER) == [("Kyiv", "GPE")]
    assert match.row.source == MEMORY_SOURCE and all(x.source == MEMORY_SOURCE for x in match.row.spans)
    assert (0, 0, "PERSON") in match.suppressed
    later_model = Suggestion(LATER.id, "en_core_web_sm", (span(LATER, "Kyiv", "PERSON", "en_core_web_sm"),))
    rows = match.filter([later_model], SCHEME)
    assert [r.source for r in rows] == ["en_core_web_sm", MEMORY_SOURCE]
    assert rows[0].spans == ()  # the suppressed PERSON is gone; the memory row comes last (wins overlaps)


def test_a_form_removed_and_never_confirmed_stops_being_suggested_with_that_label():
    patterns = Suggestion(FIRST.id, "patterns", (span(FIRST, "officials", "ROLE", "patterns"),))
    memory = AnnotationMemory(SCHEME)
    memory.add(FIRST, decision(FIRST, []), suggested_keys([patterns]))
    match = memory.match(LATER)
    assert match.row is None
    officials = LATER.token_texts().index("officials")
    assert match.suppressed == {(officials, officials, "ROLE")}
    # Confirmed more often than removed: suggested again, and no longer suppressed.
    memory.add(LATER, decision(LATER, [span(LATER, "officials", "ROLE")], number=2), ())
    memory.add(LATER, decision(LATER, [span(LATER, "officials", "ROLE")], number=3), ())
    match = memory.match(FIRST)
    assert shown(match, FIRST) == [("officials", "ROLE")] and match.suppressed == frozenset()


def test_majority_label_with_ties_in_the_scheme_order_and_gold_outranking():
    memory = AnnotationMemory(SCHEME)
    memory.add(FIRST, decision(FIRST, [span(FIRST, "Kyiv", "ORG")]))
    memory.add(FIRST, decision(FIRST, [span(FIRST, "Kyiv", "GPE")]))
    assert memory.verdict(("Kyiv",))[0] == "ORG"  # a tie: ORG comes before GPE in labels.yaml
    memory.add(FIRST, decision(FIRST, [span(FIRST, "Kyiv", "GPE")]))
    assert memory.verdict(("Kyiv",))[0] == "GPE"
    memory.add(FIRST, decision(FIRST, [span(FIRST, "Kyiv", "LOC")], gold=True))
    assert memory.verdict(("Kyiv",))[0] == "LOC"  # gold knows the form: its counts alone decide
    assert shown(memory.match(LATER), LATER) == [("Kyiv", "LOC")]


def test_rejected_and_ignored_sentences_teach_nothing():
    memory = AnnotationMemory(SCHEME)
    for answer in ("reject", "ignore", None):
        memory.add(FIRST, decision(FIRST, [span(FIRST, "Kyiv", "GPE")], answer=answer))
    assert len(memory) == 0 and memory.match(LATER) == MemoryMatch(None)


def test_longest_known_form_wins_and_spans_never_overlap():
    s = sentence(3, "Defense Secretary Lloyd Austin met Austin")
    memory = AnnotationMemory(SCHEME)
    memory.add(s, decision(s, [span(s, "Lloyd Austin", "PERSON")]))
    memory.add(s, decision(s, [span(s, "Austin", "GPE", nth=1)]))
    later = sentence(4, "Lloyd Austin spoke in Austin")
    assert shown(memory.match(later), later) == [("Lloyd Austin", "PERSON"), ("Austin", "GPE")]


def test_relations_between_forms_are_suggested_again_under_the_scheme_constraints():
    s = sentence(5, "Defense Minister Rustem Umerov pressed officials")
    person, role = span(s, "Rustem Umerov", "PERSON"), span(s, "Defense Minister", "ROLE")
    memory = AnnotationMemory(SCHEME)
    memory.add(s, decision(s, [person, role], [Relation(person.key, role.key, "HAS_ROLE")]))
    again = sentence(6, "Rustem Umerov , the Defense Minister , said")
    match = memory.match(again)
    assert [(again.text[slice(*r.head)], again.text[slice(*r.child)], r.label) for r in match.row.relations] == [
        ("Rustem Umerov", "Defense Minister", "HAS_ROLE")
    ]
    # Once annotators label the role ORG (majority), HAS_ROLE PERSON -> ORG is not allowed: not suggested.
    for number in (2, 3):
        memory.add(again, decision(again, [span(again, "Defense Minister", "ORG")], number=number))
    assert memory.match(again).row.relations == ()


def test_symmetric_relations_are_suggested_whichever_way_they_were_made():
    s = sentence(7, "Umerov met Austin in Washington")
    a, b = span(s, "Umerov", "PERSON"), span(s, "Austin", "PERSON")
    memory = AnnotationMemory(SCHEME)
    memory.add(s, decision(s, [a, b], [Relation(b.key, a.key, "MEETS_WITH")]))
    again = sentence(8, "Austin and Umerov talked")
    relations = memory.match(again).row.relations
    assert [(again.text[slice(*r.head)], again.text[slice(*r.child)], r.label) for r in relations] == [
        ("Austin", "Umerov", "MEETS_WITH")
    ]


def test_filter_drops_relations_the_memory_made_invalid_and_keeps_other_rows():
    s = sentence(9, "CNN's Alex Marquardt and Kyiv")
    alex, kyiv = span(s, "Alex Marquardt", "PERSON", "m"), span(s, "Kyiv", "PERSON", "m")
    model = Suggestion(s.id, "m", (alex, kyiv), (Relation(alex.key, kyiv.key, "MEETS_WITH"),))
    memory_row = Suggestion(s.id, MEMORY_SOURCE, (span(s, "Kyiv", "LOC", MEMORY_SOURCE),))
    rows = MemoryMatch(memory_row).filter([model], SCHEME)
    # Kyiv is the memory's (LOC) now, and PERSON MEETS_WITH LOC is not allowed.
    assert rows[0].spans == (alex,) and rows[0].relations == ()
    kept = Suggestion(s.id, "m", (alex, kyiv), (Relation(alex.key, kyiv.key, "LOCATED_IN"),))
    assert MemoryMatch(memory_row).filter([kept], SCHEME)[0].relations == kept.relations  # PERSON LOCATED_IN LOC is
    assert rows[-1] is memory_row


def test_memory_mode_values():
    assert [memory_mode(v) for v in (True, False, "own", "shared", "off", "on", " Shared ", "x", 1, None)] == [
        "own", "off", "own", "shared", "off", "own", "shared", None, None, None
    ]


def test_labels_yaml_memory_setting_is_validated_with_file_and_line(tmp_path):
    text = (ROOT / "labels.yaml").read_text(encoding="utf-8")
    assert load_scheme(ROOT / "labels.yaml").memory == "own"
    for value, expected in (("off", "off"), ("false", "off"), ("shared", "shared"), ("true", "own")):
        path = tmp_path / f"{value}.yaml"
        path.write_text(text.replace("\nmemory: own\n", f"\nmemory: {value}\n"), encoding="utf-8")
        assert load_scheme(path).memory == expected
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmemory: sometimes\n" + text.replace("version: 1\n", "").replace("\nmemory: own\n", "\n"), encoding="utf-8")
    with pytest.raises(LabelSchemeError) as raised:
        load_scheme(bad)
    assert str(raised.value).startswith(f"{bad}:2: memory must be true, false or one of own, shared, off")


# -- incremental == from scratch, along any history ---------------------------------------------

WORDS = ["Kyiv", "Umerov", "Defense", "Minister", "officials", "Kyiv", "met", "Washington"]
SENTENCES = [sentence(10 + i, " ".join(WORDS[i:] + WORDS[:i])) for i in range(4)]
LABELS = ["PERSON", "GPE", "ROLE", "ORG"]


@st.composite
def annotations(draw, s: Sentence):
    n = len(s.tokens)
    spans: list[Span] = []
    for _ in range(draw(st.integers(0, 3))):
        first = draw(st.integers(0, n - 1))
        last = draw(st.integers(first, min(n - 1, first + 1)))
        candidate = span_at_tokens(s.text, s.tokens, first, last, draw(st.sampled_from(LABELS)))
        if not any(candidate.overlaps(x) for x in spans):
            spans.append(candidate)
    relations = []
    if len(spans) >= 2 and draw(st.booleans()):
        relations.append(Relation(spans[0].key, spans[1].key, draw(st.sampled_from(["HAS_ROLE", "MEETS_WITH", "LOCATED_IN"]))))
    answer = draw(st.sampled_from(["accept", "accept", "reject", None]))
    return answer, spans, relations


@st.composite
def histories(draw):
    suggested = {
        s.id: draw(st.frozensets(st.tuples(st.integers(0, 2), st.integers(2, 3), st.sampled_from(LABELS)), max_size=3))
        for s in SENTENCES
    }
    steps = []
    for number in range(1, draw(st.integers(1, 12)) + 1):
        s = draw(st.sampled_from(SENTENCES))
        answer, spans, relations = draw(annotations(s))
        steps.append((s, decision(s, spans, relations, answer=answer, gold=draw(st.booleans()), number=number)))
    return suggested, steps


@settings(max_examples=150)
@given(histories())
def test_updating_along_any_history_equals_building_from_the_final_decisions(history):
    suggested, steps = history
    incremental = AnnotationMemory(SCHEME)
    current: dict[tuple[int, bool], Decision] = {}
    for s, new in steps:
        incremental.update(s, current.get((s.id, new.gold)), new, suggested[s.id])
        current[(s.id, new.gold)] = new
    by_id = {s.id: s for s in SENTENCES}
    scratch = AnnotationMemory.build(SCHEME, [(by_id[sid], d, suggested[sid]) for (sid, _), d in current.items()])
    assert incremental.snapshot() == scratch.snapshot()
    assert len(incremental) == len(scratch)
    assert incremental._partners == scratch._partners and incremental._lengths == scratch._lengths  # the indexes too
    for s in SENTENCES:
        assert incremental.match(s) == scratch.match(s)
    # Taking every decision back leaves an empty memory.
    for (sid, _), d in current.items():
        incremental.remove(by_id[sid], d, suggested[sid])
    assert incremental.snapshot() == {t: {"labelled": {}, "removed": {}, "related": {}} for t in ("gold", "own")}
    assert len(incremental) == 0 and not incremental._partners and not incremental._lengths


# -- corrections needed to reach the reference annotation of the seed ---------------------------

from .seed_corrections import load_reference, simulate, stored  # noqa: E402
from .test_memory_tui import seed_db  # noqa: E402,F401  (fixture: the seed, pattern suggestions + the model's known errors)


def test_the_memory_saves_corrections_on_the_seed_article(seed_db):  # noqa: F811
    sentences, rows = stored(seed_db)
    reference = load_reference()
    assert len(reference) == len(sentences)
    off = simulate(SCHEME, sentences, rows, reference, memory=False)
    on = simulate(SCHEME, sentences, rows, reference, memory=True)
    assert on.spans < off.spans and on.correct > off.correct
    # Kyiv is corrected once (sentence 3), then suggested as GPE at 9 and 15; "Ukraine", "Russia",
    # "Umerov"... are labelled once by hand, then suggested.
    assert [line for line in off.where if "'Kyiv'" in line] == [f"{n}: relabel 'Kyiv' PERSON -> GPE" for n in (3, 9, 15)]
    assert [line for line in on.where if "'Kyiv'" in line] == ["3: relabel 'Kyiv' PERSON -> GPE"]
    # A removed pattern suggestion ("pilot" ROLE at 17) is not suggested again (19).
    assert "19: delete 'pilot' ROLE" in off.where and not any(line.startswith("19:") for line in on.where)
    # The reference itself is a complete, valid annotation on the seed's tokens.
    from annotator.store import Store

    with Store(seed_db) as store:
        for sentence in sentences:
            decision = reference_decision_for(sentence, reference)
            store.validate_annotation(sentence, decision.spans, decision.relations, allow_overlaps=False)
            for relation in decision.relations:
                labels = {s.key: s.label for s in decision.spans}
                assert SCHEME.relation(relation.label).allows(labels[relation.head], labels[relation.child])


def reference_decision_for(sentence, reference):
    from .seed_corrections import reference_decision

    return reference_decision(sentence, reference[sentence.position])


def test_dataset_set_memory_through_the_cli(tmp_path):
    from annotator.store import Store

    from .conftest import run_cli
    from .seed_corrections import import_seed, patterns_only_labels

    db = tmp_path / "seed.db"
    import_seed(db, patterns_only_labels(tmp_path))
    done = run_cli("dataset", "set", "demo", "memory=off", "--db", str(db))
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        assert store.dataset("demo").settings["memory"] == "off"
    refused = run_cli("dataset", "set", "demo", "memory=sometimes", "--db", str(db))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "memory='sometimes'" in refused.stderr


def test_a_span_inside_a_token_is_learnt_as_its_own_words_and_matched_by_characters():
    """A decision that split "U.S.-made" to label "U.S." teaches the form "U.S.", and a suggestion
    of the whole token that the annotator replaced by the part counts as removed (compared by
    characters, since the decision's token indices are not the sentence's)."""
    from annotator.model import split_for_spans

    s = sentence(1, "Ukraine fired U.S.-made missiles at Kursk")
    later = sentence(2, "The U.S. sent more")
    whole = span(s, "U.S.-made", "WEAPON", "en_core_web_sm")
    part = Span(14, 18, "GPE", 0, 0)
    tokens, (part,) = split_for_spans(s.text, s.tokens, [part])
    assert tokens is not None and s.text[part.start : part.end] == "U.S."
    made = Decision(1, "u1", s.id, "ann", "", "accept", (part,), (), 1.0, tokens=tokens)
    memory = AnnotationMemory(SCHEME)
    memory.add(s, made, suggested_keys([Suggestion(s.id, "en_core_web_sm", (whole,))]))
    assert shown(memory.match(later), later) == [("U.S.", "GPE")]
    assert memory.verdict(("U.S.-made",)) == (None, frozenset({"WEAPON"}))
