"""The annotate screen's background passes (the annotation memory, suggestions on the fly) start
once no key came for a moment, and never later than a bound after they were asked for (issue #15):
a key pressed right after an accept does not share the interpreter with them, and keys held down
do not starve them. "Keys never pause" is a quiet period longer than any test, so nothing here
depends on how fast the machine is."""

from __future__ import annotations

import annotator.tui.app as app_module
from annotator.store import Store

from .test_memory_tui import correct_kyiv_and_accept, db, seed_db  # noqa: F401 - fixtures
from .test_tui import SIZE, make_app, sync, wait_for_workers

FOREVER = 10**9
"""Seconds: a quiet period (or bound) this long is never reached."""


@sync
async def test_the_memory_pass_waits_while_keys_come_and_runs_once_they_stop(db, scheme, monkeypatch):  # noqa: F811
    monkeypatch.setattr(app_module, "QUIET_BOUND", FOREVER)
    monkeypatch.setattr(app_module, "QUIET_SECONDS", FOREVER)
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert app.memory is None  # asked for at the first sentence, waiting for the keys to pause
        assert any(worker.is_running for worker in app.workers)
        monkeypatch.setattr(app_module, "QUIET_SECONDS", 0.0)  # the keys paused
        await wait_for_workers(app, pilot)
        assert app.memory is not None


@sync
async def test_keys_that_never_pause_do_not_starve_the_memory(db, scheme, monkeypatch):  # noqa: F811
    monkeypatch.setattr(app_module, "QUIET_BOUND", 0.2)
    monkeypatch.setattr(app_module, "QUIET_SECONDS", FOREVER)
    app = make_app(db, scheme, start=3)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_workers(app, pilot)
        assert app.memory is not None
        await correct_kyiv_and_accept(pilot)
        await wait_for_workers(app, pilot)
        with Store(db) as store:
            s9 = store.sentence_at("demo", 9).sentence
        rows = app.suggestion_rows(s9.id)
        kyiv = [s.label for row in rows for s in row.spans if s9.text[s.start:s.end] == "Kyiv"]
        assert rows[-1].source == "memory" and kyiv == ["GPE"]
