"""Crash safety of the annotation screen: the real program in tmux, killed with SIGKILL at random
moments (20 seeded runs). After each kill the database passes integrity_check and holds every
decision the screen had acknowledged ("sentence N saved")."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import time

import pytest

from .conftest import SEED, run_cli
from .test_tui_tmux import Tmux

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"), pytest.mark.slow]

SAVED = re.compile(r"sentence (\d+) saved")


def decided_positions(db) -> set[int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT s.position FROM current c JOIN sentences s ON s.id = c.sentence_id"
            " WHERE c.annotator = 'crash' AND c.answer IS NOT NULL"
        ).fetchall()
        return {r[0] for r in rows}
    finally:
        conn.close()


def test_sigkill_never_loses_an_acknowledged_decision(tmp_path):
    db = tmp_path / "crash.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    rng = random.Random(1125)
    acknowledged: set[int] = set()
    for run in range(20):
        tmux = Tmux(f"crash{run}")
        tmux.start(f"{sys.executable} -m annotator annotate demo --annotator crash --db {db}")
        try:
            tmux.wait_for("sentence ", timeout=30)
            presses = rng.randint(1, 6)
            for _ in range(presses):
                tmux.keys(rng.choice(["a", "x", "a", "Right", "p", "a"]))
                time.sleep(rng.uniform(0.0, 0.15))
                for match in SAVED.finditer(tmux.screen()):
                    acknowledged.add(int(match.group(1)))
            pid = int(tmux.run("display", "-p", "-t", "main", "#{pane_pid}").strip())
            screen = tmux.screen()
            for match in SAVED.finditer(screen):
                acknowledged.add(int(match.group(1)))
            os.kill(pid, signal.SIGKILL)
        finally:
            tmux.run("kill-server")
        stored = decided_positions(db)
        missing = acknowledged - stored
        assert not missing, f"run {run}: acknowledged but not stored: {sorted(missing)}"
    assert acknowledged, "the screen acknowledged decisions"


def test_sigkill_after_an_edit_keeps_the_draft_and_reopening_restores_it(tmp_path):
    """Issue #17 item 13: an edit of an undecided sentence survives a killed terminal as a draft;
    the draft is restored when the sentence is shown again and never counts as a decision."""
    from annotator.store import Store

    db = tmp_path / "draft.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    command = f"{sys.executable} -m annotator annotate demo --annotator crash --db {db} --start 2"
    tmux = Tmux("draft-kill")
    tmux.start(command)
    try:
        tmux.wait_for("sentence 2 of", timeout=30)
        tmux.keys("p")  # the word under the cursor becomes PERSON: an edit, not a decision
        tmux.wait_for("▶ 1 PERSON", timeout=10)
        pid = int(tmux.run("display", "-p", "-t", "main", "#{pane_pid}").strip())
        os.kill(pid, signal.SIGKILL)
    finally:
        tmux.run("kill-server")
    with Store(db) as store:
        sentence = store.sentence_at("demo", 2).sentence
        draft = store.draft(sentence.id, "crash")
        assert draft is not None and [s.label for s in draft[0]].count("PERSON") >= 1
        assert store.progress("demo", "crash") == 0 and store.current_decision(sentence.id, "crash") is None
    tmux = Tmux("draft-reopen")
    tmux.start(command)
    try:
        screen = tmux.wait_for("draft restored", timeout=30)
        assert "sentence 2 of" in screen and "decided 0/" in screen and "1 PERSON" in screen
    finally:
        tmux.run("kill-server")
