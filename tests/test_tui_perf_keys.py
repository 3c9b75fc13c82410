"""Key handlers touch only what changed (issue #15): a line made again with the same text and
styles repaints nothing, the relation lines made ahead for the next sentence survive the keys
pressed on the one shown, and the decided count follows each decision without counting the
annotator's decisions again (but equals the store's count whatever happened meanwhile)."""

from __future__ import annotations

from textual.content import Content

from annotator.store import Store
from annotator.tui.widgets.line_list import TextLine
from annotator.tui.widgets.relation_list import RelationList

from .test_tui import ANNOTATOR, SIZE, db, sync, template_db  # noqa: F401 (fixtures)
from .test_tui_perf_prefetch import make_app


def header_text(screen) -> str:
    return str(screen.query_one("#header", TextLine).render())


def decided_shown(screen) -> int:
    text = header_text(screen)
    return int(text.split("decided ", 1)[1].split("/", 1)[0])


def repainted_rows(widget, monkeypatch) -> list[int]:
    rows: list[int] = []
    original = type(widget).refresh_lines

    def spy(self, y: int, count: int = 1) -> None:
        if self is widget:
            rows.extend(range(y, y + count))
        original(self, y, count)

    monkeypatch.setattr(type(widget), "refresh_lines", spy)
    return rows


@sync
async def test_a_line_made_again_the_same_repaints_nothing_and_a_changed_one_repaints_its_row(db, scheme, monkeypatch):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = app.screen.query_one("#status", TextLine)
        status.update(Content.assemble(("saved", "b"), " here"))
        rows = repainted_rows(status, monkeypatch)
        status.update(Content.assemble(("saved", "b"), " here"))  # a new Content, the same line
        assert rows == []
        status.update(Content.assemble(("saved", "i"), " here"))  # another style: repainted
        assert rows == [0]
        assert str(status.render()) == "saved here"


@sync
async def test_an_edit_of_an_undecided_sentence_leaves_the_header_alone(db, scheme, monkeypatch):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        before = header_text(screen)
        updates: list = []
        header = screen.query_one("#header", TextLine)
        original = TextLine.update
        monkeypatch.setattr(TextLine, "update", lambda self, content: (updates.append(self), original(self, content)))
        await pilot.press("right", "p")
        await pilot.pause()
        assert header not in updates and header_text(screen) == before
        await pilot.press("a")
        await pilot.pause()
        assert header in updates and "sentence 4 of" in header_text(screen)


@sync
async def test_relation_lines_made_ahead_survive_keys_on_the_sentence_shown(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        relations = screen.query_one(RelationList)
        signature, prepared = relations._next
        assert signature is not None and prepared
        await pilot.press("right", "left")  # the relation list is shown again for sentence 3
        await pilot.pause()
        assert relations._next[1] is prepared
        await pilot.press("a")
        await pilot.pause()
        assert screen.position == 4
        assert all(a is b for a, b in zip(relations._contents, prepared)) and len(relations._contents) == len(prepared)
        assert "MEMBER_OF" in str(relations.render())


@sync
async def test_the_decided_count_follows_decisions_and_equals_the_store(db, scheme):
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        store = screen.context.store

        def count() -> int:
            return store.progress("demo", ANNOTATOR)

        start = decided_shown(screen)
        assert start == count()
        await pilot.press("a")  # 3 decided: one more
        await pilot.pause()
        assert decided_shown(screen) == count() == start + 1
        await pilot.press("[", "x")  # back to 3 (decided) and decided again: the same count
        await pilot.pause()
        assert screen.position == 4 and decided_shown(screen) == count() == start + 1
        # Sentence 4 is decided by this annotator elsewhere after the screen read it: accepting it
        # here supersedes that decision, which the screen never saw, so it counts from the store.
        with Store(db) as other:
            other.add_decision(other.sentence_at("demo", 4).sentence, annotator=ANNOTATOR, answer="reject")
        await pilot.press("a")
        await pilot.pause()
        assert decided_shown(screen) == count() == start + 2


@sync
async def test_the_decided_count_is_counted_again_every_few_decisions(db, scheme, monkeypatch):
    """Decisions under the same name on other sentences, made elsewhere (another tab, a merge),
    show up in the count at the latest ``RECOUNT_EVERY`` decisions later."""
    from annotator.tui.screens import annotate

    monkeypatch.setattr(annotate, "RECOUNT_EVERY", 2)
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        start = decided_shown(screen)
        with Store(db) as other:
            for position in (10, 11):
                other.add_decision(other.sentence_at("demo", position).sentence, annotator=ANNOTATOR, answer="reject")
            expected = other.progress("demo", ANNOTATOR) + 2
        await pilot.press("a")
        await pilot.pause()
        assert decided_shown(screen) == start + 1  # kept incrementally
        await pilot.press("a")
        await pilot.pause()
        assert decided_shown(screen) == expected == start + 4  # counted again


def test_rows_to_repaint_are_refreshed_a_run_at_a_time():
    from annotator.tui.widgets.line_list import refresh_rows

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[int, int]] = []

        def refresh_lines(self, start: int, count: int = 1) -> None:
            self.calls.append((start, count))

    for rows, runs in (([], []), ([4], [(4, 1)]), ([0, 1, 2, 5, 7, 8], [(0, 3), (5, 1), (7, 2)]), ([1, 3], [(1, 1), (3, 1)])):
        recorder = Recorder()
        refresh_rows(recorder, iter(rows))
        assert recorder.calls == runs


@sync
async def test_the_header_and_status_of_an_accept_are_made_ahead_and_read_as_made_now(db, scheme):
    from annotator.tui.screens.annotate import header_content

    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        made = dict(screen._lines_ahead)
        assert any(key[0] == "header" for key in made) and any(key[0] == "status" for key in made)
        await pilot.press("a")
        await pilot.pause()
        header = screen.query_one("#header", TextLine)
        status = screen.query_one("#status", TextLine)
        assert header._contents[0] is made[("header", screen._header_parts)]
        assert status._contents[0] is made[("status", "✔ accepted: sentence 3 saved")]
        # The same text and styles as made when shown.
        fresh = header_content(*screen._header_parts)
        assert header._contents[0].plain == fresh.plain and header._contents[0].spans == fresh.spans
        assert "sentence 4 of" in header_text(screen) and "decided" in header_text(screen)
        assert str(status.render()) == "✔ accepted: sentence 3 saved"
