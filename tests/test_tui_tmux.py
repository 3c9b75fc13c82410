"""The real console program in a real terminal (tmux): start, read the screen, press keys, check the database.

Skipped when tmux is not installed. Uses its own tmux server socket, so it never touches a user's
sessions, and kills only that server at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotator.store import Store

from .conftest import SEED, run_cli

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux server (private socket) running one command in a 120x40 window."""

    def __init__(self, name: str):
        self.socket = f"annotator-test-{os.getpid()}-{name}"

    def run(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        return result.stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", "main", "-x", "120", "-y", "40", command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "main")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "main", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        size = self.run("display", "-p", "-t", "main", "#{window_width}x#{window_height}").strip()
        raise AssertionError(f"{text!r} did not appear on the screen ({size}):\n{screen}")

    def wait_until_gone(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} is still on the screen:\n{self.screen()}")
            time.sleep(0.1)

    def stop(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


def test_annotate_in_a_real_terminal(tmp_path: Path):
    db = tmp_path / "t.db"
    result = run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    assert result.returncode == 0, result.stderr
    tmux = Tmux("annotate")
    # The shell tmux starts may export COLUMNS/LINES of the initial 80x24 pane, which Textual would
    # believe over the real size: drop them.
    command = f"env -u COLUMNS -u LINES {sys.executable} -m annotator annotate demo --annotator tmux --db {db} --start 4; sleep 30"
    try:
        tmux.start(command)
        tmux.wait_for("sentence 4 of 22")
        # tmux may show the first frame at 80x24 before the window gets its 120x40.
        screen = tmux.wait_for("Umerov, during an interview with CNN’s Alex")
        assert "p  PERSON" in screen  # the label bar
        tmux.keys(*["Left"] * 30)  # to the first token, wherever the cursor starts
        tmux.keys("p")
        screen = tmux.wait_for("'Umerov' is PERSON")
        assert "PERSON Umerov" in screen  # the span list
        tmux.keys("a")
        screen = tmux.wait_for("sentence 5 of 22")
        assert "accepted: sentence 4 saved" in screen and "decided 1/22" in screen
        tmux.keys("?")
        screen = tmux.wait_for("(split_span)")  # the help screen's key list (labels further down)
        assert "(accept)" in screen and "(end_left)" in screen
        tmux.keys("Escape")
        tmux.wait_until_gone("(split_span)")  # (an Escape followed at once by q would read as alt+q)
        tmux.keys("q")
        tmux.wait_until_gone("sentence 5 of 22")  # the app has quit
    finally:
        tmux.stop()
    with Store(db) as store:
        sentence = store.sentence_at("demo", 4).sentence
        decision = store.current_decision(sentence.id, "tmux")
    assert decision is not None and decision.answer == "accept"
    assert ("Umerov", "PERSON") in [(sentence.text[s.start : s.end], s.label) for s in decision.spans]
    assert decision.session.startswith("tmux-")


def test_keys_sent_at_once_after_slash_and_colon_are_not_lost(tmp_path: Path):
    """Issue #17 item 8 in a real terminal: tmux delivers ":12⏎" and "/Umerov⏎" as one burst each."""
    db = tmp_path / "t.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    tmux = Tmux("prompt-burst")
    command = f"env -u COLUMNS -u LINES {sys.executable} -m annotator annotate demo --annotator tmux --db {db}; sleep 30"
    try:
        tmux.start(command)
        tmux.wait_for("sentence 1 of 22")
        tmux.keys(":12", "Enter")
        tmux.wait_for("sentence 12 of 22")
        tmux.keys("/Umerov", "Enter")
        screen = tmux.wait_for("found 'Umerov' in sentence 13")
        assert "sentence 13 of 22" in screen
        tmux.keys("/Obama", "Enter")
        tmux.wait_for("'Obama' is not in any sentence")
    finally:
        tmux.stop()
