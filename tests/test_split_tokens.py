"""Spans inside a token (#12 item 3): a decision carries its own split tokens ("U.S." of
"U.S.-made"), stored compactly, validated, undone, merged, verified, exported aligned in every
format (and clean for ``spacy debug data``), and kept by imports that cut a token at a non-letter."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from annotator.annotated_import import import_annotated
from annotator.errors import AnnotationError, InputError
from annotator.export import ExportPlan, check_export, choose_source, run_export
from annotator.model import (
    Relation,
    Span,
    refinement_problem,
    split_for_spans,
    split_tokens,
    tokens_from_offsets,
)
from annotator.store import Store, merge_into

US_MADE = 9  # the seed's sentence with "U.S.-made weapons"


def _us(sentence):
    """The sentence's tokens split after "U.S." and the span of "U.S." on them."""
    start = sentence.text.index("U.S.-made")
    split, (span,) = split_for_spans(sentence.text, sentence.tokens, [Span(start, start + 4, "GPE", -1, -1)])
    return split, span


def _russia(sentence, split):
    start = sentence.text.index("Russia.")
    index = next(i for i, t in enumerate(split) if t.start == start)
    return Span(start, start + 6, "GPE", index, index)


def test_split_helpers():
    text = "U.S.-made jets, pro-Russian."
    tokens = tokens_from_offsets(text, [(0, 9), (10, 14), (14, 15), (16, 27), (27, 28)])
    split = split_tokens(text, tokens, [4, 20, 16, 10])  # 16 and 10 are boundaries already: nothing changes there
    assert [text[t.start:t.end] for t in split] == ["U.S.", "-made", "jets", ",", "pro-", "Russian", "."]
    assert [t.ws for t in split] == [False, True, False, True, False, False, False]
    assert refinement_problem(text, tokens, split) is None
    assert refinement_problem(text, tokens, tokens) is None
    merged = tokens_from_offsets(text, [(0, 9), (10, 15), (16, 27), (27, 28)])
    assert "not covered" in refinement_problem(text, tokens, merged)
    moved = tokens_from_offsets(text, [(0, 4), (5, 9), (10, 14), (14, 15), (16, 27), (27, 28)])
    assert "not covered" in refinement_problem(text, tokens, moved)
    with pytest.raises(ValueError, match="not inside a token"):
        split_tokens("a  b", tokens_from_offsets("a  b", [(0, 1), (3, 4)]), [2])  # between the two spaces
    assert split_for_spans(text, tokens, [Span(0, 9, "X", 0, 0)]) == (None, [Span(0, 9, "X", 0, 0)])


def test_decision_with_split_tokens_is_stored_validated_and_read_back(seeded_store):
    store = seeded_store
    sentence = store.sentence_at("demo", US_MADE).sentence
    split, us = _us(sentence)
    russia = _russia(sentence, split)
    with pytest.raises(AnnotationError, match="does not end on a token boundary"):
        store.add_decision(sentence, annotator="alice", answer="accept", spans=[us])  # no split: refused
    with pytest.raises(AnnotationError, match="not covered"):
        store.add_decision(sentence, annotator="alice", answer="accept", spans=[us], tokens=split[:-1])
    relation = Relation(us.key, russia.key, "LOCATED_IN")
    decision = store.add_decision(sentence, annotator="alice", answer="accept", spans=[us, russia],
                                  relations=[relation], tokens=split)
    assert decision.tokens == split and decision.tokens_of(sentence) == split
    assert store.decision(decision.id).tokens == split
    assert store.current_decision(sentence.id, "alice").tokens == split
    [(_, current)] = list(store.current_decisions("demo"))
    assert current.tokens == split and current.spans == (us, russia)
    # stored as the one offset where the sentence's token is split; the sentence is unchanged
    assert store.conn.execute("SELECT split_at FROM decisions WHERE id = ?", (decision.id,)).fetchone()[0] == f"[{us.end}]"
    assert store.sentence(sentence.id).tokens == sentence.tokens
    # tokens equal to the sentence's are the sentence's (NULL)
    plain = store.add_decision(sentence, annotator="bob", answer="accept", spans=[], tokens=sentence.tokens)
    assert plain.tokens is None and store.decision(plain.id).tokens is None
    report = store.verify("demo")
    assert report.ok, report.problems


def test_undo_restores_the_split_tokens(seeded_store):
    store = seeded_store
    sentence = store.sentence_at("demo", US_MADE).sentence
    split, us = _us(sentence)
    first = store.add_decision(sentence, annotator="alice", answer="accept", spans=[us], tokens=split)
    second = store.add_decision(sentence, annotator="alice", answer="reject")
    assert second.tokens is None
    restored = store.undo(second)
    assert restored.tokens == split and restored.spans == first.spans
    assert store.current_decision(sentence.id, "alice").tokens == split
    again = store.undo(first)  # the undo row holds first's content, so first can be undone too
    assert again.answer is None and again.tokens is None


def test_draft_keeps_its_split_tokens(seeded_store):
    store = seeded_store
    sentence = store.sentence_at("demo", US_MADE).sentence
    split, us = _us(sentence)
    assert store.draft_tokens(sentence, "alice") == sentence.tokens  # no draft: the sentence's tokens
    with pytest.raises(AnnotationError):
        store.save_draft(sentence, "alice", [us], [])
    store.save_draft(sentence, "alice", [us], [], tokens=split)
    assert store.draft(sentence.id, "alice") == ((us,), ())
    assert store.draft_tokens(sentence, "alice") == split
    store.save_draft(sentence, "alice", [], [])
    assert store.draft_tokens(sentence, "alice") == sentence.tokens


def test_merge_carries_split_tokens(seeded_store, tmp_path, scheme):
    from annotator.importer import ArticleImporter, ArticleInput
    from .conftest import SEED

    source = seeded_store
    sentence = source.sentence_at("demo", US_MADE).sentence
    split, us = _us(sentence)
    made = source.add_decision(sentence, annotator="alice", answer="accept", spans=[us], tokens=split)
    with Store(tmp_path / "target.db") as target:
        target.ensure_dataset("demo")
        ArticleImporter(target, "demo").import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))])
        report = merge_into(target, source.path)
        assert report.decisions == 1 and not report.conflicts
        [(merged_sentence, merged)] = list(target.current_decisions("demo"))
        assert merged.uid == made.uid and merged.tokens == split and merged.spans == (us,)
        assert target.verify("demo").ok


def test_verify_checks_spans_against_the_decisions_own_tokens(seeded_store):
    store = seeded_store
    sentence = store.sentence_at("demo", US_MADE).sentence
    split, us = _us(sentence)
    store.add_decision(sentence, annotator="alice", answer="accept", spans=[us], tokens=split)
    # rows written behind the store's back: a span inside a token without a split, a split in the wrong place
    for uid, split_at in (("raw-1", None), ("raw-2", f"[{us.end - 1}]")):
        store.conn.execute(
            "INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, answer, spans, created_at, split_at)"
            " VALUES (?, 1, ?, ?, 'accept', ?, 1.0, ?)",
            (uid, sentence.id, uid, json.dumps([us.to_dict()]), split_at),
        )
    report = store.verify("demo")
    assert report.counts == {"span off token boundaries": 2}
    assert all(p.position == US_MADE for p in report.problems)


def test_migration_adds_the_column_to_an_older_database(tmp_path):
    from annotator.store.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for migration in MIGRATIONS[:-1]:
        migration(conn)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.execute("INSERT INTO datasets (name, created_at) VALUES ('old', 1.0)")
    conn.execute("INSERT INTO articles (dataset_id, text, content_hash, created_at) VALUES (1, 'U.S.-made jets.', 'h', 1.0)")
    conn.execute("INSERT INTO sentences (dataset_id, article_id, idx, position, start, \"end\", text, tokens)"
                 " VALUES (1, 1, 0, 1, 0, 15, 'U.S.-made jets.', '[0,9,10,14,14,15]')")
    conn.execute("INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, answer, spans, created_at)"
                 " VALUES ('u1', 1, 1, 'alice', 'accept', '[{\"start\":10,\"end\":14,\"label\":\"X\",\"token_start\":1,\"token_end\":1}]', 1.0)")
    conn.execute("COMMIT")
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        sentence = store.sentence_at("old", 1).sentence
        old = store.current_decision(sentence.id, "alice")
        assert old.tokens is None and old.spans[0].start == 10
        split, spans = split_for_spans(sentence.text, sentence.tokens, [Span(0, 4, "GPE", -1, -1)])
        new = store.add_decision(sentence, annotator="alice", answer="accept", spans=spans, tokens=split)
        assert store.decision(new.id).tokens == split
        assert store.verify("old").ok


# -- exports ----------------------------------------------------------------------------------


def _export(store, scheme, fmt: str, out: Path) -> Path:
    chosen, names, gold = choose_source(store, "demo", "alice")
    run_export(store, scheme, ExportPlan("demo", fmt, chosen, names, gold, ("accept",), out), force=True)
    return out


@pytest.fixture
def split_store(seeded_store):
    """The seed with alice's "U.S." (inside "U.S.-made") and "Russia" in sentence 9, related."""
    sentence = seeded_store.sentence_at("demo", US_MADE).sentence
    split, us = _us(sentence)
    russia = _russia(sentence, split)
    seeded_store.add_decision(sentence, annotator="alice", answer="accept", spans=[us, russia],
                              relations=[Relation(us.key, russia.key, "LOCATED_IN")], tokens=split)
    return seeded_store, sentence, us, russia


def test_exports_hold_the_span_inside_the_token_exactly(split_store, scheme, tmp_path):
    store, sentence, us, russia = split_store
    # Prodigy JSONL: exact offsets, token list from the split tokens, token_start/end consistent
    [record] = [json.loads(line) for line in (_export(store, scheme, "prodigy", tmp_path / "p") / "demo.jsonl").read_text().splitlines()]
    tokens = record["tokens"]
    assert [t["text"] for t in tokens if "U.S." in t["text"] or "made" in t["text"]] == ["U.S.", "-made"]
    for span in record["spans"]:
        assert tokens[span["token_start"]]["start"] == span["start"] and tokens[span["token_end"]]["end"] == span["end"]
    assert {(s["start"], s["end"], record["text"][s["start"]:s["end"]]) for s in record["spans"]} == {
        (us.start, us.end, "U.S."), (russia.start, russia.end, "Russia")}
    assert [r["head"] for r in record["relations"]] == [us.token_end]
    # doccano: exact offsets
    [line] = (_export(store, scheme, "doccano", tmp_path / "d") / "alice.jsonl").read_text().splitlines()
    doccano = json.loads(line)
    assert {doccano["text"][e["start_offset"]:e["end_offset"]] for e in doccano["entities"]} == {"U.S.", "Russia"}
    # brat: article offsets
    brat = _export(store, scheme, "brat", tmp_path / "b") / "brat"
    [ann] = list(brat.glob("*.ann"))
    text = ann.with_suffix(".txt").read_text(encoding="utf-8")
    t_lines = [line.split("\t") for line in ann.read_text(encoding="utf-8").splitlines() if line.startswith("T")]
    for _, kind, covered in t_lines:
        _, start, end = kind.split()
        assert text[int(start):int(end)] == covered
    assert sorted(covered for *_, covered in t_lines) == ["Russia", "U.S."]
    # CoNLL: the split tokens are rows
    conll = (_export(store, scheme, "conll", tmp_path / "c") / "demo.conll").read_text(encoding="utf-8").splitlines()
    assert "U.S.\tB-GPE" in conll and "-made\tO" in conll
    # DocBin: the Doc is built from the split tokens, with correct spaces
    from spacy.tokens import DocBin

    from annotator.formats.align import shared_vocab

    [doc] = list(DocBin().from_disk(_export(store, scheme, "spacy", tmp_path / "s") / "demo.spacy").get_docs(shared_vocab()))
    assert doc.text == sentence.text
    assert [(e.text, e.label_) for e in doc.ents] == [("U.S.", "GPE"), ("Russia", "GPE")]
    index = doc.ents[0].start
    assert (doc[index].text, doc[index].whitespace_, doc[index + 1].text, doc[index + 1].whitespace_) == ("U.S.", "", "-made", " ")
    # nothing to report: check and the export's own problems see no misaligned span
    counts, _ = check_export(store, "demo", "alice").problem_counts, None
    assert "off token boundaries" not in counts


def test_spacy_debug_data_finds_no_misaligned_tokens(split_store, scheme, tmp_path):
    """``spacy debug data`` on the exported DocBin with the exported config: no misaligned tokens;
    the same data re-tokenised from its text (the config without gold_preproc) has one, so the
    check can fail."""
    store, *_ = split_store
    out = _export(store, scheme, "spacy", tmp_path / "s")
    config = (out / "config.cfg").read_text(encoding="utf-8")
    assert config.count("gold_preproc = true") == 2
    data = str(out / "demo.spacy")

    def debug(config_path: Path) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "spacy", "debug", "data", str(config_path), "--paths.train", data, "--paths.dev", data],
            capture_output=True, text=True, timeout=300,
        )
        return result.stdout + result.stderr

    report = debug(out / "config.cfg")
    assert "total word(s) in the data" in report, report  # it got as far as the token check
    assert "misaligned" not in report
    retokenised = tmp_path / "retokenised.cfg"
    retokenised.write_text(config.replace("gold_preproc = true", "gold_preproc = false"), encoding="utf-8")
    assert "1 misaligned tokens in the training data" in debug(retokenised)


# -- imports ----------------------------------------------------------------------------------


def _doccano(tmp_path: Path, text: str, spans) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": text, "label": [list(s) for s in spans]}) + "\n", encoding="utf-8")
    return path


def test_import_keeps_a_span_inside_a_stored_token_by_splitting_it(seeded_store, scheme, tmp_path):
    store = seeded_store
    sentence = store.sentence_at("demo", US_MADE).sentence
    start = sentence.text.index("U.S.-made")
    record = {"text": sentence.text, "tokens": [{"start": t.start, "end": t.end} for t in split_tokens(sentence.text, sentence.tokens, [start + 4])],
              "spans": [{"start": start, "end": start + 4, "label": "GPE"}], "_annotator_id": "carol",
              "meta": {"article_hash": store.article(sentence.article_id).content_hash, "sentence_index": sentence.index}}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    messages: list[str] = []
    counts = import_annotated(store, "demo", path, "prodigy", scheme, on_message=messages.append)
    assert counts.decisions == 1 and counts.articles == 0  # onto the stored sentence
    decision = store.current_decision(sentence.id, "carol")
    assert [sentence.text[s.start:s.end] for s in decision.spans] == ["U.S."]
    assert decision.tokens == split_tokens(sentence.text, sentence.tokens, [start + 4])
    assert store.sentence(sentence.id).tokens == sentence.tokens  # the sentence for everyone is unchanged
    assert messages[0].endswith("kept 1 span inside a token by splitting the token for its decision")
    assert "'U.S.' GPE inside 'U.S.-made'" in messages[1]
    assert store.verify("demo").ok


def test_import_refuses_a_cut_between_letters_unless_snap_split(store, scheme, tmp_path):
    from annotator.importer import ArticleImporter, ArticleInput

    store.ensure_dataset("x")
    text = "The exampleA test ran."
    ArticleImporter(store, "x").import_articles([ArticleInput(text, "a")])
    path = _doccano(tmp_path, text, [(5, 12, "ORG")])  # "xampleA": cuts "e|xampleA"
    with pytest.raises(InputError, match="starts inside the word 'exampleA'.*--snap split"):
        import_annotated(store, "x", path, "doccano", scheme, annotator="dan", add_labels=True)
    assert list(store.current_decisions("x")) == []
    messages: list[str] = []
    import_annotated(store, "x", path, "doccano", scheme, annotator="dan", add_labels=True, snap="split",
                     on_message=messages.append)
    [(sentence, decision)] = list(store.current_decisions("x"))
    assert [sentence.text[s.start:s.end] for s in decision.spans] == ["xampleA"]
    assert [sentence.text[t.start:t.end] for t in decision.tokens][:3] == ["The", "e", "xampleA"]
    assert any("kept 1 span inside a token" in m for m in messages)
    assert store.verify("x").ok


def test_prodigy_records_of_one_text_share_the_tokens_common_to_all(store, scheme, tmp_path):
    text = "Ukraine received U.S.-made jets."
    whole = [(0, 7), (8, 16), (17, 26), (27, 31), (31, 32)]
    split = [(0, 7), (8, 16), (17, 21), (21, 26), (27, 31), (31, 32)]
    records = [
        {"text": text, "tokens": [{"start": a, "end": b} for a, b in split], "spans": [{"start": 17, "end": 21, "label": "GPE"}],
         "_annotator_id": "alice"},
        {"text": text, "tokens": [{"start": a, "end": b} for a, b in whole], "spans": [{"start": 0, "end": 7, "label": "GPE"}],
         "_annotator_id": "bob"},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    import_annotated(store, "y", path, "prodigy", scheme)
    sentence = store.sentence_at("y", 1).sentence
    assert [(t.start, t.end) for t in sentence.tokens] == whole
    alice = store.current_decision(sentence.id, "alice")
    assert [(t.start, t.end) for t in alice.tokens] == split
    assert store.current_decision(sentence.id, "bob").tokens is None
    assert store.verify("y").ok


def test_conll_export_of_split_tokens_goes_back_onto_its_sentence(split_store, scheme, tmp_path):
    """CoNLL rows "U.S." "-made" are the stored sentence's "U.S.-made": our export imported back
    adds nothing, and imported under another name gives that annotator the same split decision."""
    store, sentence, us, russia = split_store
    conll = _export(store, scheme, "conll", tmp_path / "c") / "demo.conll"
    articles = len(list(store.articles("demo")))
    counts = import_annotated(store, "demo", conll, "conll", scheme)
    assert (counts.articles, counts.decisions) == (0, 0)
    counts = import_annotated(store, "demo", conll, "conll", scheme, annotator="zed")
    assert (counts.articles, counts.decisions) == (0, 1) and len(list(store.articles("demo"))) == articles
    zed = store.current_decision(sentence.id, "zed")
    assert {(s.start, s.end) for s in zed.spans} == {us.key, russia.key}
    assert zed.tokens == store.current_decision(sentence.id, "alice").tokens
    assert store.verify("demo").ok
