"""``annotator serve`` in a real browser: the system's headless Chromium, driven by Playwright
(pointed at /usr/bin/chromium; nothing is downloaded). Two people annotate at the same time, their
decisions land under their names, a reviewer's link opens the review, bad links get no screen and
no websocket, and the server stops cleanly on SIGTERM and loses nothing on SIGKILL.

What the page shows is read from the bytes the websocket brings (escape sequences removed), the
way the terminal in the page gets them; screenshots are kept in the test's folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import ROOT, SEED, run_cli

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium installed (Debian: apt-get install chromium); .ci/run installs it", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) is not installed")

# Records what each websocket of the page receives, as text without escape sequences.
CAPTURE = """
window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = protocols === undefined ? new NativeWebSocket(url) : new NativeWebSocket(url, protocols);
  const record = {url: url, opened: false, closed: false, text: ""};
  const decoder = new TextDecoder();
  window.__sockets.push(record);
  record.sent = [];
  const send = socket.send.bind(socket);
  socket.send = (data) => { if (typeof data === "string" && data.startsWith('["stdin"')) record.sent.push(data); return send(data); };
  socket.addEventListener("open", () => { record.opened = true; });
  socket.addEventListener("close", () => { record.closed = true; });
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") {
      record.text += decoder.decode(event.data, {stream: true}).replace(/\\x1b\\[[0-9;?<>=]*[ -\\/]*[@-~]/g, "");
    }
  });
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


class Served:
    """``annotator serve`` in a subprocess: the links it printed and its log lines."""

    def __init__(self, db: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        env.pop("ANNOTATOR_DB", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "annotator", "serve", "demo", "--db", str(db), "--port", "0", "--no-suggest", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self.links: dict[str, str] = {}
        wanted = {name for option, value in zip(args, args[1:]) if option in ("--annotators", "--reviewers") for name in value.split(",")}

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                found = re.match(r"(\S+) \((?:annotator|reviewer)\): (http\S+)", line)
                if found:
                    self.links[found[1]] = found[2]

        threading.Thread(target=read, daemon=True).start()
        wait_for(lambda: set(self.links) == wanted or self.process.poll() is not None, "the server's links")
        assert set(self.links) == wanted, f"the server printed no links: {self.lines}"

    @property
    def base(self) -> str:
        return next(iter(self.links.values())).split("/?")[0].split("/review?")[0]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=60)


def children_of(db: Path) -> list[int]:
    """Processes still running an app on this database."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "annotator.tui.serve_app" in command and str(db) in command:
                found.append(int(entry.name))
    return found


def wait_for(condition, what: str, seconds: float = 60.0, detail=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds:.0f} s for {what}" + (f" (found {detail()!r})" if detail else ""))


def decisions(db: Path) -> list[tuple[str, int, str, str]]:
    """(annotator, position, answer, spans) of every current decision."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT c.annotator, s.position, c.answer, d.spans FROM current c JOIN sentences s ON s.id = c.sentence_id"
            " JOIN decisions d ON d.id = c.decision_id WHERE c.answer IS NOT NULL ORDER BY c.annotator, s.position"
        ).fetchall()


def write_lock_free(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=2, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return "write lock free"
    except sqlite3.Error as exc:
        return f"write lock: {exc}"
    finally:
        conn.close()


def raw_decisions(db: Path) -> list:
    with sqlite3.connect(db) as conn:
        return [conn.execute("SELECT annotator, sentence_id, answer, id FROM decisions").fetchall(),
                conn.execute("SELECT * FROM current").fetchall()]


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "served.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(path), "--no-model").returncode == 0
    return path


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses its sandbox as root
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser, url: str):
    """A page in its own browser context (like another person's browser) with the capture."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.add_init_script(CAPTURE)
    page = context.new_page()
    response = page.goto(url)
    return page, response


def sent_keys(page) -> list:
    """What the page sent as keys (for the message of a failed wait)."""
    return page.evaluate("window.__sockets.map(s => s.sent)")


def screen_text(page) -> str:
    return page.evaluate("window.__sockets.map(s => s.text).join('')")


def wait_for_screen(page, *needles: str) -> str:
    return wait_for(lambda: all(n in screen_text(page) for n in needles) and screen_text(page), f"the screen to show {needles}")


def settle(page, quiet: float = 0.5, limit: float = 30.0) -> None:
    """Wait until the page has received nothing new for ``quiet`` seconds (the app has answered
    the terminal's start-up queries), so the keys typed next are read as keys."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = page.evaluate("window.__sockets.reduce((n, s) => n + s.text.length, 0)")
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def type_keys(page, *keys: str) -> None:
    settle(page)
    # Focus the terminal's keyboard input afresh, as a person coming back to the tab does: the page
    # tells the app (blur, then focus) before the keys. (A click would reach the app as a mouse click.)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.focus(".xterm-helper-textarea")
    for key in keys:
        page.keyboard.press(key)


def test_two_annotators_at_once_their_decisions_under_their_names_and_a_reviewer(db, browser, tmp_path):
    served = Served(db, "--annotators", "alice,bob", "--reviewers", "rita")
    try:
        alice, response = open_page(browser, served.links["alice"])
        assert response.status == 200
        bob, _ = open_page(browser, served.links["bob"])
        wait_for_screen(alice, "alice", "sentence 1 of 22")
        wait_for_screen(bob, "bob", "sentence 1 of 22")
        # both at once: alice labels the first word PERSON and accepts; bob accepts two sentences as they are
        type_keys(alice, "p", "a")
        type_keys(bob, "a")
        type_keys(bob, "a")
        wait_for(lambda: len(decisions(db)) == 3, "three decisions in the database",
                 detail=lambda: (decisions(db), sent_keys(alice), sent_keys(bob), screen_text(alice)[-1500:],
                                 screen_text(bob)[-1500:], served.lines[-20:], write_lock_free(db), raw_decisions(db)))
        wait_for_screen(alice, "decided 1/22")
        alice.screenshot(path=str(tmp_path / "alice.png"))
        bob.screenshot(path=str(tmp_path / "bob.png"))
        rows = decisions(db)
        assert [(who, position, answer) for who, position, answer, _ in rows] == [
            ("alice", 1, "accept"), ("bob", 1, "accept"), ("bob", 2, "accept"),
        ]
        assert json.loads(rows[0][3])[0]["label"] == "PERSON" and json.loads(rows[1][3]) == []
        # bob closes his tab and opens his link again: a new session, his decisions all there
        bob.context.close()
        wait_for(lambda: any("bob disconnected" in line for line in served.lines), "bob's session to end")
        bob, _ = open_page(browser, served.links["bob"])
        wait_for_screen(bob, "bob", "sentence 3 of 22", "decided 2/22")
        agreement = run_cli("agreement", "demo", "--db", str(db), "--json")
        assert agreement.returncode == 0, agreement.stderr
        assert {"alice", "bob"} <= set(json.dumps(json.loads(agreement.stdout)).replace('"', " ").split())
        # the reviewer's link opens the review screen, under the reviewer's name
        review, response = open_page(browser, served.links["rita"])
        assert response.status == 200 and response.url.split("?")[0].endswith("/review")
        wait_for_screen(review, "rita")
        review.screenshot(path=str(tmp_path / "review.png"))
    finally:
        code = served.stop(signal.SIGTERM)
    assert code == 0, served.lines
    log = "\n".join(served.lines)
    for name, role in (("alice", "annotator"), ("bob", "annotator"), ("rita", "reviewer")):
        assert f"{name} ({role}) connected from 127.0.0.1" in log
        assert f"{name} disconnected from 127.0.0.1" in log
    assert "stopping: telling 3 session(s) to quit" in log  # alice, bob (again) and rita
    assert children_of(db) == []
    assert integrity(db) == "ok"
    assert len(decisions(db)) == 3


def test_bad_links_get_no_screen_and_no_websocket(db, browser):
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO datasets (name, created_at) VALUES ('other', 0)")
    other = run_cli("user", "add", "mallory", "--dataset", "other", "--db", str(db))
    other_token = re.search(r"token=(\S+)", other.stdout)[1]
    served = Served(db, "--annotators", "alice")
    try:
        for query in ("", "?token=not-a-token", f"?token={other_token}"):
            page, response = open_page(browser, f"{served.base}/{query}")
            assert response.status == 403, query
            assert page.locator(".xterm").count() == 0 and "No access" in page.content()
            assert page.evaluate("window.__sockets.length") == 0
        # a websocket without a ticket, and one replaying the ticket of a page already used
        page, _ = open_page(browser, served.links["alice"])
        wait_for_screen(page, "alice")
        used = page.evaluate("window.__sockets[0].url")
        for url in (served.base.replace("http:", "ws:") + "/ws", used):
            page.evaluate("url => new WebSocket(url)", url)
        wait_for(lambda: page.evaluate("window.__sockets.slice(1).every(s => s.closed)"), "the refused websockets to close")
        assert page.evaluate("window.__sockets.slice(1).map(s => [s.opened, s.text])") == [[False, ""], [False, ""]]
    finally:
        assert served.stop() == 0
    assert decisions(db) == []
    log = "\n".join(served.lines)
    assert log.count("refused") >= 5 and log.count("(annotator) connected from") == 1


def test_sigkill_while_both_annotate_loses_no_saved_decision(db, browser):
    served = Served(db, "--annotators", "alice,bob")
    try:
        alice, _ = open_page(browser, served.links["alice"])
        bob, _ = open_page(browser, served.links["bob"])
        wait_for_screen(alice, "alice", "sentence 1 of 22")
        wait_for_screen(bob, "bob", "sentence 1 of 22")
        type_keys(alice, "a", "a")
        type_keys(bob, "x")
        wait_for_screen(alice, "decided 2/22")  # shown as saved
        wait_for_screen(bob, "decided 1/22")
    finally:
        served.stop(signal.SIGKILL)
    wait_for(lambda: children_of(db) == [], "the apps to quit after their server was killed", 30)
    assert integrity(db) == "ok"
    assert [(who, position, answer) for who, position, answer, _ in decisions(db)] == [
        ("alice", 1, "accept"), ("alice", 2, "accept"), ("bob", 1, "reject"),
    ]


def test_with_overlap_one_two_people_at_once_are_handed_different_sentences(db, browser):
    assert run_cli("dataset", "set", "demo", "overlap=1", "--db", str(db)).returncode == 0
    served = Served(db, "--annotators", "alice,bob")
    try:
        alice, _ = open_page(browser, served.links["alice"])
        bob, _ = open_page(browser, served.links["bob"])
        wait_for_screen(alice, "alice", " of 22")
        wait_for_screen(bob, "bob", " of 22")
        shown = {
            name: sorted(set(re.findall(r"sentence (\d+) of 22", screen_text(page))))
            for name, page in (("alice", alice), ("bob", bob))
        }
        assert sorted(shown["alice"] + shown["bob"]) == ["1", "2"], shown
        type_keys(alice, "a")
        type_keys(bob, "a")
        wait_for(lambda: len(decisions(db)) == 2, "two decisions in the database",
                 detail=lambda: (decisions(db), screen_text(alice)[-800:], screen_text(bob)[-800:]))
    finally:
        code = served.stop(signal.SIGTERM)
    assert code == 0, served.lines
    rows = decisions(db)
    assert sorted(position for _, position, _, _ in rows) == [1, 2]  # nobody decided the other's sentence
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # both quit: claims freed
