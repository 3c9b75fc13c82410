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

RUNS = 20


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


def articles_per_file(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "articles" not in tables:
            return {}
        counts: dict[str, int] = {}
        for (source,) in conn.execute("SELECT source FROM articles"):
            file = source.rsplit(":", 1)[0]
            counts[file] = counts.get(file, 0) + 1
        # every article has all its sentences
        broken = conn.execute(
            "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM sentences s WHERE s.article_id = a.id)"
        ).fetchone()[0]
        assert broken == 0
        return counts
    finally:
        conn.close()


def kill_after(argv: list[str], delay: float) -> int:
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


@pytest.mark.slow
def test_import_killed_at_random_moments_keeps_whole_files(tmp_path):
    files = make_article_files(tmp_path / "in")
    rng = random.Random(20261125)
    db = tmp_path / "crash.db"
    complete_runs = 0
    for run in range(RUNS):
        delay = rng.uniform(0.2, 2.5)
        code = kill_after([sys.executable, "-m", "annotator", "import", "d", str(tmp_path / "in"), "--db", str(db), "--no-model"], delay)
        if db.exists():
            assert integrity(db) == "ok", f"run {run}"
        for file, count in articles_per_file(db).items():
            assert count == 150, f"run {run}: {file} has {count} of 150 articles"
        if code == 0:
            complete_runs += 1
    final = run_cli("import", "d", str(tmp_path / "in"), "--db", str(db), "--no-model")
    assert final.returncode == 0, final.stderr
    assert articles_per_file(db) == {str(p): 150 for p in files}


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
    sources = [tmp_path / f"{name}.db" for name in ("alice", "bob")]
    for path, name in zip(sources, ("alice", "bob")):
        _make_source(path, name, 120)
    rng = random.Random(7)
    target = tmp_path / "target.db"
    for run in range(RUNS):
        kill_after([sys.executable, "-m", "annotator", "merge", str(target), *map(str, sources)], rng.uniform(0.1, 1.5))
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
        conn.close()
    result = run_cli("merge", str(target), *map(str, sources))
    assert result.returncode == 0, result.stderr
