"""Crash safety: processes killed with SIGKILL at random moments never leave a damaged database or
half a file (imports) or half a source database (merges)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, SEED, run_cli

RUNS = 12


def make_article_files(folder: Path, files: int = 5, per_file: int = 150) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(files):
        path = folder / f"batch{f}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for a in range(per_file):
                body = " ".join(f"Minister {f}x{a}x{s} spoke in Kyiv on Friday." for s in range(12))
                fh.write(json.dumps({"text": f"Headline {f}-{a}\n\n{body}"}) + "\n")
        paths.append(path)
    return paths


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def articles_per_file(db: Path) -> dict[tuple[str, str], int]:
    """Articles per (dataset, file) committed so far."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(db, timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "articles" not in tables:
            return {}
        counts: dict[tuple[str, str], int] = {}
        for (dataset, source) in conn.execute("SELECT d.name, a.source FROM articles a JOIN datasets d ON d.id = a.dataset_id"):
            key = (dataset, source.rsplit(":", 1)[0])
            counts[key] = counts.get(key, 0) + 1
        # every article has all its sentences
        broken = conn.execute(
            "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM sentences s WHERE s.article_id = a.id)"
        ).fetchone()[0]
        assert broken == 0
        return counts
    finally:
        conn.close()


def committed(db: Path, sql: str, params=()) -> int:
    """A count read beside the running writer (0 while the database or its tables do not exist yet)."""
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchone()[0]
    except sqlite3.OperationalError:  # no such table yet
        return 0
    finally:
        conn.close()


def kill_at(argv: list[str], rng: random.Random, run: int, progress) -> int:
    """Run ``argv`` and SIGKILL it: on even runs after a random delay from the start (start-up,
    migrations, the first transaction), on odd runs a random moment after ``progress()`` first
    reports committed work (so the kill lands between commits, mid-run, on any machine speed)."""
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if run % 2 == 0:
        time.sleep(rng.uniform(0.2, 3.0))
    else:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and progress() == 0:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


FILES, PER_FILE = 5, 150


@pytest.mark.slow
def test_import_killed_at_random_moments_keeps_whole_files(tmp_path):
    """Each run imports into a dataset of its own, so every run has work when it is killed."""
    files = make_article_files(tmp_path / "in", FILES, PER_FILE)
    rng = random.Random(20261125)
    db = tmp_path / "crash.db"
    partial_kills = 0
    started = time.monotonic()
    for run in range(RUNS):
        dataset = f"d{run}"
        argv = [sys.executable, "-m", "annotator", "import", dataset, str(tmp_path / "in"), "--db", str(db), "--no-model"]
        code = kill_at(argv, rng, run, lambda: committed(
            db, "SELECT COUNT(*) FROM articles a JOIN datasets d ON d.id = a.dataset_id WHERE d.name = ?", (dataset,)))
        if db.exists():
            assert integrity(db) == "ok", f"run {run}"
        counts = articles_per_file(db)
        for (name, file), count in counts.items():
            assert count == PER_FILE, f"run {run}: {name} {file} has {count} of {PER_FILE} articles"
        whole = sum(1 for (name, _) in counts if name == dataset)
        if code == -signal.SIGKILL and 0 < whole < FILES:
            partial_kills += 1  # killed mid-run, after some files were committed and before the others
    # The kills must have landed mid-run, or this test proves nothing about half-imported files.
    assert partial_kills >= RUNS // 4, f"only {partial_kills} of {RUNS} kills landed between committed files"
    final = run_cli("import", "d0", str(tmp_path / "in"), "--db", str(db), "--no-model")
    assert final.returncode == 0, final.stderr
    assert {file: n for (name, file), n in articles_per_file(db).items() if name == "d0"} == {str(p): PER_FILE for p in files}
    assert time.monotonic() - started < 120


def _make_source(path: Path, annotator: str, n: int) -> None:
    from annotator.importer import ArticleImporter, ArticleInput
    from annotator.store import Store

    with Store(path) as store:
        store.ensure_dataset("demo")
        ArticleImporter(store, "demo").import_articles(
            [ArticleInput(SEED.read_text(encoding="utf-8"), "seed")]
            + [ArticleInput(f"Extra {i}\n\n" + "Umerov spoke in Kyiv. " * 30, f"extra{i}") for i in range(n)]
        )
        for position in range(1, store.sentence_count("demo") + 1):
            store.add_decision(store.sentence_at("demo", position).sentence, annotator=annotator, answer="accept")


@pytest.mark.slow
def test_merge_killed_at_random_moments_is_all_or_nothing(tmp_path):
    """Each run merges into a target of its own, so every run has work when it is killed."""
    sources = [tmp_path / f"{name}.db" for name in ("alice", "bob")]
    for path, name in zip(sources, ("alice", "bob")):
        _make_source(path, name, 120)
    rng = random.Random(7)
    partial_kills = 0
    started = time.monotonic()
    for run in range(RUNS):
        target = tmp_path / f"target{run}.db"
        code = kill_at([sys.executable, "-m", "annotator", "merge", str(target), *map(str, sources)], rng, run,
                       lambda: committed(target, "SELECT COUNT(*) FROM decisions"))
        if not target.exists():
            continue
        assert integrity(target) == "ok"
        conn = sqlite3.connect(target)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "decisions" in tables:
            per_annotator = dict(conn.execute("SELECT annotator, COUNT(*) FROM decisions GROUP BY annotator").fetchall())
            sentences = conn.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
            for name, count in per_annotator.items():
                assert count == sentences, f"run {run}: {name} has {count} of {sentences} decisions"
            if code == -signal.SIGKILL and len(per_annotator) == 1:
                partial_kills += 1  # killed between the two sources: the first whole, the second absent
        conn.close()
    assert partial_kills >= RUNS // 4, f"only {partial_kills} of {RUNS} kills landed between the two sources"
    target = tmp_path / "target0.db"
    result = run_cli("merge", str(target), *map(str, sources))
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(target)
    sentences = conn.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
    assert dict(conn.execute("SELECT annotator, COUNT(*) FROM decisions GROUP BY annotator").fetchall()) == {
        "alice": sentences, "bob": sentences}
    conn.close()
    assert time.monotonic() - started < 120
