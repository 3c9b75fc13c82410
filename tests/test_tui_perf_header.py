"""The annotate screen's header is built from its parts (no markup parsed per sentence): the same
text and spans as the markup it replaced, for every value, empty or looking like markup."""

from __future__ import annotations

import pytest
from textual.content import Content

from annotator.tui.screens.annotate import header_content

MARKUP = "[b]$dataset[/] · $annotator · sentence [b]$position[/] of $count [b]$badge[/]· decided $progress/$count · [i]$title[/]"


@pytest.mark.parametrize(
    "dataset, annotator, badge, title",
    [
        ("demo", "alice", "", "Kyiv talks"),
        ("demo", "alice", "✔ accepted · edited, not saved ", ""),
        ("[b]x[/b]", "[red]me", "✘ rejected ", "$title [i]not[/i] markup…"),
        ("", "", "", ""),
        ("news-2024", "bob", "⏭ skipped ", "[link=x]t[/link]"),
    ],
)
def test_header_equals_the_markup_it_replaced(dataset, annotator, badge, title):
    for position, count, progress in ((1, 1, 0), (37, 1_000_012, 36)):
        expected = Content.from_markup(
            MARKUP, dataset=dataset, annotator=annotator, position=str(position), count=str(count),
            progress=str(progress), badge=badge, title=title,
        )
        built = header_content(dataset, annotator, position, count, progress, badge, title)
        assert built.plain == expected.plain
        assert built.spans == expected.spans
        assert list(built.render_segments()) == list(expected.render_segments())
