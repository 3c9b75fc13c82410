"""Import of annotated files into the store and export back out: round trips on every sample."""

from __future__ import annotations

import json
import shutil
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
    assert train and dev or (train or dev)
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
