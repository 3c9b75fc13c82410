"""The bulk path of annotated imports (``store/bulk.py``, ``annotated_import._import_units``)
writes exactly the rows the per-record path writes (``Store.add_article`` and
``Store.add_imported_decisions`` once per record): every table compared, times aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator import annotated_import
from annotator.annotated_import import _add_example_decisions, _common_tokens, _flatten, import_annotated
from annotator.errors import AnnotatorError
from annotator.model import Sentence
from annotator.segment import content_hash
from annotator.store import ImportCounts, Store

# (table, columns compared, order): every column but the generated times
TABLES = [
    ("datasets", "id, name, settings", "id"),
    ("articles", "id, dataset_id, source, title, text, content_hash, meta", "id"),
    ("sentences", 'id, dataset_id, article_id, idx, position, start, "end", text, tokens', "id"),
    ("decisions", "id, uid, dataset_id, sentence_id, annotator, session, answer, spans, relations, seconds, supersedes,"
                  " kind, gold, meta, split_at", "id"),
    ("current", "dataset_id, annotator, gold, sentence_id, decision_id, answer", "dataset_id, annotator, gold, sentence_id"),
    ("drafts", "dataset_id, annotator, sentence_id, spans, relations, split_at", "dataset_id, annotator, sentence_id"),
    ("suggestions", "id, sentence_id, source, spans, relations", "id"),
    ("sentence_search_state", "id, indexed_to", "id"),
]


def _per_record_units(store, dataset, path, by_text, scheme, annotator, splits) -> ImportCounts:
    """The sentence units one record at a time, as before the bulk path: ``Store.add_article``
    per new text, ``Store.add_imported_decisions`` per decision (``splits.pending`` stays None)."""
    from annotator.formats import tokenize

    counts = ImportCounts()
    for text, group in by_text.items():
        digest = content_hash(text)
        article_id = store.article_id_by_hash(dataset, digest)
        if article_id is None:
            given = [e.tokens for e in _flatten(group) if e.tokens is not None]
            tokens = _common_tokens(given, text) if given else tuple(tokenize(text, [s for e in _flatten(group) for s in e.spans]))
            first = group[0]
            title = str(first.meta.get("title") or text.strip().splitlines()[0][:120] if text.strip() else "")
            meta = {k: v for k, v in first.meta.items() if k != "title"}
            article_id, added = store.add_article(dataset, title=title, text=text, content_hash=digest,
                                                  source=f"{path}:{first.line or 1}", meta=meta, sentences=[(0, len(text), tokens)])
            counts.add(added)
            sentences = [Sentence(added.first_sentence_id, article_id, 0, added.first_position or 0, 0, len(text), text, tokens)]
            splits.created.add(added.first_sentence_id)
        else:
            sentences = store.article_sentences(article_id)
        for example in group:
            counts.decisions += _add_example_decisions(store, dataset, path, sentences, example, scheme, annotator, splits)
    return counts


def _tokens(text: str) -> list[dict]:
    tokens, start = [], None
    for i, ch in enumerate(text + " "):
        if ch.isalnum() and start is None:
            start = i
        elif not ch.isalnum():
            if start is not None:
                tokens.append((start, i))
                start = None
            if not ch.isspace() and i < len(text):
                tokens.append((i, i + 1))
    return [{"text": text[a:b], "start": a, "end": b, "id": n, "ws": b < len(text) and text[b] == " "} for n, (a, b) in enumerate(tokens)]


def _span(text: str, word: str, label: str, tokens: list[dict]) -> dict:
    start = text.index(word)
    end = start + len(word)
    first = next(t["id"] for t in tokens if t["start"] == start)
    last = next(t["id"] for t in tokens if t["end"] == end)
    return {"start": start, "end": end, "token_start": first, "token_end": last, "label": label}


def _record(text, spans=(), relations=(), who="alice", answer="accept", ts=1_700_000_000, **extra) -> dict:
    tokens = _tokens(text)
    made = [_span(text, w, label, tokens) for w, label in spans]
    by_word = {w: s for (w, _), s in zip(spans, made)}
    record = {"text": text, "tokens": tokens, "spans": made,
              "relations": [{"head": by_word[h]["token_end"], "child": by_word[c]["token_end"], "head_span": by_word[h],
                             "child_span": by_word[c], "label": label} for h, c, label in relations],
              "answer": answer, "_annotator_id": who, "_session_id": who, **extra}
    if ts is not None:
        record["_timestamp"] = ts
    return record


def _write(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


RECORDS = [
    _record("Umerov met Austin in Kyiv.", [("Umerov", "PERSON"), ("Austin", "PERSON"), ("Kyiv", "GPE")],
            [("Umerov", "Austin", "MEETS_WITH"), ("Umerov", "Kyiv", "LOCATED_IN")], meta={"source": "t", "n": 1}),
    _record("Umerov met Austin in Kyiv.", [("Umerov", "PERSON"), ("Kyiv", "GPE")], who="bob", ts=1_700_000_001),
    # the same annotator twice on one text: the second supersedes the first
    _record("Zelensky visited Paris.", [("Zelensky", "PERSON")], ts=1_700_000_005),
    _record("Zelensky visited Paris.", [("Zelensky", "PERSON"), ("Paris", "GPE")], ts=1_700_000_009),
    # an older one after a newer one: history only, supersedes the newest before it
    _record("Zelensky visited Paris.", [("Paris", "GPE")], ts=1_700_000_007),
    # the same record twice: one decision
    _record("NATO met in Brussels.", [("NATO", "ORG"), ("Brussels", "GPE")]),
    _record("NATO met in Brussels.", [("NATO", "ORG"), ("Brussels", "GPE")]),
    _record("Nothing here.", answer="reject", who="bob"),
    _record("No time given for this one.", [("time", "EVENT")], ts=None),
    _record("Ignored text.", answer="ignore", title="A title", meta={"title": "T"}),
    # prodigy review output: versions and a gold decision
    {**_record("Scholz spoke to Macron.", [("Scholz", "PERSON"), ("Macron", "PERSON")],
               [("Scholz", "Macron", "SPEAKS_TO")], who="rev"),
     "versions": [{**_record("Scholz spoke to Macron.", [("Scholz", "PERSON")], who="alice"), "sessions": ["alice", "bob"]}]},
]


def _dump(db: Path) -> dict[str, list[tuple]]:
    with Store(db) as store:
        tables = {name: [tuple(row) for row in store.conn.execute(f"SELECT {cols} FROM {name} ORDER BY {order}")]
                  for name, cols, order in TABLES}
        tables["search"] = [store.search("d", word) for word in ("Umerov", "Paris", "Brussels", "here", "Macron", "Kyiv")]
    return tables


def _import_both(tmp_path: Path, monkeypatch, scheme, files: list[Path], prepare=None, **options) -> tuple[dict, dict, list, list]:
    """Import ``files`` in order into two databases, by the bulk and by the per-record path."""
    dumps, all_counts = [], []
    for name, units in (("bulk", annotated_import._import_units), ("per-record", _per_record_units)):
        monkeypatch.setattr(annotated_import, "_import_units", units)
        db = tmp_path / f"{name}.db"
        counts = []
        with Store(db) as store:
            if prepare is not None:
                prepare(store)
            for path in files:
                c = import_annotated(store, "d", path, "prodigy", scheme, add_labels=True, **options)
                counts.append((c.articles, c.sentences, c.decisions, c.skipped_articles))
        dumps.append(_dump(db))
        all_counts.append(counts)
    return dumps[0], dumps[1], all_counts[0], all_counts[1]


def test_bulk_rows_equal_per_record_rows(tmp_path, monkeypatch, scheme) -> None:
    path = _write(tmp_path / "a.jsonl", RECORDS)
    bulk, per_record, bulk_counts, per_record_counts = _import_both(tmp_path, monkeypatch, scheme, [path, path])
    assert bulk == per_record
    assert bulk_counts == per_record_counts
    assert bulk_counts[1][2] == 0  # the same file again adds nothing
    assert len(bulk["decisions"]) == 12 and len(bulk["articles"]) == 7
    assert any(row[10] is not None for row in bulk["decisions"])  # the superseding chain is there
    assert bulk["sentence_search_state"] == [(1, len(bulk["sentences"]))]


def test_bulk_rows_equal_with_stored_sentences_and_drafts(tmp_path, monkeypatch, scheme) -> None:
    """Texts already in the dataset (their decisions supersede, their drafts end) next to new ones."""
    first = _write(tmp_path / "first.jsonl", RECORDS[:4])
    second = _write(tmp_path / "second.jsonl", [
        _record("Umerov met Austin in Kyiv.", [("Kyiv", "GPE")], ts=1_800_000_000),
        _record("A new sentence about Odesa.", [("Odesa", "GPE")]),
        _record("Zelensky visited Paris.", [("Zelensky", "PERSON")], who="carol"),
    ])

    def prepare(store: Store) -> None:
        import_annotated(store, "d", first, "prodigy", scheme, add_labels=True)
        sentence = store.sentence_at("d", 1).sentence
        store.save_draft(sentence, "alice", [], [])
        store.save_draft(sentence, "zed", [], [])

    bulk, per_record, bulk_counts, per_record_counts = _import_both(tmp_path, monkeypatch, scheme, [second], prepare)
    assert bulk == per_record
    assert bulk_counts == per_record_counts == [(1, 1, 3, 0)]
    assert [row[1] for row in bulk["drafts"]] == ["zed"]  # alice's draft ended with her decision


def test_bulk_rows_equal_for_our_own_export(tmp_path, monkeypatch, scheme) -> None:
    """An export imported back (records that name their stored sentence) next to new texts."""
    from annotator.export import plan_export, run_export

    source = _write(tmp_path / "source.jsonl", RECORDS)
    with Store(tmp_path / "exported.db") as store:
        import_annotated(store, "d", source, "prodigy", scheme, add_labels=True)
        plan = plan_export(store, "d", "jsonl", source="all", answers=("accept", "reject", "ignore"), out=tmp_path / "out")
        run_export(store, scheme, plan)
    exported = [json.loads(line) for line in (tmp_path / "out" / "d.jsonl").read_text().splitlines()]
    for record in exported:
        record["_annotator_id"] = record["_session_id"] = "second"
    again = _write(tmp_path / "again.jsonl", exported + [_record("One more text.", [("One", "DATE")])])
    bulk, per_record, bulk_counts, per_record_counts = _import_both(tmp_path, monkeypatch, scheme, [source, again])
    assert bulk == per_record
    assert bulk_counts == per_record_counts


def test_bad_record_writes_nothing(tmp_path, scheme) -> None:
    """A refused record late in a file leaves the database as it was (one transaction)."""
    records = RECORDS[:3] + [_record("Kyiv and Kyiv.", [("Kyiv", "GPE")])]
    records[-1]["spans"].append({"start": 0, "end": 3, "token_start": 0, "token_end": 0, "label": "GPE"})  # cuts "Kyiv"
    path = _write(tmp_path / "bad.jsonl", records)
    with Store(tmp_path / "bad.db") as store:
        with pytest.raises(AnnotatorError) as error:
            import_annotated(store, "d", path, "prodigy", scheme, add_labels=True)
        assert error.value.line == 4
        assert store.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


@pytest.mark.parametrize("text", ["a", "Umerov met  Austin.\n", "U.S.-made  weapons\t(ATACMS) ", "é ü  ß\u2028x\u00a0y", " lead"])
def test_prodigy_tokens_are_those_of_tokens_from_offsets(text: str) -> None:
    """The reader makes each token in its one pass; ``ws`` is what ``tokens_from_offsets`` says."""
    from annotator.formats.prodigy import _parse_tokens
    from annotator.model import tokens_from_offsets

    offsets = [(i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]
    offsets += [(i, i + 1) for i, ch in enumerate(text) if ch == "\n"]  # a whitespace token, as Prodigy keeps
    offsets.sort()
    given = [{"start": a, "end": b, "text": text[a:b]} for a, b in offsets]
    assert _parse_tokens(given, text, Path("x.jsonl"), 1) == list(tokens_from_offsets(text, offsets))
    assert _parse_tokens([], text, Path("x.jsonl"), 1) == []
