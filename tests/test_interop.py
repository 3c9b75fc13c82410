"""Import of annotated files into the store and export back out: round trips on every sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, SEED, SHARED_DATA, run_cli, shared_data
from annotator.store import Store


@pytest.fixture
def overlapping_labels(tmp_path) -> Path:
    """The default scheme with overlaps allowed (brat and doccano samples nest entities)."""
    path = tmp_path / "labels.yaml"
    text = (ROOT / "labels.yaml").read_text(encoding="utf-8").replace("allow_overlaps: false", "allow_overlaps: true")
    path.write_text(text, encoding="utf-8")
    return path


def span_set(examples):
    return sorted((e.text, s.start, s.end, s.label) for e in examples for s in e.spans)


def relation_set(examples):
    return sorted((e.text, r.head, r.child, r.label) for e in examples for r in e.relations)


def roundtrip(tmp_path, sample: Path, fmt: str, labels: Path, out_name: str, extra=()):
    db = tmp_path / "rt.db"
    result = run_cli("import", "rt", str(sample), "--db", str(db), "--add-labels", "--labels", str(labels), *extra)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    args = ["export", "rt", "--format", fmt, "--db", str(db), "--out", str(out), "--labels", str(labels), "--source", "all"]
    if fmt == "prodigy":
        args += ["--answers", "accept,reject,ignore"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return out


PRODIGY = ["prodigy_ner_fashion_brands_eval.jsonl", "prodigy_ner_drugs_eval.jsonl"]


@pytest.mark.parametrize("name", PRODIGY)
def test_prodigy_samples_round_trip(tmp_path, name, overlapping_labels):
    from annotator.formats import read_prodigy

    sample = shared_data("prodigy", name)
    out = roundtrip(tmp_path, sample, "prodigy", overlapping_labels, "rt.jsonl")
    original = list(read_prodigy(sample))
    exported = list(read_prodigy(out / "rt.jsonl"))
    assert sorted(e.text for e in exported) == sorted(e.text for e in original)
    assert span_set(exported) == span_set(original)
    assert relation_set(exported) == relation_set(original)
    by_text = {e.text: e for e in original}
    for e in exported:
        assert e.answer == by_text[e.text].answer
        assert [(t.start, t.end) for t in e.tokens] == [(t.start, t.end) for t in by_text[e.text].tokens]
        if "_input_hash" in (by_text[e.text].meta.get("_prodigy") or {}):
            assert e.meta["_prodigy"]["_input_hash"] == by_text[e.text].meta["_prodigy"]["_input_hash"]


def _doccano_samples():
    if not SHARED_DATA.exists():
        return []
    folder = SHARED_DATA / "doccano"
    names = [
        "doccano_docs_import_relation_extraction_example.jsonl",
        "doccano_docs_import_sequence_labeling_example.jsonl",
        "doccano_docs_export_sequence_labeling_example.jsonl",
        "doccano_docs_export_relation_extraction_example.json",
        "doccano_test_relation_extraction.jsonl",
        # doccano_test_sequence_labeling_overlapping.jsonl cuts a word: see test_doccano_sample_that_cuts_a_word
        "transformer_fixtures/labeling.jsonl",
        "transformer_fixtures/labeling_text_label.jsonl",
    ]
    return [n for n in names if (folder / n).exists()]


@pytest.mark.parametrize("name", _doccano_samples() or ["(absent)"])
def test_doccano_samples_round_trip(tmp_path, name, overlapping_labels):
    from annotator.formats import read_doccano

    sample = shared_data("doccano", name)
    out = roundtrip(tmp_path, sample, "doccano", overlapping_labels, "")
    original = list(read_doccano(sample))
    exported = [e for f in sorted(out.glob("*.jsonl")) for e in read_doccano(f)]
    assert sorted({e.text for e in exported}) == sorted({e.text for e in original})
    # the same span twice in one record is one span
    assert sorted(set(span_set(exported))) == sorted(set(span_set(original)))
    assert relation_set(exported) == relation_set(original)


def test_doccano_sample_that_cuts_a_word(tmp_path, overlapping_labels):
    """doccano's own test file labels the "e" of "exampleA": refused with file:line, or snapped."""
    sample = shared_data("doccano", "doccano_test_sequence_labeling_overlapping.jsonl")
    db = tmp_path / "cut.db"
    refused = run_cli("import", "cut", str(sample), "--db", str(db), "--add-labels", "--labels", str(overlapping_labels))
    assert refused.returncode == 2
    assert f"{sample}:1: span 0-1 'e' LOC ends inside the word 'exampleA'" in refused.stderr
    assert "Traceback" not in refused.stderr
    snapped = run_cli("import", "cut", str(sample), "--db", str(db), "--add-labels", "--labels", str(overlapping_labels),
                      "--snap", "expand")
    assert snapped.returncode == 0, snapped.stderr
    assert "snapped 2 spans that cut a word (--snap expand)" in snapped.stderr
    assert f"{sample}:1: 'e' → 'exampleA' LOC" in snapped.stderr
    with Store(db) as store:
        [(sentence, decision)] = list(store.current_decisions("cut", None))
        assert [(s.start, s.end, s.label) for s in decision.spans] == [(0, 8, "LOC")]


@pytest.mark.parametrize("folder", ["bionlp_st_2011_rel", "ncbi_disease_sample"])
def test_brat_samples_round_trip(tmp_path, folder, overlapping_labels):
    from annotator.formats import read_brat

    sample = shared_data("brat", folder)
    out = roundtrip(tmp_path, sample, "brat", overlapping_labels, "")
    original = {e.meta["name"]: e for e in read_brat(sample)}
    exported = {e.meta["name"]: e for e in read_brat(out / "brat")}
    assert set(exported) == set(original)
    for name, doc in original.items():
        assert exported[name].text == doc.text
        assert span_set([exported[name]]) == span_set([doc])
        assert relation_set([exported[name]]) == relation_set([doc])
    conf = (out / "brat" / "annotation.conf").read_text(encoding="utf-8")
    assert "[entities]" in conf and "[relations]" in conf


@pytest.mark.parametrize("name", ["allennlp_conll2003_fixture_iob1.txt", "hf_datasets_conll2003_dummy_train.txt",
                                  "hf_datasets_conll2003_dummy_valid.txt", "hf_datasets_conll2003_dummy_test.txt"])
def test_conll_samples_round_trip(tmp_path, name, overlapping_labels):
    from annotator.formats import read_conll

    sample = shared_data("conll", name)
    out = roundtrip(tmp_path, sample, "conll", overlapping_labels, "")
    original = list(read_conll(sample))
    exported = list(read_conll(out / "rt.conll"))
    assert [e.text for e in exported] == [e.text for e in original]
    assert span_set(exported) == span_set(original)


def test_unknown_labels_are_refused_with_the_list(tmp_path):
    sample = tmp_path / "x.jsonl"
    sample.write_text(json.dumps({"text": "Aspirin helps.", "spans": [{"start": 0, "end": 7, "label": "DRUG"}]}) + "\n")
    result = run_cli("import", "d", str(sample), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    assert "entity labels DRUG are not in the scheme" in result.stderr
    mapped = run_cli("import", "d", str(sample), "--db", str(tmp_path / "x.db"), "--map", "DRUG=ORG")
    assert mapped.returncode == 0, mapped.stderr
    stats = json.loads(run_cli("stats", "d", "--db", str(tmp_path / "x.db"), "--json").stdout)
    assert stats["spans_per_label"] == {"ORG": 1}


def _annotate_seed(db: Path):
    """Two annotators' decisions on the seed article, written through the store."""
    from annotator.model import Relation, Span
    from annotator.store import Store

    with Store(db) as store:
        for position in range(1, store.sentence_count("demo") + 1):
            sentence = store.sentence_at("demo", position).sentence
            spans = []
            for word, label in (("Umerov", "PERSON"), ("Ukraine", "GPE"), ("Russia", "GPE"), ("CNN", "ORG"),
                                ("Alex Marquardt", "PERSON"), ("ATACMS", "WEAPON"), ("Washington", "GPE")):
                start = sentence.text.find(word)
                if start < 0:
                    continue
                end = start + len(word)
                first = [i for i, t in enumerate(sentence.tokens) if t.start == start]
                last = [i for i, t in enumerate(sentence.tokens) if t.end == end]
                if first and last and not any(s.start < end and start < s.end for s in spans):
                    spans.append(Span(start, end, label, first[0], last[0]))
            relations = []
            keys = {s.label + sentence.text[s.start:s.end]: s for s in spans}
            if "PERSONUmerov" in keys and "PERSONAlex Marquardt" in keys:
                relations.append(Relation(keys["PERSONUmerov"].key, keys["PERSONAlex Marquardt"].key, "SPEAKS_TO"))
            if "PERSONAlex Marquardt" in keys and "ORGCNN" in keys:
                relations.append(Relation(keys["PERSONAlex Marquardt"].key, keys["ORGCNN"].key, "MEMBER_OF"))
            store.add_decision(sentence, annotator="alice", answer="accept", spans=spans, relations=relations)


def test_seed_docbin_export_with_relations_and_split(tmp_path):
    db = tmp_path / "s.db"
    assert run_cli("import", "demo", str(SEED), str(shared_data("news")), "--db", str(db), "--no-model").returncode == 0
    _annotate_seed(db)
    out = tmp_path / "exp"
    result = run_cli("export", "demo", "--format", "spacy", "--split", "0.5", "--seed", "3", "--db", str(db), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "python -m spacy train" in result.stdout
    import spacy
    from spacy.tokens import Doc, DocBin

    if not Doc.has_extension("rel"):
        Doc.set_extension("rel", default={})
    nlp = spacy.blank("en")
    train = list(DocBin().from_disk(out / "train.spacy").get_docs(nlp.vocab))
    dev = list(DocBin().from_disk(out / "dev.spacy").get_docs(nlp.vocab))
    assert train and dev, "--split 0.5 of 25 articles puts sentences on both sides"
    assert f"--output {Path('models') / 'demo'}" in result.stdout
    docs = train + dev
    from annotator.store import Store

    with Store(db) as store:
        assert len(docs) == store.sentence_count("demo")  # every sentence was accepted
    sides = {}
    for name, part in (("train", train), ("dev", dev)):
        for doc in part:
            sides.setdefault(doc.user_data["meta"]["article_id"], set()).add(name)
    assert all(len(s) == 1 for s in sides.values())  # never an article on both sides
    with_rel = [d for d in docs if any(v.get("SPEAKS_TO") == 1.0 for v in d._.rel.values())]
    assert with_rel, "relations readable from doc._.rel"
    doc = with_rel[0]
    ents = {e.start: e for e in doc.ents}
    for (head, child), scores in doc._.rel.items():
        assert head in ents and child in ents
        if scores.get("SPEAKS_TO") == 1.0:
            assert ents[head].text == "Umerov" and ents[child].text == "Alex Marquardt"
    # refuses to overwrite
    again = run_cli("export", "demo", "--format", "spacy", "--split", "0.5", "--seed", "3", "--db", str(db), "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    forced = run_cli("export", "demo", "--format", "spacy", "--split", "0.5", "--seed", "3", "--db", str(db), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr


@pytest.mark.slow
def test_spacy_train_runs_on_the_seed_export(tmp_path):
    db = tmp_path / "s.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    _annotate_seed(db)
    out = tmp_path / "exp"
    assert run_cli("export", "demo", "--format", "spacy", "--db", str(db), "--out", str(out)).returncode == 0
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(out / "config.cfg"), "--paths.train", str(out / "demo.spacy"),
         "--paths.dev", str(out / "demo.spacy"), "--training.max_steps", "5", "--training.eval_frequency", "5",
         "--output", str(tmp_path / "model")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_export_needs_a_source_when_several_annotators(tmp_path):
    db = tmp_path / "s.db"
    run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model")
    from annotator.store import Store

    with Store(db) as store:
        for name in ("alice", "bob"):
            store.add_decision(store.sentence_at("demo", 1).sentence, annotator=name, answer="accept")
    result = run_cli("export", "demo", "--format", "jsonl", "--db", str(db), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "several annotators (alice, bob)" in result.stderr
    ok = run_cli("export", "demo", "--format", "jsonl", "--source", "bob", "--db", str(db), "--out", str(tmp_path / "o"))
    assert ok.returncode == 0, ok.stderr
    records = [json.loads(line) for line in (tmp_path / "o" / "demo.jsonl").read_text().splitlines()]
    assert [r["_annotator_id"] for r in records] == ["bob"]


@pytest.mark.slow
def test_spacy_debug_data_accepts_the_drugs_and_fashion_export(tmp_path):
    """`spacy debug data` with the shared NER config reports no errors (only corpus-size warnings)."""
    import subprocess
    import sys

    drugs = shared_data("prodigy", "prodigy_ner_drugs_eval.jsonl")
    fashion = shared_data("prodigy", "prodigy_ner_fashion_brands_eval.jsonl")
    config = shared_data("spacy", "ner_config.cfg")
    db = tmp_path / "dd.db"
    assert run_cli("import", "dd", str(drugs), str(fashion), "--db", str(db), "--add-labels").returncode == 0
    out = tmp_path / "out"
    result = run_cli("export", "dd", "--format", "spacy", "--split", "0.2", "--db", str(db), "--out", str(out))
    assert result.returncode == 0, result.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "data", str(config), "--paths.train", str(out / "train.spacy"),
         "--paths.dev", str(out / "dev.spacy"), "--no-format"],
        capture_output=True, text=True, timeout=600,
    )
    errors = [line for line in debug.stdout.splitlines() if line.startswith("✘")]
    assert debug.returncode == 0, debug.stdout[-3000:] + debug.stderr[-2000:]
    assert errors == [], errors
    assert "No entities consisting of or starting/ending with whitespace" in debug.stdout
    assert "No overlap between training and evaluation data" in debug.stdout


def test_prodigy_review_output_imports_each_session_and_gold(tmp_path):
    """A `prodigy review` record: one decision per session of each version, plus the final as gold."""
    text = "Umerov met Austin in Washington."
    tokens = [{"text": w, "start": s, "end": s + len(w), "id": i} for i, (w, s) in
              enumerate([("Umerov", 0), ("met", 7), ("Austin", 11), ("in", 18), ("Washington", 21), (".", 31)])]
    person = {"start": 0, "end": 6, "token_start": 0, "token_end": 0, "label": "PERSON"}
    austin = {"start": 11, "end": 17, "token_start": 2, "token_end": 2, "label": "PERSON"}
    gpe = {"start": 21, "end": 31, "token_start": 4, "token_end": 4, "label": "GPE"}
    record = {
        "text": text, "tokens": tokens, "spans": [person, austin, gpe], "answer": "accept",
        "_annotator_id": "rev", "_session_id": "rev",
        "versions": [
            {"text": text, "tokens": tokens, "spans": [person, austin, gpe], "answer": "accept", "sessions": ["alice", "carol"], "default": True},
            {"text": text, "tokens": tokens, "spans": [person], "answer": "accept", "sessions": ["bob"], "default": False},
        ],
    }
    path = tmp_path / "review.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    db = tmp_path / "r.db"
    result = run_cli("import", "d", str(path), "--db", str(db))
    assert result.returncode == 0, result.stderr
    from annotator.store import Store

    with Store(db) as store:
        sentence = store.sentence_at("d", 1).sentence
        assert store.annotators("d") == ["alice", "bob", "carol"]
        assert len(store.current_decision(sentence.id, "alice").spans) == 3
        assert len(store.current_decision(sentence.id, "bob").spans) == 1
        gold = store.current_decision(sentence.id, "rev", gold=True)
        assert gold is not None and len(gold.spans) == 3
    agreement = json.loads(run_cli("agreement", "d", "--db", str(db), "--json").stdout)
    assert agreement["n_sentences"] == 1
    exported = run_cli("export", "d", "--format", "jsonl", "--db", str(db), "--out", str(tmp_path / "o"))
    assert exported.returncode == 0 and "from gold" in exported.stdout
    again = run_cli("import", "d", str(path), "--db", str(db))
    assert "0 decisions" in again.stdout


# -- issue #17: every path tells the same truth -----------------------------------------------------


def _cli_ok(*args):
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return result


def test_reimported_correction_is_what_show_export_and_stats_say(tmp_path):
    """Item 1, end to end: the second import of a record (LOC) supersedes the first (GPE) everywhere."""
    db = tmp_path / "c.db"
    record = {"text": "Paris is nice.", "spans": [{"start": 0, "end": 5, "label": "GPE"}], "_annotator_id": "dave"}
    first = _write(tmp_path / "first.jsonl", [record])
    second = _write(tmp_path / "second.jsonl", [{**record, "spans": [{"start": 0, "end": 5, "label": "LOC"}]}])
    _cli_ok("import", "c", str(first), "--db", str(db))
    _cli_ok("import", "c", str(second), "--db", str(db))
    shown = _cli_ok("show", "c", "--annotator", "dave", "--db", str(db)).stdout
    assert "Paris LOC" in shown and "GPE" not in shown
    _cli_ok("export", "c", "--format", "conll", "--db", str(db), "--out", str(tmp_path / "out"))
    conll = (tmp_path / "out" / "c.conll").read_text(encoding="utf-8")
    assert "B-LOC" in conll and "GPE" not in conll
    stats = _cli_ok("stats", "c", "--db", str(db)).stdout
    assert "LOC" in stats and "GPE" not in stats


def _write(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


MERKEL = {"text": "Angela Merkel met Biden.", "spans": [{"start": 0, "end": 12, "label": "PERSON"}]}


def test_span_that_cuts_a_word_is_refused_with_file_and_line(tmp_path):
    """Item 2: "Angela Merke" was stored silently; now the line is named and nothing is written."""
    db = tmp_path / "m.db"
    path = _write(tmp_path / "m.jsonl", [{"text": "Fine.", "spans": []}, MERKEL])
    result = run_cli("import", "m", str(path), "--db", str(db))
    assert result.returncode == 2
    assert f"{path}:2: span 0-12 'Angela Merke' PERSON ends inside the word 'Merkel'" in result.stderr
    assert "--snap expand|contract" in result.stderr and "Traceback" not in result.stderr
    with Store(db) as store:
        assert store.find_dataset("m") is None  # no empty dataset left behind (item 7)


@pytest.mark.parametrize(("mode", "expected"), [("expand", "Angela Merkel"), ("contract", "Angela")])
def test_snap_reports_and_exports_consistent_offsets(tmp_path, mode, expected):
    db = tmp_path / "m.db"
    path = _write(tmp_path / "m.jsonl", [MERKEL])
    result = _cli_ok("import", "m", str(path), "--db", str(db), "--snap", mode)
    assert f"snapped 1 span that cut a word (--snap {mode})" in result.stderr
    assert f"{path}:1: 'Angela Merke' → '{expected}' PERSON" in result.stderr
    _cli_ok("export", "m", "--format", "prodigy", "--db", str(db), "--out", str(tmp_path / "out"))
    [record] = [json.loads(line) for line in (tmp_path / "out" / "m.jsonl").read_text(encoding="utf-8").splitlines()]
    [span] = record["spans"]
    assert record["text"][span["start"] : span["end"]] == expected
    tokens = record["tokens"]
    assert tokens[span["token_start"]]["start"] == span["start"] and tokens[span["token_end"]]["end"] == span["end"]
    assert [t["text"] for t in tokens][:2] == ["Angela", "Merkel"]  # the word is not split into "Merke" + "l"


def test_snap_keeps_relations_and_rejects_unknown_mode(tmp_path):
    db = tmp_path / "m.db"
    record = {"text": "Merkel met Biden.", "entities": [
        {"id": 1, "start_offset": 0, "end_offset": 5, "label": "PERSON"},
        {"id": 2, "start_offset": 11, "end_offset": 16, "label": "PERSON"}],
        "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "MEETS"}]}
    path = _write(tmp_path / "d.jsonl", [record])
    bad = run_cli("import", "m", str(path), "--db", str(db), "--snap", "sideways", "--add-labels")
    assert bad.returncode == 2 and "--snap must be expand or contract" in bad.stderr
    _cli_ok("import", "m", str(path), "--db", str(db), "--snap", "expand", "--add-labels")
    with Store(db) as store:
        [(sentence, decision)] = list(store.current_decisions("m", None))
        assert [sentence.text[s.start:s.end] for s in decision.spans] == ["Merkel", "Biden"]
        assert [(r.head, r.child, r.label) for r in decision.relations] == [((0, 6), (11, 16), "MEETS")]


def _seed_db(tmp_path: Path, name="s.db") -> Path:
    db = tmp_path / name
    _cli_ok("import", "demo", str(SEED), "--db", str(db), "--no-model")
    return db


def _gold_on_some_sentences(db: Path, every: int = 3) -> int:
    """Gold decisions (reviewer "rita") on every third sentence of the seed article; returns how many."""
    from annotator.model import Span

    n = 0
    with Store(db) as store:
        for position in range(1, store.sentence_count("demo") + 1, every):
            sentence = store.sentence_at("demo", position).sentence
            spans = []
            start = sentence.text.find("Ukraine")
            first = [i for i, t in enumerate(sentence.tokens) if t.start == start]
            last = [i for i, t in enumerate(sentence.tokens) if t.end == start + 7]
            if start >= 0 and first and last:
                spans.append(Span(start, start + 7, "GPE", first[0], last[0]))
            store.add_decision(sentence, annotator="rita", answer="accept", spans=spans, relations=[], gold=True)
            n += 1
    return n


def _decisions(db: Path, dataset: str, gold: bool):
    with Store(db) as store:
        return sorted(
            (d.annotator, sentence.text, d.answer, tuple(sorted((s.start, s.end, s.label) for s in d.spans)))
            for sentence, d in store.current_decisions(dataset, None, gold=gold)
        )


def test_brat_round_trip_invents_no_decisions(tmp_path):
    """Item 3: the export lists the decided sentences (sidecar); nothing else becomes a decision."""
    db = _seed_db(tmp_path)
    n = _gold_on_some_sentences(db)
    out = tmp_path / "out"
    _cli_ok("export", "demo", "--format", "brat", "--db", str(db), "--out", str(out))
    [sidecar] = list((out / "brat").glob("*.annotator.json"))
    assert json.loads(sidecar.read_text(encoding="utf-8"))["gold"] is True
    fresh = tmp_path / "fresh.db"
    _cli_ok("import", "back", str(out / "brat"), "--db", str(fresh))
    back = _decisions(fresh, "back", gold=True)
    assert len(back) == n
    assert back == [(a, t, ans, spans) for a, t, ans, spans in _decisions(db, "demo", gold=True)]
    # into the dataset it came from: the article is there (same text), the decisions too
    same = _cli_ok("import", "demo", str(out / "brat"), "--db", str(db))
    assert "imported 0 articles, 0 sentences, 0 suggestions, 0 decisions" in same.stdout, same.stdout
    # a third-party .ann (no sidecar): only the sentences that carry a span become decisions
    sidecar.unlink()
    third = tmp_path / "third.db"
    _cli_ok("import", "third", str(out / "brat"), "--db", str(third), "--annotator", "ext")
    got = _decisions(third, "third", gold=False)
    assert got and all(spans for _, _, _, spans in got)
    assert len(got) == sum(1 for *_, spans in back if spans)


def test_reimported_prodigy_export_matches_existing_sentences_and_keeps_gold(tmp_path):
    """Item 4: our export carries the article hash and sentence index; re-importing adds nothing."""
    db = _seed_db(tmp_path)
    n = _gold_on_some_sentences(db)
    with Store(db) as store:
        articles, sentences = len(list(store.articles("demo"))), store.sentence_count("demo")
    for fmt in ("prodigy", "doccano", "spacy"):
        out = tmp_path / f"out-{fmt}"
        _cli_ok("export", "demo", "--format", fmt, "--db", str(db), "--out", str(out))
        exported = next(p for p in sorted(out.iterdir()) if p.suffix in (".jsonl", ".spacy"))
        again = _cli_ok("import", "demo", str(exported), "--db", str(db), "--add-labels")
        assert "imported 0 articles, 0 sentences, 0 suggestions, 0 decisions" in again.stdout, (fmt, again.stdout)
        with Store(db) as store:
            assert (len(list(store.articles("demo"))), store.sentence_count("demo")) == (articles, sentences)
        # into a fresh database: the gold flag and the reviewer survive
        fresh = tmp_path / f"fresh-{fmt}.db"
        _cli_ok("import", "back", str(exported), "--db", str(fresh), "--add-labels")
        assert [(a, t, s) for a, t, _, s in _decisions(fresh, "back", gold=True)] == [
            (a, t, s) for a, t, _, s in _decisions(db, "demo", gold=True)
        ], fmt
        assert len(_decisions(fresh, "back", gold=True)) == n


def test_exported_record_with_a_different_text_is_never_matched(tmp_path):
    db = _seed_db(tmp_path)
    _gold_on_some_sentences(db)
    out = tmp_path / "out"
    _cli_ok("export", "demo", "--format", "prodigy", "--db", str(db), "--out", str(out))
    records = [json.loads(line) for line in (out / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    changed = {"text": records[0]["text"] + " Edited.", "meta": records[0]["meta"]}
    path = _write(tmp_path / "changed.jsonl", [changed])
    result = _cli_ok("import", "demo", str(path), "--db", str(db))
    assert "imported 1 article, 1 sentence" in result.stdout


def test_skip_invalid_goes_past_an_empty_jsonl_and_failed_import_leaves_no_dataset(tmp_path):
    """Item 7."""
    db = tmp_path / "e.db"
    empty = tmp_path / "a-empty.jsonl"
    empty.write_text("", encoding="utf-8")
    good = _write(tmp_path / "b-good.jsonl", [{"text": "Paris is nice."}])
    failed = run_cli("import", "e", str(empty), "--db", str(db), "--no-suggest")
    assert failed.returncode == 2 and str(empty) in failed.stderr
    with Store(db) as store:
        assert store.find_dataset("e") is None
    skipped = _cli_ok("import", "e", str(empty), str(good), "--db", str(db), "--no-suggest", "--skip-invalid")
    assert "skipped" in skipped.stderr and str(empty) in skipped.stderr
    assert "imported 1 article" in skipped.stdout and "1 file skipped" in skipped.stdout


def test_duplicates_inside_a_file_are_told_apart_from_articles_already_there(tmp_path):
    """Item 11."""
    db = tmp_path / "d.db"
    path = _write(tmp_path / "dup.jsonl", [{"text": "Paris is nice."}, {"text": "Paris is nice."}, {"text": "Rome too."}])
    first = _cli_ok("import", "d", str(path), "--db", str(db), "--no-suggest")
    assert "imported 2 articles" in first.stdout and "1 duplicate article inside the same file skipped" in first.stdout
    assert "already" not in first.stdout
    second = _cli_ok("import", "d", str(path), "--db", str(db), "--no-suggest")
    # distinct articles already there, apart from the copies inside the file (defect 3 of the review)
    assert "2 articles were already in the dataset" in second.stdout
    assert "1 duplicate article inside the same file skipped" in second.stdout


def test_split_of_one_article_is_refused_and_messages_are_worded_right(tmp_path):
    """Item 9 and item 11: one article cannot give train and dev; the path is named once; plurals."""
    db = tmp_path / "o.db"
    path = _write(tmp_path / "one.jsonl", [{"text": "Paris is nice.", "spans": [{"start": 0, "end": 5, "label": "GPE"}]}])
    _cli_ok("import", "o", str(path), "--db", str(db))
    out = tmp_path / "out"
    refused = run_cli("export", "o", "--format", "spacy", "--split", "0.2", "--db", str(db), "--out", str(out))
    assert refused.returncode == 2
    assert "--split 0.2 needs accepted sentences from at least 2 articles" in refused.stderr and "from 1 article;" in refused.stderr
    assert not (out / "dev.spacy").exists()
    first = _cli_ok("export", "o", "--format", "spacy", "--db", str(db), "--out", str(out))
    assert f"--output {Path('models') / 'o'}" in first.stdout
    assert "label GPE has only 1 example" in first.stderr and "1 examples" not in first.stderr
    again = run_cli("export", "o", "--format", "spacy", "--db", str(db), "--out", str(out))
    assert again.returncode == 2 and again.stderr.count(str(out / "o.spacy")) == 1, again.stderr
    strict = run_cli("export", "o", "--format", "jsonl", "--strict", "--db", str(db), "--out", str(tmp_path / "strict"))
    assert strict.returncode == 2 and "label with fewer than 10 examples: 1" in strict.stderr, strict.stderr


def test_export_into_an_existing_empty_folder_force_and_partial_cleanup(tmp_path):
    """Item 12."""
    db = _seed_db(tmp_path)
    _gold_on_some_sentences(db)
    out = tmp_path / "out"
    (out / "brat").mkdir(parents=True)
    result = _cli_ok("export", "demo", "--format", "brat", "--db", str(db), "--out", str(out))
    assert f"wrote {out / 'brat'}" in result.stdout
    assert list((out / "brat").glob("*.ann")) and not (out / "brat.partial").exists()
    refused = run_cli("export", "demo", "--format", "brat", "--db", str(db), "--out", str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr
    stale = out / "brat" / "stale.ann"
    stale.write_text("", encoding="utf-8")
    _cli_ok("export", "demo", "--format", "brat", "--db", str(db), "--out", str(out), "--force")
    assert not stale.exists() and list((out / "brat").glob("*.ann")) and not (out / "brat.partial").exists()
    # an export that fails while writing leaves no .partial behind
    _cli_ok("export", "demo", "--format", "jsonl", "--db", str(db), "--out", str(out))
    from annotator.export import ExportPlan, run_export
    from annotator.labels import load_scheme

    plan = ExportPlan("demo", "jsonl", "gold", [], True, ("accept",), out)
    import annotator.formats as formats

    original = formats.write_prodigy

    def failing(items, path):
        Path(path).write_text("half", encoding="utf-8")
        raise OSError("disk full")

    formats.write_prodigy = failing
    try:
        with Store(db) as store, pytest.raises(OSError):
            run_export(store, load_scheme(ROOT / "labels.yaml"), plan, force=True)
    finally:
        formats.write_prodigy = original
    assert not (out / "demo.jsonl.partial").exists()
    assert (out / "demo.jsonl").read_text(encoding="utf-8") != "half"  # the previous export is intact


def test_brat_export_of_several_annotators_is_refused(tmp_path):
    """brat holds one version of each document: merging two annotators would invent decisions."""
    db = _seed_db(tmp_path)
    with Store(db) as store:
        sentence = store.sentence_at("demo", 1).sentence
        for name in ("alice", "bob"):
            store.add_decision(sentence, annotator=name, answer="accept", spans=[], relations=[])
    result = run_cli("export", "demo", "--format", "brat", "--source", "all", "--db", str(db), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "brat holds one version of each document, but these decisions are by alice, bob" in result.stderr
    _cli_ok("export", "demo", "--format", "brat", "--source", "bob", "--db", str(db), "--out", str(tmp_path / "out"))
    [sidecar] = list((tmp_path / "out" / "brat").glob("*.annotator.json"))
    assert json.loads(sidecar.read_text(encoding="utf-8"))["annotator"] == "bob"


WHITESPACE_EDGES = {"text": "Angela Merkel visited Paris.", "spans": [
    {"start": 21, "end": 27, "label": "GPE"}, {"start": 0, "end": 7, "label": "PERSON"}], "answer": "accept"}


def _with_tokens(record):
    from annotator.formats.align import tokenize

    tokens = [{"text": record["text"][t.start:t.end], "start": t.start, "end": t.end, "id": i}
              for i, t in enumerate(tokenize(record["text"]))]
    return {**record, "tokens": tokens}


@pytest.mark.parametrize("shape", ["prodigy", "prodigy-tokens", "doccano", "brat"])
def test_span_with_whitespace_at_an_edge_is_refused_or_trimmed(tmp_path, shape):
    """Defect 1: ' Paris' and 'Angela ' were stored silently and bent the tokens around them."""
    record = _with_tokens(WHITESPACE_EDGES) if shape == "prodigy-tokens" else WHITESPACE_EDGES
    if shape == "doccano":
        record = {"text": record["text"], "label": [[s["start"], s["end"], s["label"]] for s in record["spans"]]}
    if shape == "brat":
        path = tmp_path / "bratin"
        path.mkdir()
        (path / "a.txt").write_text(record["text"], encoding="utf-8")
        (path / "a.ann").write_text("T1\tGPE 21 27\t Paris\nT2\tPERSON 0 7\tAngela \n", encoding="utf-8")
        where = f"{path / 'a.ann'}:1"
    else:
        path = _write(tmp_path / "w.jsonl", [record])
        where = f"{path}:1"
    db = tmp_path / "w.db"
    refused = run_cli("import", "w", str(path), "--db", str(db))
    assert refused.returncode == 2, refused.stderr
    assert f"{where}: span 21-27 ' Paris' GPE starts with whitespace" in refused.stderr
    for mode in ("expand", "contract"):
        result = _cli_ok("import", f"w{mode}", str(path), "--db", str(db), "--snap", mode)
        assert f"{where}: ' Paris' → 'Paris' GPE" in result.stderr
        assert "'Angela ' → 'Angela' PERSON" in result.stderr
        out = tmp_path / f"out{mode}"
        _cli_ok("export", f"w{mode}", "--format", "prodigy", "--db", str(db), "--out", str(out))
        [exported] = [json.loads(line) for line in (out / f"w{mode}.jsonl").read_text(encoding="utf-8").splitlines()]
        assert sorted(exported["text"][s["start"]:s["end"]] for s in exported["spans"]) == ["Angela", "Paris"]
        assert all(t["text"].strip() for t in exported["tokens"])  # never a token split off on whitespace
        assert exported["tokens"][0]["ws"] is True


def test_snap_expand_of_a_span_starting_with_whitespace_is_what_spacy_gives(tmp_path):
    from annotator.formats.align import blank_english

    text = "Angela Merkel visited Paris."
    expected = blank_english().make_doc(text).char_span(21, 26, alignment_mode="expand").text
    path = _write(tmp_path / "p.jsonl", [{"text": text, "spans": [{"start": 21, "end": 26, "label": "GPE"}]}])
    result = _cli_ok("import", "p", str(path), "--db", str(tmp_path / "p.db"), "--snap", "expand")
    assert f"' Pari' → {expected!r} GPE" in result.stderr and expected == "Paris"


def test_brat_word_cut_names_the_ann_file_and_line(tmp_path):
    """Defect 2: the error named bratin/a.txt without a line."""
    path = tmp_path / "bratin"
    path.mkdir()
    (path / "a.txt").write_text("Angela Merkel visited Paris.", encoding="utf-8")
    (path / "a.ann").write_text("T1\tGPE 22 27\tParis\nT2\tPERSON 0 12\tAngela Merke\n", encoding="utf-8")
    result = run_cli("import", "b", str(path), "--db", str(tmp_path / "b.db"))
    assert result.returncode == 2
    assert f"{path / 'a.ann'}:2: span 0-12 'Angela Merke' PERSON ends inside the word 'Merkel'" in result.stderr


def test_reimport_counts_distinct_articles_already_there_apart_from_copies(tmp_path):
    """Defect 3: 3 copies of one text + 1 other, imported again, said "4 articles were already"."""
    path = _write(tmp_path / "dup.jsonl", [{"text": "Same text here."}] * 3 + [{"text": "Another text."}])
    db = tmp_path / "d.db"
    first = _cli_ok("import", "d", str(path), "--db", str(db), "--no-model")
    assert "2 duplicate articles inside the same file" in first.stdout + first.stderr
    again = _cli_ok("import", "d", str(path), "--db", str(db), "--no-model")
    output = again.stdout + again.stderr
    assert "2 articles were already in the dataset" in output
    assert "2 duplicate articles inside the same file" in output


def test_conll_export_imported_back_into_its_dataset_adds_nothing(tmp_path):
    """Defect 4: CoNLL carries no ids; its sentences are matched to stored ones by exact text."""
    db = tmp_path / "c.db"
    records = [
        {"text": "Angela Merkel visited Paris.", "spans": [{"start": 0, "end": 13, "label": "PERSON"},
                                                      {"start": 22, "end": 27, "label": "GPE"}],
         "answer": "accept", "_annotator_id": "alice"},
        {"text": "Biden stayed home.", "spans": [{"start": 0, "end": 5, "label": "PERSON"}], "answer": "accept",
         "_annotator_id": "alice"},
    ]
    _cli_ok("import", "c", str(_write(tmp_path / "p.jsonl", records)), "--db", str(db))
    out = tmp_path / "out"
    _cli_ok("export", "c", "--format", "conll", "--db", str(db), "--out", str(out))
    [conll] = list(out.rglob("*.conll")) or list(out.iterdir())

    def sizes():
        with Store(db) as store:
            return store.sentence_count("c"), len(list(store.decisions("c")))

    before = sizes()
    for extra in ([], ["--annotator", "alice"]):
        _cli_ok("import", "c", str(conll), "--db", str(db), *extra)
        assert sizes() == before
    # a changed annotation by a named annotator still goes to the matched sentence, no new article
    _cli_ok("import", "c", str(conll), "--db", str(db), "--annotator", "bob")
    sentences, decisions = sizes()
    assert sentences == before[0] and decisions == before[1] + 2
