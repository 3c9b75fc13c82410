"""Reliability: bad input never leaves a traceback or a changed database; concurrency; disk full;
hostile names. Each bad-input case asserts exactly one line on stderr naming the file (and line)."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SEED, run_cli


def dump(db: Path) -> list:
    """Everything in the database, to compare before and after: the schema and every row of every
    real table. (``iterdump`` cannot be used: it scans virtual tables, and the contentless search
    index refuses scans; its content lives in its shadow tables, which are real tables and dumped.)"""
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        rows: list = [conn.execute("PRAGMA user_version").fetchone()]
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master ORDER BY type, name").fetchall():
            rows.append((name, sql))
            if sql and sql.startswith("CREATE TABLE"):
                rows.extend(conn.execute(f'SELECT * FROM "{name}"').fetchall())
        return rows
    finally:
        conn.close()


@pytest.fixture
def base_db(tmp_path) -> Path:
    db = tmp_path / "base.db"
    result = run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    assert result.returncode == 0, result.stderr
    return db


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def prodigy(text: str, spans=(), relations=(), **extra) -> str:
    return json.dumps({"text": text, "spans": list(spans), "relations": list(relations), "answer": "accept", **extra})


LABELS_OK = (ROOT / "labels.yaml").read_text(encoding="utf-8")


def case_files(tmp_path: Path):
    """(id, argv builder, expected words in the message, expected location) for each bad input."""
    t = tmp_path
    cases = {}

    def add(name, argv, expect, where):
        cases[name] = (argv, expect, where)

    p = write(t, "latin1.txt", "Caf\xe9 owners\n".encode("latin-1"))
    add("non-utf8", ["import", "demo", str(p)], "not UTF-8", f"{p}:1")
    p = write(t, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    add("binary", ["import", "demo", str(p)], "binary file", str(p))
    p = write(t, "empty.txt", "")
    add("empty", ["import", "demo", str(p)], "empty file", str(p))
    add("not-found", ["import", "demo", str(t / "nope.txt")], "file not found", str(t / "nope.txt"))
    d = t / "nothing"
    d.mkdir()
    write(t, "nothing/notes.md", "# not an article")
    add("empty-folder", ["import", "demo", str(d)], "no usable files", str(d))
    p = write(t, "syntax.jsonl", '{"text": "One."}\n{"text": "Two."}\n{"text": "Three.",}\n')
    add("json-syntax", ["import", "demo", str(p)], "JSON syntax error", f"{p}:3")
    p = write(t, "notext.jsonl", '{"text": "One."}\n{"meta": {"id": 2}}\n')
    add("no-text", ["import", "demo", str(p)], 'no "text"', f"{p}:2")
    p = write(t, "zero.jsonl", '{"text": ""}\n')
    add("zero-chars", ["import", "demo", str(p)], "0 characters", f"{p}:1")
    p = write(t, "range.jsonl", prodigy("Kyiv is big.", [{"start": 0, "end": 40, "label": "GPE"}]) + "\n")
    add("span-out-of-range", ["import", "demo", str(p), "--format", "prodigy"], "out of range", f"{p}:1")
    p = write(t, "backwards.jsonl", prodigy("Kyiv is big.", [{"start": 4, "end": 0, "label": "GPE"}]) + "\n")
    add("span-end-before-start", ["import", "demo", str(p), "--format", "prodigy"], "before", f"{p}:1")
    p = write(t, "overlap.jsonl", prodigy("Kyiv City is big.", [{"start": 0, "end": 4, "label": "GPE"},
                                                              {"start": 0, "end": 9, "label": "GPE"}]) + "\n")
    add("overlap-not-allowed", ["import", "demo", str(p), "--format", "prodigy"], "overlap", f"{p}:1")
    p = write(t, "unknown.jsonl", prodigy("Aspirin helps.", [{"start": 0, "end": 7, "label": "DRUG"}]) + "\n")
    add("unknown-label", ["import", "demo", str(p), "--format", "prodigy"], "DRUG", str(p))
    p = write(t, "relation.jsonl", prodigy("Umerov met Austin.", [{"start": 0, "end": 6, "label": "PERSON"}],
                                          [{"head": 0, "child": 2, "label": "MEETS_WITH"}]) + "\n")
    add("relation-missing-span", ["import", "demo", str(p), "--format", "prodigy"], "relation", f"{p}:1")
    write(t, "brat/doc.txt", "Umerov met Austin.")
    ann = write(t, "brat/doc.ann", "T1\tPERSON 0 6\tUmerov\nR1\tMEETS_WITH Arg1:T1 Arg2:T9\n")
    add("brat-missing-T", ["import", "demo", str(t / "brat")], "T9", f"{ann}:2")
    p = write(t, "broken.conll", "Umerov\tB-PERSON\nmet\tO\nAustin\tI-PERSON\nfoo\tL-PERSON\n\n")
    add("conll-broken-tags", ["import", "demo", str(p), "--format", "conll"], "", str(p))
    bad_yaml = write(t, "l_syntax.yaml", LABELS_OK.replace("allow_overlaps: false", "allow_overlaps: [false"))
    add("labels-yaml-syntax", ["import", "demo", str(SEED), "--labels", str(bad_yaml)], "YAML", str(bad_yaml))
    unknown_key = write(t, "l_key.yaml", LABELS_OK.replace("allow_overlaps: false", "allow_overlaps: false\ncolour_theme: dark"))
    add("labels-unknown-key", ["import", "demo", str(SEED), "--labels", str(unknown_key)], "colour_theme", str(unknown_key))
    dup_label = write(t, "l_dup.yaml", LABELS_OK.replace("  - name: ORG\n", "  - name: PERSON\n", 1))
    add("labels-duplicate-label", ["import", "demo", str(SEED), "--labels", str(dup_label)], "PERSON", str(dup_label))
    dup_hotkey = write(t, "l_hot.yaml", LABELS_OK.replace("    hotkey: o\n", "    hotkey: p\n", 1))
    add("labels-duplicate-hotkey", ["import", "demo", str(SEED), "--labels", str(dup_hotkey)], "hotkey", str(dup_hotkey))
    rel_unknown = write(t, "l_rel.yaml", LABELS_OK.replace("    child: [ROLE]\n", "    child: [ROLES]\n", 1))
    add("labels-relation-unknown-label", ["import", "demo", str(SEED), "--labels", str(rel_unknown)], "ROLES", str(rel_unknown))
    junk = write(t, "junk.db", "this is not sqlite at all")
    add("db-not-sqlite", ["stats", "demo", "--db", str(junk)], "not a SQLite file", str(junk))
    add("db-missing-folder", ["import", "demo", str(SEED), "--db", str(t / "no" / "where.db")], "does not exist", str(t / "no" / "where.db"))
    add("unknown-dataset", ["stats", "nosuch"], "no dataset 'nosuch'", "")
    add("bad-overlap", ["dataset", "set", "demo", "overlap=many"], "overlap", "")
    p = write(t, "bad.json", '{"text": "x", "entities": [{"id": 1, "start_offset": 5, "end_offset": 2, "label": "ORG"}]}\n')
    add("doccano-bad-span", ["import", "demo", str(p), "--format", "doccano"], "", str(p))
    return cases


CASE_NAMES = [
    "non-utf8", "binary", "empty", "not-found", "empty-folder", "json-syntax", "no-text", "zero-chars",
    "span-out-of-range", "span-end-before-start", "overlap-not-allowed", "unknown-label", "relation-missing-span",
    "brat-missing-T", "conll-broken-tags", "labels-yaml-syntax", "labels-unknown-key", "labels-duplicate-label",
    "labels-duplicate-hotkey", "labels-relation-unknown-label", "db-not-sqlite", "db-missing-folder",
    "unknown-dataset", "bad-overlap", "doccano-bad-span",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_one_line_exit_2_db_unchanged(tmp_path, base_db, case):
    argv, expect, where = case_files(tmp_path)[case]
    if "--db" not in argv:
        argv = [*argv, "--db", str(base_db)]
    before = dump(base_db)
    result = run_cli(*argv)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert expect in lines[0]
    if where:
        assert where in lines[0], lines[0]
    assert dump(base_db) == before


def test_newer_schema_refused_and_unchanged(tmp_path, base_db):
    conn = sqlite3.connect(base_db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = dump(base_db)
    result = run_cli("import", "demo", str(SEED), "--db", str(base_db))
    assert result.returncode == 2
    from annotator.store.schema import SCHEMA_VERSION

    assert result.stderr.strip().splitlines() == [f"annotator: {base_db}: written by a newer annotator (schema version 99, this one knows up to {SCHEMA_VERSION}); upgrade annotator to open it"]
    assert dump(base_db) == before


def test_export_refuses_to_overwrite(tmp_path, base_db):
    from annotator.store import Store

    with Store(base_db) as store:
        store.add_decision(store.sentence_at("demo", 1).sentence, annotator="alice", answer="accept")
    out = tmp_path / "out"
    assert run_cli("export", "demo", "--format", "jsonl", "--db", str(base_db), "--out", str(out)).returncode == 0
    before = (out / "demo.jsonl").read_bytes()
    result = run_cli("export", "demo", "--format", "jsonl", "--db", str(base_db), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"annotator: {out / 'demo.jsonl'}: exists already; pass --force to overwrite"]
    assert (out / "demo.jsonl").read_bytes() == before


AS_USER = r"""
import contextlib, io, os, sys
import annotator.cli
uid, gid, warm_db, db, *args = sys.argv[1:]
# The interpreter and its standard library may live where the unprivileged user cannot read
# (root's home): run the same command once as root on a writable copy, so that every module it
# imports is loaded, then drop privileges and run it for real.
sys.argv = ["annotator", *(a.replace("{db}", warm_db) for a in args)]
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        annotator.cli.main()
    except SystemExit:
        pass
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(int(gid))
    os.setuid(int(uid))
assert os.geteuid() == int(uid) and os.geteuid() != 0
sys.argv = ["annotator", *(a.replace("{db}", db) for a in args)]
annotator.cli.main()
"""


def run_cli_as(user: tuple[int, int], warm_db: Path, db: Path, *args: str) -> subprocess.CompletedProcess:
    """``annotator ARGS`` (``{db}`` standing for ``db``) in a child that drops to ``user`` (when we are root)
    first, working in ``db``'s folder (the clone may sit in a folder only its owner can enter)."""
    env = {k: v for k, v in os.environ.items() if k != "ANNOTATOR_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", AS_USER, str(user[0]), str(user[1]), str(warm_db), str(db), *args],
                          cwd=db.parent, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def read_only_db(base_db, unprivileged_folder):
    """A copy of base_db the unprivileged user can read but not write, in a folder it can reach."""
    import shutil

    user, folder = unprivileged_folder
    db = folder / "ro.db"
    conn = sqlite3.connect(base_db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copy(base_db, db)
    db.chmod(0o444)
    # the scheme the commands read from their working folder (the package's own may be out of reach)
    shutil.copy(ROOT / "labels.yaml", folder / "labels.yaml")
    (folder / "labels.yaml").chmod(0o444)
    shutil.copy(SEED, folder / SEED.name)
    (folder / SEED.name).chmod(0o444)
    return user, db


def test_read_only_database(read_only_db, base_db):
    user, db = read_only_db
    before = dump(db)
    # reading works: a WAL database whose -shm file cannot be created is read as immutable
    stats = run_cli_as(user, base_db, db, "stats", "demo", "--db", "{db}", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["sentences"] == 22
    shown = run_cli_as(user, base_db, db, "show", "demo", "--db", "{db}", "--limit", "2")
    assert shown.returncode == 0 and "sentences 1-2 of 22" in shown.stdout, shown.stderr
    result = run_cli_as(user, base_db, db, "import", "demo", str(db.parent / SEED.name), "--db", "{db}", "--no-model")
    assert result.returncode == 2, result.stderr
    # (the file is readable, not writable)
    assert result.stderr.strip().splitlines() == [f"annotator: {db}: the database is read-only (check the file's permissions)"]
    assert dump(db) == before
    closed = any(not (parent.stat().st_mode & 0o001) for parent in base_db.parents)
    if os.geteuid() == 0 and closed:  # the child really is unprivileged: root's pytest folder is closed to it
        hidden = run_cli_as(user, base_db, base_db, "stats", "demo", "--db", "{db}")
        assert hidden.returncode == 2, hidden.stderr
        assert hidden.stderr.strip().splitlines() == [f"annotator: {base_db}: cannot read the database: Permission denied"]


def test_disk_full_leaves_database_intact(tmp_path, base_db):
    """A file-size limit makes SQLite fail mid-import: one line, exit 2, nothing half-written."""
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as fh:
        for i in range(3000):
            fh.write(json.dumps({"text": f"Article {i}\n\n" + " ".join(f"Word{i}x{j} said." for j in range(40))}) + "\n")
    before = dump(base_db)
    limit = base_db.stat().st_size + 200_000 + (Path(str(base_db) + "-wal").stat().st_size if Path(str(base_db) + "-wal").exists() else 0)

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "annotator", "import", "demo", str(big), "--db", str(base_db), "--no-model"],
                            cwd=ROOT, capture_output=True, text=True, preexec_fn=limit_file_size, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "disk full" in lines[0], result.stderr
    conn = sqlite3.connect(base_db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert dump(base_db) == before


HOSTILE = ["o'brien; DROP TABLE decisions; --", 'say "hi"', "x' OR '1'='1", "-- comment", "semi;colon"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_stored_verbatim(tmp_path, name):
    db = tmp_path / "h.db"
    result = run_cli("import", "--db", str(db), "--no-model", "--", name, str(SEED))
    assert result.returncode == 0, result.stderr
    from annotator.model import Span
    from annotator.store import Store

    with Store(db) as store:
        sentence = store.sentence_at(name, 3).sentence
        store.add_decision(sentence, annotator=name, answer="accept",
                           spans=[Span(0, 7, name.replace(" ", "_"), 0, 0)])
        assert store.annotators(name) == [name]
        assert [d.name for d in store.datasets()] == [name]
        assert store.stats(name)["spans_per_label"] == {name.replace(" ", "_"): 1}
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "decisions" in tables
    stats = run_cli("stats", "--db", str(db), "--json", "--", name)
    assert stats.returncode == 0 and json.loads(stats.stdout)["dataset"] == name


@pytest.mark.parametrize("name", ["../evil", "a/b", "", " padded "])
def test_invalid_names_are_refused(tmp_path, name):
    result = run_cli("import", "--db", str(tmp_path / "n.db"), "--no-model", "--", name, str(SEED))
    assert result.returncode == 2 and "invalid dataset name" in result.stderr


def test_export_file_names_from_titles_are_sanitised(tmp_path):
    article = tmp_path / "evil.txt"
    article.write_text("../../../../tmp/owned\n\nUmerov met Austin in Washington.", encoding="utf-8")
    db = tmp_path / "e.db"
    assert run_cli("import", "d", str(article), "--db", str(db), "--no-model").returncode == 0
    from annotator.store import Store

    with Store(db) as store:
        for p in (1, 2):
            store.add_decision(store.sentence_at("d", p).sentence, annotator="a", answer="accept")
    out = tmp_path / "out"
    result = run_cli("export", "d", "--format", "brat", "--db", str(db), "--out", str(out))
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert all(not part.startswith("..") for w in written for part in w.split("/"))
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
    assert not Path("/tmp/owned.txt").exists()


def test_unusual_text_imports(tmp_path):
    text = ("Control\x07chars and \u202eRTL override\u202c; עברית ומילים; Cafe\u0301 "
            "emoji 🇺🇦👩‍👩‍👧 end.\n\n" + "long " * 20_000 + "end.")
    path = tmp_path / "odd.txt"
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "o.db"
    result = run_cli("import", "d", str(path), "--db", str(db), "--no-model")
    assert result.returncode == 0, result.stderr
    from annotator.store import Store

    with Store(db) as store:
        article = next(store.articles("d"))
        for sentence in store.article_sentences(article.id):
            assert article.text[sentence.start : sentence.end] == sentence.text
        assert max(len(s.text) for s in store.article_sentences(article.id)) > 100_000


WORKER = r"""
import sys
from annotator.store import Store
db, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Store(db) as store:
    total = store.sentence_count("demo")
    sentences = [store.sentence_at("demo", p).sentence for p in range(1, total + 1)]
    for i in range(n):
        store.add_decision(sentences[i % total], annotator=name, answer="accept" if i % 3 else "reject", session=name)
print("ok")
"""


@pytest.mark.slow
def test_eight_writers_plus_export_and_agreement(tmp_path, base_db):
    n = 1000
    writers = [subprocess.Popen([sys.executable, "-c", WORKER, str(base_db), f"w{i}", str(n)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(8)]
    readers = []
    import time

    deadline = time.monotonic() + 60
    # wait until at least two writers have decided something, so agreement and export have data to read
    while time.monotonic() < deadline:
        conn = sqlite3.connect(base_db, timeout=30)
        try:
            writing = conn.execute("SELECT COUNT(DISTINCT annotator) FROM decisions").fetchone()[0]
        finally:
            conn.close()
        if writing >= 2:
            break
        time.sleep(0.05)
    for _ in range(3):
        readers.append(subprocess.run([sys.executable, "-m", "annotator", "agreement", "demo", "--db", str(base_db), "--json"],
                                      cwd=ROOT, capture_output=True, text=True))
        readers.append(subprocess.run([sys.executable, "-m", "annotator", "export", "demo", "--format", "jsonl", "--source", "all",
                                       "--db", str(base_db), "--out", str(tmp_path / "x"), "--force"],
                                      cwd=ROOT, capture_output=True, text=True))
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and out.strip() == "ok", err
        assert "locked" not in err
    for result in readers:
        assert "locked" not in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 0, (result.args, result.stderr)
    for agreement in readers[0::2]:
        data = json.loads(agreement.stdout)
        assert len(data["annotators"]) >= 2 and set(data["annotators"]) <= {f"w{i}" for i in range(8)}
        assert data["n_sentences"] >= 1
    for export in readers[1::2]:
        assert "exported" in export.stdout and "from all as jsonl" in export.stdout, export.stdout
    records = [json.loads(line) for line in (tmp_path / "x" / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records and all(r["answer"] == "accept" for r in records)
    conn = sqlite3.connect(base_db)
    for i in range(8):
        assert conn.execute("SELECT COUNT(*) FROM decisions WHERE annotator = ?", (f"w{i}",)).fetchone()[0] == n
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_unreachable_labels_and_inputs_are_one_line(monkeypatch, tmp_path):
    """A working folder or an input this user may not look into (stat fails) is reported on one line,
    not a traceback and not a silent fall-back to the default scheme."""
    from annotator.errors import InputError, LabelSchemeError
    from annotator.importer import expand_paths
    from annotator.labels import find_scheme

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_file", denied)
    with pytest.raises(LabelSchemeError, match="cannot read: Permission denied"):
        find_scheme(cwd=tmp_path)
    monkeypatch.setattr(Path, "exists", denied)
    with pytest.raises(InputError, match="cannot read: Permission denied"):
        expand_paths([tmp_path / "article.txt"])
