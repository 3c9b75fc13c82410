"""``annotator check`` verifies the database itself (``Store.verify``): SQLite's integrity check,
``current`` against the decision history, spans on token boundaries, relations to existing spans."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from .conftest import SEED, run_cli


def _span(sentence, word: str, label: str):
    from annotator.model import Span

    start = sentence.text.index(word)
    end = start + len(word)
    first = next(i for i, t in enumerate(sentence.tokens) if t.start == start)
    last = next(i for i, t in enumerate(sentence.tokens) if t.end == end)
    return Span(start, end, label, first, last)


@pytest.fixture
def healthy_db(tmp_path) -> Path:
    """The seed article with alice's decisions (one superseded, one with a relation) and rev's gold."""
    from annotator.model import Relation
    from annotator.store import Store

    db = tmp_path / "c.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    with Store(db) as store:
        third = store.sentence_at("demo", 3).sentence
        umerov, kyiv = _span(third, "Rustem Umerov", "PERSON"), _span(third, "Kyiv", "GPE")
        store.add_decision(third, annotator="alice", answer="accept", spans=[umerov])
        store.add_decision(third, annotator="alice", answer="accept", spans=[umerov, kyiv],
                           relations=[Relation(umerov.key, kyiv.key, "LOCATED_IN")])
        store.add_decision(store.sentence_at("demo", 4).sentence, annotator="alice", answer="reject")
        store.add_decision(third, annotator="rev", answer="accept", spans=[umerov], gold=True)
    return db


def _raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)


def _sentence_row(conn, position: int) -> tuple[int, str, list[int]]:
    sid, text, tokens = conn.execute("SELECT id, text, tokens FROM sentences WHERE position = ?", (position,)).fetchone()
    return sid, text, json.loads(tokens)


def test_healthy_database_is_reported_ok(healthy_db):
    from annotator.store import Store

    with Store(healthy_db, readonly=True) as store:
        report = store.verify("demo")
    assert report.ok and report.integrity == ["ok"] and report.counts == {} and report.problems == []
    assert (report.decisions, report.current_rows, report.spans, report.relations) == (4, 3, 4, 1)
    result = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice", "--strict")
    # --strict still fails on the export-level findings (rare labels, unannotated sentences), not the database
    assert "database: ok" in result.stdout and "4 stored decisions" in result.stdout and "3 current rows" in result.stdout
    assert "Traceback" not in result.stderr


def test_stale_and_missing_current_rows_are_reported(healthy_db):
    from annotator.store import Store

    healthy = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice", "--strict")
    # the export-level findings alone (rare labels, sentences without an accepted decision)
    assert healthy.returncode == 2 and "database: ok" in healthy.stdout
    export_problems = int(re.search(r"annotator: (\d+) problems found \(--strict\)", healthy.stderr).group(1))
    conn = _raw(healthy_db)
    # Without the trigger a new decision leaves current on the old row (what schema v2 did under INSERT OR IGNORE).
    conn.execute("DROP TRIGGER decisions_keep_current")
    sid, _, _ = _sentence_row(conn, 4)
    conn.execute("INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, answer, created_at)"
                 " VALUES ('late', 1, ?, 'alice', 'ignore', 4e9)", (sid,))  # newer than every decision
    sid5, _, _ = _sentence_row(conn, 5)
    conn.execute("INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, answer, created_at)"
                 " VALUES ('lost', 1, ?, 'bob', 'accept', 99.0)", (sid5,))
    conn.close()
    with Store(healthy_db, readonly=True) as store:
        report = store.verify("demo")
    assert not report.ok
    assert report.counts == {"stale current row": 1, "missing current row": 1}
    messages = {(p.kind, p.position) for p in report.problems}
    assert messages == {("stale current row", 4), ("missing current row", 5)}
    result = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice")
    assert result.returncode == 0, result.stderr
    assert "database: problems found" in result.stdout
    assert "stale current row: 1" in result.stdout and "missing current row: 1" in result.stdout
    assert "sentence 4: current names decision" in result.stdout and "sentence 5: decision" in result.stdout
    strict = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice", "--strict")
    assert strict.returncode == 2
    assert strict.stderr.strip().splitlines() == [f"annotator: {export_problems + 2} problems found (--strict)"]


def test_current_answer_that_disagrees_with_its_decision_is_reported(healthy_db):
    from annotator.store import Store

    conn = _raw(healthy_db)
    conn.execute("UPDATE current SET answer = 'ignore' WHERE annotator = 'rev'")
    conn.close()
    with Store(healthy_db, readonly=True) as store:
        report = store.verify("demo")
    assert report.counts == {"stale current row": 1}
    assert report.problems[0].position == 3 and "'ignore'" in report.problems[0].message


def test_span_cutting_a_token_and_dangling_relation_are_reported(healthy_db):
    from annotator.store import Store

    conn = _raw(healthy_db)
    sid, text, tokens = _sentence_row(conn, 3)
    start = text.index("Rustem Umerov")
    # "Rustem Umero": ends one character inside the token, as the Prodigy import stored "Angela Merke".
    first = next(i for i in range(0, len(tokens), 2) if tokens[i] == start) // 2
    cut = {"start": start, "end": start + len("Rustem Umero"), "label": "PERSON", "token_start": first, "token_end": first + 1}
    dangling = {"head": [0, 1], "child": [start, start + 6], "label": "LOCATED_IN"}
    conn.execute("INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, answer, spans, relations, created_at)"
                 " VALUES ('cut', 1, ?, 'carol', 'accept', ?, ?, 99.0)", (sid, json.dumps([cut]), json.dumps([dangling])))
    conn.close()
    with Store(healthy_db, readonly=True) as store:
        report = store.verify("demo")
    assert report.counts == {"span off token boundaries": 1, "relation to a missing span": 1}
    assert all(p.position == 3 for p in report.problems)
    assert "'Rustem Umero' does not end on a token boundary" in report.problems[0].message
    result = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice")
    assert "span off token boundaries: 1" in result.stdout
    assert "sentence 3: decision" in result.stdout and "carol" in result.stdout


@pytest.mark.parametrize("how", ["index-out-of-step", "unreadable-page"])
def test_integrity_check_failure_is_reported(healthy_db, how):
    from annotator.store import Store

    conn = _raw(healthy_db)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA writable_schema = ON")
    if how == "index-out-of-step":
        # The index's stored entries no longer match its definition: "row N missing from index".
        conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX decisions_by_dataset ON decisions (annotator, dataset_id)'"
                     " WHERE name = 'decisions_by_dataset'")
    else:
        # The index's root page points at a table's b-tree: SQLite calls the file malformed.
        table_root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles'").fetchone()[0]
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'decisions_by_dataset'", (table_root,))
    conn.execute("PRAGMA writable_schema = OFF")
    conn.close()
    with Store(healthy_db, readonly=True) as store:
        report = store.verify("demo")
    assert not report.integrity_ok and not report.ok and report.integrity
    result = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice", "--strict")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "database: DAMAGED" in result.stdout and f"  {report.integrity[0]}" in result.stdout


def test_check_without_decisions_still_verifies_the_database(tmp_path):
    db = tmp_path / "e.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    result = run_cli("check", "demo", "--db", str(db), "--strict")
    assert result.returncode == 0, result.stderr
    assert "database: ok" in result.stdout and "no decisions yet" in result.stdout


def _damage(db: Path, table: str) -> Path:
    """Overwrite 64 bytes of ``table``'s root page (its cell pointers), as a failing disk would."""
    conn = _raw(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size + 8)
        f.write(b"\xab" * 64)
    return db


@pytest.mark.parametrize("table", ["decisions", "sentences", "suggestions"])
@pytest.mark.parametrize("strict", [False, True])
def test_damaged_database_is_reported_as_damaged_and_exits_2(healthy_db, table, strict):
    _damage(healthy_db, table)
    result = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice", *(["--strict"] if strict else []))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("database: DAMAGED ("), result.stdout
    n = int(re.search(r"\((\d+) problems?", lines[0]).group(1))
    # SQLite's own messages, indented under the heading, the first 10 and how many more
    assert all(line.startswith("  ") for line in lines[1:]), result.stdout
    shown = [line for line in lines[1:] if not line.startswith("  and ")]
    assert len(shown) == min(n, 10) and "*** in database" not in result.stdout
    if n > 10:
        assert lines[-1] == f"  and {n - 10} more"
    assert "export of" not in result.stdout and "checked" not in lines[0].split("(")[0]
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "the database is damaged" in result.stderr


def test_check_help_says_it_verifies_the_database():
    result = run_cli("check", "--help")
    assert result.returncode == 0 and "Verify the database" in result.stdout


def test_problem_lines_sit_under_their_own_kind(healthy_db):
    from annotator.model import Span
    from annotator.store import Store

    with Store(healthy_db) as store:
        s = store.sentence_at("demo", 5).sentence
        a = Span(s.tokens[0].start, s.tokens[1].end, "ORG", 0, 1)
        b = Span(s.tokens[1].start, s.tokens[2].end, "GPE", 1, 2)
        store.add_decision(s, annotator="alice", answer="accept", spans=[a, b])
    check = run_cli("check", "demo", "--db", str(healthy_db), "--source", "alice")
    export = run_cli("export", "demo", "--db", str(healthy_db), "--source", "alice", "--out", str(healthy_db.parent / "x"),
                     "--labels", str(Path(__file__).parent.parent / "annotator" / "data" / "labels.yaml"))
    assert export.returncode == 0, export.stderr
    for text in (check.stdout, export.stderr):
        lines = text.splitlines()
        heading = lines.index(next(l for l in lines if l.startswith("  overlapping spans")))
        assert lines[heading + 1].startswith("    sentence 5: ORG"), text
        rare = lines.index(next(l for l in lines if l.startswith("  label with fewer than 10 examples")))
        assert lines[rare + 1].startswith("    label "), text
        assert any(l.startswith("  sentences without an accepted decision: ") for l in lines), text
        assert "annotated by nobody" not in text
