"""``annotator serve`` as a person meets it: from opening the link to the first sentence on the
page, and the memory each connected annotator costs next to the terminal app.

Serves the seed article (``--no-suggest``: no spaCy process, as the terminal row measures the app
alone) on a free localhost port, opens each person's link in its own context of the system's
headless Chromium (Playwright; nothing downloaded) and times ``page.goto`` until the websocket has
brought ``sentence 1 of N`` (escape sequences removed, as ``tests/test_serve_browser.py`` reads
it). Then it reads ``VmRSS``/``VmHWM`` of the server and of each connection's app process, and of
``annotator annotate`` on the same database in tmux (``tmux_probe.TmuxApp``).

    .venv/bin/python benchmarks/serve.py [--people 2] [--rounds 3]

Prints a Rich table and writes ``benchmarks/results-serve.json``. Exits 0 with "not available"
when Chromium or Playwright is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.test_serve_browser import CAPTURE  # noqa: E402  (the same reading of the screen as the tests)
from tmux_probe import TmuxApp, _status_kib, tmux_available  # noqa: E402

SEED = ROOT / "examples" / "ukraine-long-range-weapons.txt"


def memory_mib(pid: int) -> dict[str, float | None]:
    rss, hwm = _status_kib(pid, "VmRSS"), _status_kib(pid, "VmHWM")
    return {"rss_mib": round(rss / 1024, 1) if rss else None, "hwm_mib": round(hwm / 1024, 1) if hwm else None}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def serve(db: Path, names: list[str]) -> tuple[subprocess.Popen, dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "annotator", "serve", "demo", "--db", str(db), "--port", "0", "--no-suggest",
         "--annotators", ",".join(names)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"},
    )
    links: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        found = re.match(r"(\S+) \(annotator\): (http\S+)", line)
        if found:
            links[found[1]] = found[2]
        if len(links) == len(names):
            break
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    return process, links


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2, help="browsers connected at once")
    parser.add_argument("--rounds", type=int, default=3, help="page loads timed per person")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        print("not available: no Chromium or no playwright (the dev extra)")
        return 0
    from rich.console import Console
    from rich.table import Table

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    db = work / "serve.db"
    subprocess.run([sys.executable, "-m", "annotator", "import", "demo", str(SEED), "--db", str(db), "--no-model"],
                   cwd=ROOT, check=True, capture_output=True)
    names = [f"person{i + 1}" for i in range(args.people)]
    load_before = os.getloadavg()
    process, links = serve(db, names)
    first_sentence: list[float] = []
    apps: list[dict] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"] if os.geteuid() == 0 else [])
            for round_number in range(args.rounds):
                pages = []
                for name in names:
                    context = browser.new_context(viewport={"width": 1200, "height": 800})
                    context.add_init_script(CAPTURE)
                    page = context.new_page()
                    started = time.monotonic()
                    page.goto(links[name])
                    while "sentence 1 of " not in page.evaluate("window.__sockets.map(s => s.text).join('')"):
                        if time.monotonic() - started > 60:
                            raise SystemExit(f"error: {name}'s page showed no sentence in 60 s")
                        time.sleep(0.01)
                    first_sentence.append(time.monotonic() - started)
                    pages.append(context)
                if round_number == args.rounds - 1:
                    time.sleep(2)  # settled
                    apps = [memory_mib(pid) for pid in children(process.pid)]
                    server_memory = memory_mib(process.pid)
                for context in pages:
                    context.close()
                time.sleep(1)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=60)
    terminal: dict = {}
    if tmux_available() is None:
        with TmuxApp(f"{sys.executable} -m annotator annotate demo --annotator terminal --db {db}", cwd=str(ROOT)) as app:
            terminal["startup_s"] = round(app.start("sentence 1 of "), 2)
            time.sleep(2)
            rss, hwm = app.memory_mib()
            terminal.update(rss_mib=round(rss, 1) if rss else None, hwm_mib=round(hwm, 1) if hwm else None)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load_before": load_before,
                    "load_after": os.getloadavg(), "chromium": subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()},
        "people": args.people,
        "page_to_first_sentence_s": [round(t, 2) for t in first_sentence],
        "server": server_memory,
        "app_per_connection": apps,
        "terminal_app": terminal,
    }
    (Path(__file__).resolve().parent / "results-serve.json").write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"annotator serve: {args.people} people, {args.rounds} rounds")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("page to first sentence, median s", f"{statistics.median(first_sentence):.2f}")
    table.add_row("page to first sentence, max s", f"{max(first_sentence):.2f}")
    table.add_row("server RSS MiB", str(server_memory["rss_mib"]))
    for index, app in enumerate(apps, 1):
        table.add_row(f"app process {index} RSS MiB (peak)", f"{app['rss_mib']} ({app['hwm_mib']})")
    if terminal:
        table.add_row("terminal app RSS MiB (peak)", f"{terminal['rss_mib']} ({terminal['hwm_mib']})")
        table.add_row("terminal app start to first sentence s", str(terminal["startup_s"]))
    Console().print(table)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
