"""A cursor move places the cursor on the sentence's layout without the cursor instead of laying the
sentence out again (issue #15): the rows are exactly those of a full layout with the cursor there,
for every token, width (tokens wider than a line included), span, tag, relation arc and selection."""

from __future__ import annotations

import pytest

from annotator.model import Relation
from annotator.tui.widgets.sentence_view import CURSOR_STYLE, layout_sentence, place_cursor

from .test_editing import editor, span, tokens_of


def editors(scheme):
    alex, cnn = span("Alex", "Marquardt", "PERSON"), span("CNN", None, "ORG")
    plain = editor(scheme)
    labelled = editor(scheme, [span("Umerov", None, "PERSON"), cnn, alex, span("Ukraine", None, "GPE")],
                      [Relation(alex.key, cnn.key, "MEMBER_OF")], suggested=True)
    selecting = editor(scheme, [cnn, alex])
    selecting.select(2, 5)
    long_word = "Supercalifragilisticexpialidocious-and-then-some words here ."
    wide = editor(scheme, text=long_word, tokens=tokens_of(long_word))
    return [plain, labelled, selecting, wide]


@pytest.mark.parametrize("width", [8, 13, 30, 120])
def test_placing_the_cursor_equals_laying_out_with_it(scheme, width):
    for ed in editors(scheme):
        for cursor in range(len(ed.tokens)):
            ed.cursor = cursor  # (a selection follows the cursor: the view lays out again then)
            bare = layout_sentence(ed, width, cursor=False)
            full = layout_sentence(ed, width)
            placed = place_cursor(bare, cursor)
            assert placed.rows == full.rows
            assert placed.token_rows == full.token_rows and placed.drawn_relations == full.drawn_relations
            assert any(piece.style == piece.style + CURSOR_STYLE and piece.target == ("token", cursor)
                       for row in placed.rows for piece in row)
            assert bare.rows == layout_sentence(ed, width, cursor=False).rows  # the shared layout is unchanged
