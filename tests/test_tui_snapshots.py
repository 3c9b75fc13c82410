"""A few pinned screenshots of the annotate screen (pytest-textual-snapshot).

Update after an intended layout change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__`` before committing them.
"""

from __future__ import annotations

from .test_tui import db, make_app, template_db  # noqa: F401  (fixtures)

SIZE = (120, 40)


def test_main_screen_with_suggestions_and_arcs(db, scheme, snap_compare):  # noqa: F811
    assert snap_compare(make_app(db, scheme, start=3), terminal_size=SIZE)


def test_help_screen(db, scheme, snap_compare):  # noqa: F811
    assert snap_compare(make_app(db, scheme, start=3), press=["question_mark"], terminal_size=SIZE)


def test_three_relations_one_long_distance(db, scheme, snap_compare):  # noqa: F811
    async def make_relations(pilot) -> None:
        editor = pilot.app.screen.editor

        def number(text: str) -> str:
            return str([n for n, s in enumerate(editor.spans, 1) if editor.span_text(s.key) == text][0])

        await pilot.press(*["left"] * 12, "p")  # Umerov PERSON
        await pilot.press("r", number("Alex Marquardt"), "7")  # Umerov SPEAKS_TO Alex Marquardt
        await pilot.press(number("Umerov"), "r", number("Washington"), "3")  # Umerov LOCATED_IN Washington (far)
        await pilot.press(number("Alex Marquardt"), "r", number("CNN"), "2")  # confirm the suggested MEMBER_OF
        await pilot.press("escape")

    assert snap_compare(make_app(db, scheme, start=4), terminal_size=SIZE, run_before=make_relations)
