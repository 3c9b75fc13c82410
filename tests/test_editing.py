"""The headless sentence editor: every behaviour the annotate screen relies on, fast."""

from __future__ import annotations

import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.labels import load_scheme
from annotator.editing import EditRelation, EditSpan, Mode, SentenceEditor, superscript
from annotator.model import (
    Decision,
    Relation,
    Span,
    Suggestion,
    overlapping_pairs,
    relation_problem,
    span_at_tokens,
    span_problem,
    tokens_from_offsets,
)

from .conftest import ROOT

SCHEME = load_scheme(ROOT / "labels.yaml")
TEXT = "Umerov , during an interview with CNN ’s Alex Marquardt , said Ukraine has presented a list to Washington ."


def tokens_of(text: str):
    return tokens_from_offsets(text, [(m.start(), m.end()) for m in re.finditer(r"\S+", text)])


TOKENS = tokens_of(TEXT)
WORDS = [TEXT[t.start : t.end] for t in TOKENS]


def tok(word: str, nth: int = 0) -> int:
    return [i for i, w in enumerate(WORDS) if w == word][nth]


def span(first: str, last: str | None, label: str, source: str | None = None) -> Span:
    return span_at_tokens(TEXT, TOKENS, tok(first), tok(last or first), label, source)


def editor(scheme, spans=(), relations=(), suggested=False, text=TEXT, tokens=TOKENS) -> SentenceEditor:
    return SentenceEditor(
        text, tokens, scheme, [EditSpan(s, suggested) for s in spans], [EditRelation(r, suggested) for r in relations]
    )


def labels(ed: SentenceEditor) -> list[tuple[str, str]]:
    return [(ed.span_text(s.key), s.label) for s in ed.spans]


def check_invariants(ed: SentenceEditor) -> None:
    for edit_span in ed.spans:
        assert span_problem(edit_span.span, ed.text, ed.tokens) is None
    keys = [s.key for s in ed.spans]
    assert len(keys) == len(set(keys))
    if not ed.allow_overlaps:
        assert overlapping_pairs([s.span for s in ed.spans]) == []
    plain = [s.span for s in ed.spans]
    for edit_relation in ed.relations:
        assert relation_problem(edit_relation.relation, plain) is None
        assert edit_relation.relation.head != edit_relation.relation.child
    assert 0 <= ed.cursor < max(1, len(ed.tokens))
    if ed.mode is not Mode.NORMAL:
        assert ed.find_span(ed.pending_head) is not None
    if ed.mode is Mode.PICK_RELATION:
        assert ed.find_span(ed.pending_child) is not None
    spans, relations = ed.to_decision()
    assert all(s.source is None for s in spans)
    assert len(relations) == len(set(relations))


# -- cursor and selection ----------------------------------------------------------------------


def test_cursor_moves_and_clamps(scheme):
    ed = editor(scheme)
    assert ed.cursor == 0
    ed.move(-3)
    assert ed.cursor == 0
    ed.move(2)
    assert ed.cursor == 2
    ed.move(1000)
    assert ed.cursor == len(TOKENS) - 1
    ed.move_to(-5)
    assert ed.cursor == 0


def test_extend_selects_and_move_clears(scheme):
    ed = editor(scheme)
    ed.move_to(tok("Alex"))
    ed.extend(1)
    assert ed.selection == (tok("Alex"), tok("Marquardt"))
    ed.extend(-2)
    assert ed.selection == (tok("’s"), tok("Alex"))
    ed.move(1)
    assert ed.selection is None
    ed.select(5, 3)
    assert ed.selection == (3, 5) and ed.cursor == 3
    assert ed.cancel() and ed.selection is None


# -- labelling ---------------------------------------------------------------------------------


def test_label_the_token_under_the_cursor(scheme):
    ed = editor(scheme)
    assert ed.apply_label("PERSON")
    assert labels(ed) == [("Umerov", "PERSON")]
    assert not ed.spans[0].suggested
    assert "'Umerov' is PERSON" in ed.message


def test_label_a_selection_snaps_to_tokens(scheme):
    ed = editor(scheme)
    ed.move_to(tok("Alex"))
    ed.extend(1)
    ed.apply_label("PERSON")
    assert labels(ed) == [("Alex Marquardt", "PERSON")]
    assert ed.selection is None
    only = ed.spans[0].span
    assert (only.token_start, only.token_end) == (tok("Alex"), tok("Marquardt"))


def test_unknown_label_is_refused(scheme):
    ed = editor(scheme)
    assert not ed.apply_label("NOPE")
    assert "unknown entity label" in ed.message and ed.spans == ()


def test_relabel_exact_range(scheme):
    ed = editor(scheme, [span("Marquardt", None, "GPE", "en_core_web_sm")], suggested=True)
    ed.move_to(tok("Marquardt"))
    ed.apply_label("PERSON")
    assert labels(ed) == [("Marquardt", "PERSON")]
    assert not ed.spans[0].suggested and ed.spans[0].span.source is None
    assert not ed.apply_label("PERSON")
    assert "already PERSON" in ed.message


def test_a_label_key_inside_a_span_relabels_the_whole_span(scheme):
    ed = editor(scheme, [span("Alex", "Marquardt", "GPE")], suggested=True)
    ed.move_to(tok("Marquardt"))
    ed.apply_label("PERSON")
    assert labels(ed) == [("Alex Marquardt", "PERSON")]
    ed.select(tok("Marquardt"), tok("Marquardt"))  # a one-token selection is just the cursor
    ed.extend(0)
    ed.apply_label("ORG")
    assert labels(ed) == [("Marquardt", "ORG")]


def test_new_span_replaces_overlapping_ones(scheme):
    ed = editor(scheme, [span("Alex", None, "PERSON"), span("Marquardt", None, "GPE")], suggested=True)
    ed.move_to(tok("Alex"))
    ed.extend(1)
    ed.apply_label("PERSON")
    assert labels(ed) == [("Alex Marquardt", "PERSON")]
    assert "replaces" in ed.message


def test_overlaps_kept_when_the_scheme_allows_them(scheme):
    ed = editor(replace(scheme, allow_overlaps=True), [span("Alex", "Marquardt", "PERSON")])
    ed.move_to(tok("Marquardt"))
    ed.extend(-1)
    ed.extend(1)  # an explicit one-token selection inside the span
    ed.apply_label("GPE")
    assert labels(ed) == [("Alex Marquardt", "PERSON"), ("Marquardt", "GPE")]
    # The innermost span is the one under the cursor.
    assert ed.span_under_cursor().label == "GPE"


def test_delete_span_under_cursor_and_in_selection(scheme):
    ed = editor(scheme, [span("Umerov", None, "PERSON"), span("CNN", None, "ORG"), span("Ukraine", None, "GPE")])
    ed.move_to(tok("during"))
    assert not ed.delete_span()
    assert ed.message == "no span under the cursor"
    ed.move_to(tok("CNN"))
    assert ed.delete_span()
    assert labels(ed) == [("Umerov", "PERSON"), ("Ukraine", "GPE")]
    ed.select(0, tok("Ukraine"))
    ed.delete_span()
    assert ed.spans == ()


def test_confirm_suggestion_then_cycle_labels(scheme):
    ed = editor(scheme, [span("Ukraine", None, "GPE", "en_core_web_sm")], suggested=True)
    ed.move_to(tok("Ukraine"))
    assert ed.confirm_or_cycle()
    assert ed.spans[0].suggested is False and ed.spans[0].label == "GPE"
    assert ed.confirm_or_cycle()
    names = list(scheme.entity_names)
    assert ed.spans[0].label == names[names.index("GPE") + 1]
    for _ in range(len(names) - 1):
        ed.confirm_or_cycle()
    assert ed.spans[0].label == "GPE"
    ed.move_to(tok("has"))
    assert not ed.confirm_or_cycle()


def test_next_and_prev_span_wrap(scheme):
    ed = editor(scheme, [span("Umerov", None, "PERSON"), span("CNN", None, "ORG"), span("Alex", "Marquardt", "PERSON")])
    ed.move_to(tok("during"))
    ed.next_span()
    assert ed.cursor == tok("CNN")
    ed.next_span()
    assert ed.cursor == tok("Alex")
    ed.next_span()
    assert ed.cursor == 0
    ed.next_span(-1)
    assert ed.cursor == tok("Alex")
    ed.move_to(tok("Marquardt"))
    ed.next_span(-1)
    assert ed.cursor == tok("CNN")


def test_type_digit_jumps_to_span_number(scheme):
    spans = [span(w, None, "GPE") for w in ("Umerov", "during", "an", "interview", "with", "CNN", "’s", "Alex", "Marquardt", "said", "Ukraine", "has")]
    ed = editor(scheme, spans)
    assert superscript(12) == "¹²"
    ed.type_digit("3")
    assert ed.cursor == tok("an")
    ed.move_to(0)
    ed.type_digit("1")
    assert ed.cursor == 0 and ed.number_buffer == "1"
    ed.type_digit("2")
    assert ed.cursor == tok("has") and ed.number_buffer == ""
    assert not ed.type_digit("0")
    assert "no span 0" in ed.message


def test_undo_edit_restores_previous_spans(scheme):
    ed = editor(scheme, [span("CNN", None, "ORG")], suggested=True)
    assert not ed.is_dirty
    ed.move_to(tok("CNN"))
    ed.delete_span()
    ed.move_to(0)
    ed.apply_label("PERSON")
    assert ed.is_dirty
    assert ed.undo_edit() and labels(ed) == []
    assert ed.undo_edit() and labels(ed) == [("CNN", "ORG")] and ed.spans[0].suggested
    assert not ed.undo_edit()


def test_to_decision_returns_everything_shown(scheme):
    ed = editor(scheme, [span("CNN", None, "ORG", "patterns")], suggested=True)
    ed.apply_label("PERSON")
    spans, relations = ed.to_decision()
    assert [(s.label, s.source) for s in spans] == [("PERSON", None), ("ORG", None)]
    assert relations == ()


def test_sanitize_drops_invalid_and_overlapping_suggestions(scheme):
    bad = Span(6, 8, "PERSON", 0, 0)  # starts on a space
    out_of_range = Span(100, 999, "PERSON", 0, 99)
    spans = [bad, out_of_range, span("Alex", "Marquardt", "PERSON"), span("Marquardt", None, "GPE"), span("CNN", None, "ORG")]
    relations = [Relation(span("CNN", None, "ORG").key, (999, 1000), "MEMBER_OF")]
    ed = editor(scheme, spans, relations, suggested=True)
    assert labels(ed) == [("CNN", "ORG"), ("Alex Marquardt", "PERSON")]
    assert ed.relations == ()
    assert "3 invalid or overlapping" in ed.message


def test_from_suggestions_and_from_decision(scheme):
    cnn = span("CNN", None, "ORG", "patterns")
    alex = span("Alex", "Marquardt", "PERSON", "en_core_web_sm")
    rel = Relation(alex.key, cnn.key, "MEMBER_OF")
    ed = SentenceEditor.from_suggestions(TEXT, TOKENS, scheme, [Suggestion(1, "x", (cnn, alex), (rel,))])
    assert all(s.suggested for s in ed.spans) and ed.relations[0].suggested
    decision = Decision(1, "u", 1, "me", "s", "accept", (replace(cnn, source=None),), (), 0.0)
    ed = SentenceEditor.from_decision(TEXT, TOKENS, scheme, decision)
    assert [(s.label, s.suggested) for s in ed.spans] == [("ORG", False)]


def test_sentence_without_tokens_is_safe(scheme):
    ed = SentenceEditor("", (), scheme)
    ed.move(1)
    ed.extend(1)
    assert not ed.apply_label("PERSON")
    assert not ed.delete_span()
    assert ed.spans == () and ed.cursor == 0


# -- relations ---------------------------------------------------------------------------------


def relation_editor(scheme):
    return editor(scheme, [span("Umerov", None, "PERSON"), span("CNN", None, "ORG"), span("Alex", "Marquardt", "PERSON"), span("Ukraine", None, "GPE")])


def test_make_a_relation_with_keys(scheme):
    ed = relation_editor(scheme)
    assert ed.start_relation()
    assert ed.mode is Mode.PICK_CHILD and "relation from ¹Umerov [PERSON]" in ed.mode_hint
    ed.next_span()
    ed.next_span()
    assert ed.cursor == tok("Alex")
    assert ed.choose_child()
    assert ed.mode is Mode.PICK_RELATION
    offered = [label.name for label in ed.allowed_relation_labels()]
    assert "SPEAKS_TO" in offered and "HAS_ROLE" not in offered
    assert "7 SPEAKS_TO" in ed.mode_hint
    assert ed.pick_relation("SPEAKS_TO")
    assert ed.mode is Mode.NORMAL
    rel = Relation(span("Umerov", None, "PERSON").key, span("Alex", "Marquardt", "PERSON").key, "SPEAKS_TO")
    assert [r.relation for r in ed.relations] == [rel]
    assert ed.selected_relation == rel
    assert ed.describe_relation(rel) == "Umerov [PERSON] ──SPEAKS_TO──▶ Alex Marquardt [PERSON]"


def test_child_by_number_and_refusals(scheme):
    ed = relation_editor(scheme)
    ed.move_to(tok("Alex"))
    ed.start_relation()
    ed.type_digit("3")  # itself
    assert ed.mode is Mode.PICK_CHILD and "head span" in ed.message
    ed.type_digit("2")  # CNN
    assert ed.mode is Mode.PICK_RELATION and ed.pending_child == span("CNN", None, "ORG").key
    assert not ed.pick_relation("HAS_ROLE")
    assert "HAS_ROLE does not allow PERSON → ORG" in ed.message
    assert ed.mode is Mode.PICK_RELATION
    assert ed.pick_relation("MEMBER_OF")
    # Same label twice between the same pair is refused; another label is fine.
    ed.move_to(tok("Alex"))
    ed.start_relation()
    ed.type_digit("2")
    assert not ed.pick_relation("MEMBER_OF")
    assert "already there" in ed.message
    assert ed.pick_relation("SPEAKS_TO")
    assert sorted(r.relation.label for r in ed.relations) == ["MEMBER_OF", "SPEAKS_TO"]


def test_no_allowed_relation_refuses_the_child(scheme):
    ed = editor(scheme, [span("CNN", None, "ORG"), span("Ukraine", None, "GPE"), span("Washington", None, "DATE")])
    ed.move_to(tok("Washington"))
    ed.start_relation()
    ed.type_digit("1")
    assert ed.mode is Mode.PICK_CHILD
    assert "no relation label allows DATE → ORG" in ed.message


def test_symmetric_relation_accepts_either_order_once(scheme):
    ed = relation_editor(scheme)
    ed.start_relation()
    ed.type_digit("3")
    assert ed.pick_relation("MEETS_WITH")
    ed.move_to(tok("Alex"))
    ed.start_relation()
    ed.type_digit("1")
    assert not ed.pick_relation("MEETS_WITH")
    assert "already there" in ed.message
    assert "◀──MEETS_WITH──▶" in ed.describe_relation(ed.relations[0].relation)


def test_escape_cancels_relation_mode(scheme):
    ed = relation_editor(scheme)
    ed.start_relation()
    assert ed.cancel() and ed.mode is Mode.NORMAL and ed.pending_head is None
    ed.move_to(tok("during"))
    assert not ed.start_relation()
    assert "put the cursor on a span" in ed.message


def test_editing_a_span_leaves_relation_mode(scheme):
    ed = relation_editor(scheme)
    ed.start_relation()
    ed.delete_span()
    assert ed.mode is Mode.NORMAL and ed.pending_head is None


def add(ed, head_number, child_number, label):
    ed.move_to(ed.spans[head_number - 1].token_start)
    ed.start_relation()
    ed.type_digit(str(child_number))
    assert ed.pick_relation(label), ed.message


def test_select_delete_reverse_relabel_relations(scheme):
    ed = relation_editor(scheme)
    add(ed, 3, 2, "MEMBER_OF")
    add(ed, 1, 3, "SPEAKS_TO")
    ed.cancel()
    ed.cancel()
    assert ed.selected_relation is None
    assert not ed.delete_relation() and "select a relation first" in ed.message
    ed.next_relation()
    first = ed.selected_relation
    ed.next_relation()
    assert ed.selected_relation != first
    ed.next_relation()
    assert ed.selected_relation == first
    ed.next_relation(-1)
    # Reverse SPEAKS_TO: PERSON -> PERSON is allowed both ways.
    while ed.selected_relation.label != "SPEAKS_TO":
        ed.next_relation()
    assert ed.reverse_relation()
    assert ed.selected_relation.head == span("Alex", "Marquardt", "PERSON").key
    # Reverse MEMBER_OF: ORG -> PERSON is refused.
    while ed.selected_relation.label != "MEMBER_OF":
        ed.next_relation()
    assert not ed.reverse_relation()
    assert "does not allow ORG → PERSON" in ed.message
    # Relabel MEMBER_OF to SPEAKS_TO (PERSON -> ORG allowed).
    assert ed.relabel_relation() and ed.mode is Mode.PICK_RELATION
    assert not ed.pick_relation("HAS_ROLE")
    assert ed.pick_relation("SPEAKS_TO")
    assert sorted(r.relation.label for r in ed.relations) == ["SPEAKS_TO", "SPEAKS_TO"]
    assert ed.delete_relation()
    assert len(ed.relations) == 1 and ed.selected_relation is None


def test_deleting_a_span_with_relations_asks_first(scheme):
    ed = relation_editor(scheme)
    add(ed, 3, 2, "MEMBER_OF")
    ed.move_to(tok("CNN"))
    assert not ed.delete_span()
    assert "removes the relation Alex Marquardt [PERSON] ──MEMBER_OF──▶ CNN [ORG]" in ed.message
    assert len(ed.spans) == 4
    assert ed.delete_span()
    assert len(ed.spans) == 3 and ed.relations == ()
    assert ed.undo_edit()
    assert len(ed.spans) == 4 and len(ed.relations) == 1


def test_escape_or_another_key_disarms_the_confirmation(scheme):
    ed = relation_editor(scheme)
    add(ed, 3, 2, "MEMBER_OF")
    ed.move_to(tok("CNN"))
    ed.delete_span()
    assert ed.cancel() and ed.message == "kept"
    assert not ed.delete_span()
    ed.move(0)
    assert not ed.delete_span()
    assert len(ed.relations) == 1


def test_relabelling_into_a_disallowed_label_asks_and_drops(scheme):
    ed = relation_editor(scheme)
    add(ed, 3, 2, "MEMBER_OF")
    ed.move_to(tok("CNN"))
    assert not ed.apply_label("DATE")
    assert ed.spans[1].label == "ORG"
    assert ed.apply_label("DATE")
    assert ed.spans[1].label == "DATE" and ed.relations == ()
    # A label the relation allows keeps it.
    ed.undo_edit()
    assert ed.apply_label("GPE")
    assert len(ed.relations) == 1


def test_cycling_asks_before_dropping_relations(scheme):
    ed = relation_editor(scheme)
    add(ed, 3, 2, "MEMBER_OF")
    ed.move_to(tok("CNN"))
    assert ed.confirm_or_cycle()  # ORG -> GPE: MEMBER_OF allows PERSON -> GPE
    assert ed.spans[1].label == "GPE" and len(ed.relations) == 1
    assert not ed.confirm_or_cycle()  # GPE -> LOC would drop it
    assert ed.confirm_or_cycle()
    assert ed.spans[1].label == "LOC" and ed.relations == ()


def test_suggested_relations_go_without_asking(scheme):
    kyiv, officials = span("Ukraine", None, "PERSON"), span("Washington", None, "ROLE")
    ed = editor(scheme, [kyiv, officials], [Relation(kyiv.key, officials.key, "HAS_ROLE")], suggested=True)
    ed.move_to(tok("Ukraine"))
    assert ed.apply_label("GPE")
    assert ed.relations == () and "1 relation removed" in ed.message


def test_picking_a_suggested_relation_confirms_it(scheme):
    alex, cnn = span("Alex", "Marquardt", "PERSON"), span("CNN", None, "ORG")
    ed = editor(scheme, [alex, cnn], [Relation(alex.key, cnn.key, "MEMBER_OF")], suggested=True)
    assert ed.relations[0].suggested
    ed.move_to(tok("Alex"))
    ed.start_relation()
    ed.type_digit("1")
    assert ed.pick_relation("MEMBER_OF")
    assert not ed.relations[0].suggested and "confirmed" in ed.message


def test_moving_while_picking_the_label_goes_back_to_choosing_the_child(scheme):
    ed = relation_editor(scheme)
    ed.start_relation()
    ed.type_digit("3")
    assert ed.mode is Mode.PICK_RELATION
    ed.next_span()
    assert ed.mode is Mode.PICK_CHILD and ed.pending_child is None
    ed.choose_child()
    assert ed.pending_child == span("Ukraine", None, "GPE").key
    assert ed.pick_relation("MEMBER_OF")


# -- random operation sequences ----------------------------------------------------------------

ENTITY_LABELS = ["PERSON", "ORG", "GPE", "ROLE", "DATE", "WEAPON", "BOGUS"]
RELATION_LABELS = ["HAS_ROLE", "MEMBER_OF", "SPEAKS_TO", "MEETS_WITH", "LOCATED_IN", "NOPE"]

OPERATIONS = st.one_of(
    st.tuples(st.just("move"), st.integers(-4, 4)),
    st.tuples(st.just("move_to"), st.integers(-2, 30)),
    st.tuples(st.just("extend"), st.integers(-3, 3)),
    st.tuples(st.just("select"), st.integers(-2, 30), st.integers(-2, 30)),
    st.tuples(st.just("apply_label"), st.sampled_from(ENTITY_LABELS)),
    st.tuples(st.just("delete_span")),
    st.tuples(st.just("confirm_or_cycle")),
    st.tuples(st.just("next_span"), st.sampled_from([1, -1])),
    st.tuples(st.just("type_digit"), st.sampled_from("0123456789")),
    st.tuples(st.just("start_relation")),
    st.tuples(st.just("choose_child")),
    st.tuples(st.just("pick_relation"), st.sampled_from(RELATION_LABELS)),
    st.tuples(st.just("next_relation"), st.sampled_from([1, -1])),
    st.tuples(st.just("delete_relation")),
    st.tuples(st.just("reverse_relation")),
    st.tuples(st.just("relabel_relation")),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("undo_edit")),
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.booleans(), st.lists(OPERATIONS, max_size=60))
def test_random_operations_keep_every_invariant(overlaps, with_suggestions, operations):
    active = replace(SCHEME, allow_overlaps=overlaps)
    start = []
    relations = []
    if with_suggestions:
        alex, cnn = span("Alex", "Marquardt", "PERSON", "m"), span("CNN", None, "ORG", "patterns")
        start = [span("Umerov", None, "PERSON", "m"), cnn, alex, span("Marquardt", None, "GPE", "m")]
        relations = [Relation(alex.key, cnn.key, "MEMBER_OF")]
    ed = editor(active, start, relations, suggested=True)
    check_invariants(ed)
    for name, *args in operations:
        getattr(ed, name)(*args)
        check_invariants(ed)


# -- jumps, selections in fewer keys, spans inside a token ----------------------------------------

NEWS = "Yesterday , North Korea fired at U.S.-made loudspeakers of the Korean People 's Army in pro-Russian North and South Korea ."
NEWS_TOKENS = tokens_of(NEWS)


def news(scheme, spans=(), suggested=False) -> SentenceEditor:
    return SentenceEditor(NEWS, NEWS_TOKENS, scheme, [EditSpan(s, suggested) for s in spans])


def at(ed: SentenceEditor) -> str:
    return ed.token_text(ed.cursor)


def nspan(text: str, label: str, nth: int = 0) -> Span:
    start = [m.start() for m in re.finditer(re.escape(text), NEWS)][nth]
    return Span(start, start + len(text), label, 0, 0)


def test_sentence_ends_and_word_jumps_skip_punctuation(scheme):
    ed = news(scheme)
    assert ed.move_to_end(1) and at(ed) == "."
    assert ed.word(-1) and at(ed) == "Korea"
    assert ed.move_to_end(-1) and at(ed) == "Yesterday"
    assert ed.word(1) and at(ed) == "North"  # over the comma
    ed.move_to_end(1)
    assert not ed.word(1) and "no word after" in ed.message


def test_find_a_word_by_its_first_character(scheme):
    ed = news(scheme)
    assert ed.begin_find(1) and ed.pending == "find_next"
    assert ed.find_char("k") and at(ed) == "Korea"  # lower case: either case
    ed.begin_find(1)
    assert ed.find_char("K") and at(ed) == "Korean"
    ed.begin_find(-1)
    assert ed.find_char("y") and at(ed) == "Yesterday"
    ed.begin_find(-1)
    assert ed.find_char("S") and at(ed) == "South"  # wraps around
    ed.begin_find(1)
    assert not ed.find_char("z") and ed.pending is None
    assert not ed.find_char("a") and "first" in ed.message  # no find pending
    ed.begin_find(1)
    assert ed.cancel() and ed.pending is None


def test_extend_by_word_and_by_find(scheme):
    ed = news(scheme)
    ed.begin_find(1)
    ed.find_char("N")
    ed.extend_word(1)
    assert ed.selection == (2, 3)
    ed.move_to(0)
    ed.begin_find(1, extend=True)
    ed.find_char("f")
    assert ed.selection == (0, 4)
    ed.apply_label("DATE")
    assert labels(ed) == [("Yesterday , North Korea fired", "DATE")]


def test_next_gap_is_a_capitalised_word_outside_the_spans(scheme):
    ed = news(scheme, [nspan("Yesterday", "DATE"), nspan("North Korea", "GPE")])
    assert ed.next_gap(1) and at(ed) == "U.S.-made"
    assert ed.next_gap(1) and at(ed) == "Korean"
    assert ed.next_gap(-1) and at(ed) == "U.S.-made"


def test_select_a_capitalised_run(scheme):
    ed = news(scheme)
    ed.begin_find(1)
    ed.find_char("P")
    assert ed.select_run() and ed.selection == (tok_news("Korean"), tok_news("Army"))
    ed.apply_label("ORG")
    assert ("Korean People 's Army", "ORG") in labels(ed)
    ed.move_to(0)
    assert ed.select_run() and ed.selection is None or ed.selection == (0, 0)
    assert ed.select_run() and ed.selection == (tok_news("North"), tok_news("Korea"))  # the next run


def tok_news(word: str, nth: int = 0) -> int:
    return [i for i, t in enumerate(NEWS_TOKENS) if NEWS[t.start : t.end] == word][nth]


def test_end_moves_inside_a_token_and_splits_it(scheme):
    ed = news(scheme)
    ed.move_to(tok_news("U.S.-made"))
    ed.apply_label("GPE")
    assert ed.move_boundary("end", -1) and labels(ed) == [("U.S.-", "GPE")]
    assert ed.move_boundary("end", -1) and labels(ed) == [("U.S.", "GPE")]
    assert [ed.token_text(i) for i in range(tok_news("U.S.-made"), tok_news("U.S.-made") + 2)] == ["U.S.", "-made"]
    assert ed.stored_tokens() is not None and len(ed.stored_tokens()) == len(NEWS_TOKENS) + 1
    check_invariants(ed)
    spans, _ = ed.to_decision()
    assert span_problem(spans[0], NEWS, ed.stored_tokens()) is None
    ed.undo_edit()
    ed.undo_edit()
    assert labels(ed) == [("U.S.-made", "GPE")] and ed.stored_tokens() is None


def test_start_moves_inside_a_token_grows_and_refuses_overlaps(scheme):
    ed = news(scheme, [nspan("pro-Russian", "NORP"), nspan("North", "GPE", 1)])
    ed.move_to(tok_news("pro-Russian"))
    assert ed.move_boundary("start", 1) and ed.move_boundary("start", 1)
    assert ("Russian", "NORP") in labels(ed)
    assert ed.move_boundary("start", -1) and ("-Russian", "NORP") in labels(ed)
    assert ed.move_boundary("end", 1) is False and "overlap" in ed.message
    assert not ed.move_boundary("start", 1) or True
    check_invariants(ed)


def test_relations_follow_a_moved_boundary(scheme):
    person, org = nspan("Korean People 's Army", "ORG"), nspan("Yesterday", "PERSON")
    ed = news(scheme, [org, person])
    ed.relations = (EditRelation(Relation(org.key, person.key, "MEMBER_OF")),)
    ed.move_to(tok_news("Korean"))
    assert ed.move_boundary("start", 1)
    assert [ed.describe_relation(r.relation) for r in ed.relations] == ["Yesterday [PERSON] ──MEMBER_OF──▶ People 's Army [ORG]"]
    check_invariants(ed)


def test_split_a_span_leaves_out_a_lower_case_word(scheme):
    ed = news(scheme, [nspan("North and South Korea", "GPE")], suggested=True)
    ed.move_to(tok_news("and"))
    assert ed.split_span()
    assert labels(ed) == [("North", "GPE"), ("South Korea", "GPE")]
    ed.undo_edit()
    ed.move_to(tok_news("South", 0))
    assert ed.split_span() and labels(ed) == [("North and", "GPE"), ("South Korea", "GPE")]
    ed.move_to(tok_news("North", 1))
    assert not ed.split_span() and "second part" in ed.message


def test_suggestions_inside_a_token_split_it_instead_of_being_dropped(scheme):
    suggestion = Suggestion(1, "m", (Span(NEWS.index("U.S."), NEWS.index("U.S.") + 4, "GPE", 0, 0, "m"),), ())
    ed = SentenceEditor.from_suggestions(NEWS, NEWS_TOKENS, scheme, [suggestion])
    assert labels(ed) == [("U.S.", "GPE")] and ed.message == ""
    check_invariants(ed)
    spans, _ = ed.to_decision()
    tokens = ed.stored_tokens()
    decision = Decision(1, "u", 1, "me", "s", "accept", spans, (), 0.0)
    decision = replace(decision, tokens=tokens) if hasattr(decision, "tokens") else decision
    again = SentenceEditor.from_decision(NEWS, NEWS_TOKENS, scheme, decision)
    assert labels(again) == [("U.S.", "GPE")] and again.tokens == tokens


def test_set_boundary_by_character_as_the_mouse_does(scheme):
    ed = news(scheme, [nspan("U.S.-made", "GPE")])
    ed.move_to(tok_news("U.S.-made"))
    assert ed.set_boundary(NEWS.index("U.S.-made") + 4)  # the hyphen: inside, nearer the end
    assert labels(ed) == [("U.S.", "GPE")]
    assert ed.set_boundary(NEWS.index("U.S.-made") + 8)  # after the end: grows to that character
    assert labels(ed) == [("U.S.-made", "GPE")]
    assert not ed.set_boundary(NEWS.index(" loudspeakers"))  # a space cannot end a span


NEWS_OPERATIONS = st.one_of(
    OPERATIONS,
    st.tuples(st.just("move_to_end"), st.sampled_from([1, -1])),
    st.tuples(st.just("word"), st.sampled_from([1, -1])),
    st.tuples(st.just("extend_word"), st.sampled_from([1, -1])),
    st.tuples(st.just("begin_find"), st.sampled_from([1, -1]), st.booleans()),
    st.tuples(st.just("find_char"), st.sampled_from(list("aNkKSp-.'x"))),
    st.tuples(st.just("next_gap"), st.sampled_from([1, -1])),
    st.tuples(st.just("select_run")),
    st.tuples(st.just("split_span")),
    st.tuples(st.just("move_boundary"), st.sampled_from(["start", "end"]), st.sampled_from([1, -1])),
    st.tuples(st.just("set_boundary"), st.integers(-3, len(NEWS) + 3)),
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(NEWS_OPERATIONS, max_size=60))
def test_random_operations_with_the_new_keys_keep_every_invariant(overlaps, operations):
    active = replace(SCHEME, allow_overlaps=overlaps)
    start = [nspan("U.S.-made", "GPE"), nspan("Korean People 's Army", "ORG"), nspan("North and South Korea", "GPE")]
    ed = news(active, start, suggested=True)
    for name, *args in operations:
        getattr(ed, name)(*args)
        check_invariants(ed)
        # The tokens only ever split the sentence's: same characters, cut at more places.
        assert ed.tokens[0].start == NEWS_TOKENS[0].start and ed.tokens[-1].end == NEWS_TOKENS[-1].end
        assert {t.start for t in NEWS_TOKENS} <= {t.start for t in ed.tokens}
        assert all(any(b.start <= t.start and t.end <= b.end for b in NEWS_TOKENS) for t in ed.tokens)
