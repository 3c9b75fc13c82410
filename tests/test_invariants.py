"""Every path tells the same truth (issue 17): property tests over random histories.

A small dataset (two short articles, spaCy's blank tokenizer through the importer) goes through a
random sequence of decisions by three annotators (random answers, spans on token boundaries or,
in some decisions, inside a token that the decision splits, relations), undos, re-decisions, drafts (never decisions), annotated imports (Prodigy records, matched to the stored sentence
by our export's meta or added as new one-sentence articles, with conflicting versions and
re-imports of earlier ones, gold records), reviewers' gold decisions, `review --auto` and merges of
a second database. Afterwards:

- ``current`` names each (dataset, annotator, gold, sentence)'s latest decision row, computed from
  scratch over ``decisions`` (newest ``created_at`` per key, ties by id); that model is "the truth";
- ``show --annotator`` (and ``--gold``), ``stats`` (``Store.stats`` and ``stats --json``),
  ``export`` (jsonl with every answer, CoNLL per annotator and gold), ``agreement --json`` (its
  per-annotator counts), the versions ``review`` loads (``gold.load_versions``) and
  ``check`` each read back exactly that model.

Everything runs in-process (Typer's CliRunner, the same code as the console script).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from .conftest import ROOT

pytest.importorskip("typer")

LABELS = ROOT / "labels.yaml"
DATASET = "inv"
ANNOTATORS = ("alice", "bob", "carol")
REVIEWERS = ("rev", "auto")
ENTITY_LABELS = ("PERSON", "ORG", "GPE", "LOC")
ANSWERS = ("accept", "reject", "ignore")
ARTICLES = (
    "Talks in Paris\n\nAngela Merkel met Emmanuel Macron in Paris on Friday. Berlin sent the Bundeswehr to Kyiv.\n\n"
    "The United Nations said Ukraine asked NATO for help.",
    "Yahoo! Comedy launches\n\nThe New Yahoo! Comedy Channel opened in London. Fans in Boston cheered.",
)


def event(what: str) -> None:
    """Label the example for ``--hypothesis-show-statistics`` (a no-op outside a property test)."""
    from hypothesis import event as record
    from hypothesis.errors import InvalidArgument

    try:
        record(what)
    except InvalidArgument:
        pass


# -- the dataset --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    """The imported dataset, built once; every example works on a copy."""
    from annotator.importer import ArticleImporter, ArticleInput
    from annotator.store import Store

    path = tmp_path_factory.mktemp("invariants") / "base.db"
    with Store(path) as store:
        store.ensure_dataset(DATASET)
        ArticleImporter(store, DATASET).import_articles([ArticleInput(text, f"a{i}.txt") for i, text in enumerate(ARTICLES)])
    return path


def copy_db(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def build_spans(sentence, picks, relate: bool):
    """Non-overlapping spans on token boundaries from ``(start, length, label)`` picks, and maybe a relation."""
    from annotator.model import Relation, span_at_tokens

    n = len(sentence.tokens)
    taken: set[int] = set()
    spans = []
    for start, length, label in picks:
        start %= n
        end = min(n - 1, start + length - 1)
        if taken & set(range(start, end + 1)):
            continue
        taken |= set(range(start, end + 1))
        spans.append(span_at_tokens(sentence.text, sentence.tokens, start, end, label))
    relations = []
    if relate and len(spans) >= 2:
        relations.append(Relation(spans[0].key, spans[1].key, "LOCATED_IN"))
    return spans, relations


def build_split_spans(sentence, picks, relate: bool, cut: int | None):
    """``build_spans``, and with ``cut`` the first span with a token of two or more characters at
    its start (even ``cut``) or end (odd) moved inside that token, as a decision that splits it makes
    ("U.S." of "U.S.-made"): ``(spans, relations, tokens)``, the spans indexed on the decision's
    split ``tokens`` (``None`` when nothing was cut)."""
    from annotator.model import Relation, Span, split_for_spans

    spans, relations = build_spans(sentence, picks, relate)
    if cut is None:
        return spans, relations, None
    for i, span in enumerate(spans):
        at_start = cut % 2 == 0
        token = sentence.tokens[span.token_start if at_start else span.token_end]
        length = token.end - token.start
        if length < 2:
            continue
        offset = token.start + 1 + (cut // 2) % (length - 1)  # strictly inside the token
        start, end = (offset, span.end) if at_start else (span.start, offset)
        moved = Span(start, end, span.label, span.token_start, span.token_end)
        spans[i] = moved
        relations = [
            Relation(moved.key if r.head == span.key else r.head, moved.key if r.child == span.key else r.child, r.label)
            for r in relations
        ]
        event("a decision splits a token")
        break
    tokens, spans = split_for_spans(sentence.text, sentence.tokens, spans)
    return spans, relations, tokens


# -- operations ---------------------------------------------------------------------------------

span_picks = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 3), st.sampled_from(ENTITY_LABELS)), max_size=3
)
cuts = st.none() | st.integers(0, 40)  # a span boundary inside a token (build_split_spans), or none
decide_op = st.tuples(
    st.just("decide"), st.sampled_from(ANNOTATORS), st.integers(1, 9), st.sampled_from(ANSWERS), span_picks, st.booleans(),
    cuts,
)
gold_op = st.tuples(
    st.just("gold"), st.sampled_from(REVIEWERS[:1]), st.integers(1, 9), st.sampled_from(ANSWERS), span_picks, st.booleans(),
    cuts,
)
undo_op = st.tuples(st.just("undo"), st.integers(0, 40))
prodigy_op = st.tuples(
    st.just("prodigy"), st.sampled_from(ANNOTATORS + REVIEWERS[:1]), st.integers(1, 9), st.sampled_from(ANSWERS),
    span_picks, st.sampled_from(["matched", "new"]),
)
brat_op = st.tuples(st.just("brat"), st.sampled_from(ANNOTATORS), st.integers(1, 9), span_picks, st.booleans())
auto_op = st.tuples(st.just("auto_review"), st.sampled_from(["auto", "carol"]))  # carol also annotates
merge_op = st.tuples(st.just("merge"), st.lists(decide_op | undo_op | gold_op, min_size=1, max_size=5), st.booleans())
roundtrip_op = st.tuples(st.just("roundtrip"), st.sampled_from(["all", "gold"]))
draft_op = st.tuples(st.just("draft"), st.sampled_from(ANNOTATORS), st.integers(1, 9), span_picks, st.booleans(), cuts)
operations = st.lists(
    st.one_of(decide_op, decide_op, undo_op, gold_op, prodigy_op, brat_op, auto_op, merge_op, roundtrip_op, draft_op), min_size=4, max_size=20
)


def sentence_at(store, position: int):
    count = store.sentence_count(DATASET)
    return store.sentence_at(DATASET, (position - 1) % count + 1).sentence


def apply_op(store, db: Path, work: Path, op, scheme) -> None:
    kind = op[0]
    if kind in ("decide", "gold"):
        _, who, position, answer, picks, relate, cut = op
        sentence = sentence_at(store, position)
        spans, relations, tokens = build_split_spans(sentence, picks, relate, cut)  # a reject may keep spans too (Prodigy's do)
        store.add_decision(
            sentence, annotator=who, answer=answer, spans=spans, relations=relations, gold=kind == "gold", tokens=tokens
        )
    elif kind == "undo":  # the n-th current decision of the database, whoever wrote it
        keys = store.conn.execute("SELECT annotator, gold, sentence_id FROM current ORDER BY decision_id").fetchall()
        if keys:
            who, gold, sentence_id = keys[op[1] % len(keys)]
            store.undo(store.current_decision(sentence_id, who, gold=bool(gold)))
    elif kind == "prodigy":
        _, who, position, answer, picks, where = op
        import_prodigy(store, work, who, sentence_at(store, position), answer, picks, where, scheme)
    elif kind == "brat":
        _, who, position, picks, relate = op
        import_brat(store, work, who, sentence_at(store, position), picks, relate, scheme)
    elif kind == "draft":  # unsaved edits: never a decision for any reader
        _, who, position, picks, relate, cut = op
        sentence = sentence_at(store, position)
        spans, relations, tokens = build_split_spans(sentence, picks, relate, cut)
        store.save_draft(sentence, who, spans, relations, tokens=tokens)
    elif kind == "roundtrip":
        reimport_own_export(store, db, work, op[1], scheme)
    elif kind == "auto_review":
        from annotator.cli import run_auto_review

        run_auto_review(dataset=DATASET, db=db, reviewer=op[1], method="majority")
    elif kind == "merge":
        from annotator.store import Store, merge_into

        # a new copy of the base, or (again) the last one merged: work continued there and is merged anew
        earlier = sorted(work.glob("other-*.db"))
        if op[2] and earlier:
            other = earlier[-1]
            event("merged a source again after more work")
        else:
            other = work / f"other-{len(earlier):03d}.db"
            copy_db(BASE_PATH[0], other)
        with Store(other) as second:
            for sub in op[1]:
                apply_op(second, other, work, sub, scheme)
        merge_into(store, other)
    else:  # pragma: no cover
        raise AssertionError(op)


def import_prodigy(store, work: Path, who: str, sentence, answer: str, picks, where: str, scheme) -> None:
    """One Prodigy record for a stored sentence: with our export's meta (matched to the sentence)
    or bare (a one-sentence article of its own); a reviewer's record carries ``meta.gold``."""
    from annotator.annotated_import import import_annotated

    spans, _ = build_spans(sentence, picks, False)
    meta: dict = {}
    if where == "matched":
        article = store.article(sentence.article_id)
        meta = {"article_hash": article.content_hash, "sentence_index": sentence.index}
    if who in REVIEWERS:
        meta["gold"] = True
    record = {
        "text": sentence.text,
        "tokens": [
            {"text": sentence.text[t.start : t.end], "start": t.start, "end": t.end, "id": i, "ws": t.ws}
            for i, t in enumerate(sentence.tokens)
        ],
        "spans": [
            {"start": s.start, "end": s.end, "token_start": s.token_start, "token_end": s.token_end, "label": s.label}
            for s in spans
        ],
        "answer": answer,
        "_annotator_id": who,
        "_session_id": who,
        "meta": meta,
    }
    path = work / f"import-{len(list(work.glob('import-*')))}.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    import_annotated(store, DATASET, path, "prodigy", scheme)


def import_brat(store, work: Path, who: str, sentence, picks, relate: bool, scheme) -> None:
    """A brat document of the sentence's whole article with spans (and maybe a relation) in that sentence."""
    from annotator.annotated_import import import_annotated

    spans, relations = build_spans(sentence, picks, relate)
    text = store.article(sentence.article_id).text
    folder = work / f"brat-{len(list(work.glob('brat-*')))}"
    folder.mkdir()
    (folder / "doc.txt").write_text(text, encoding="utf-8", newline="")
    lines = []
    ids = {}
    for i, span in enumerate(spans, 1):
        a, b = sentence.start + span.start, sentence.start + span.end
        ids[span.key] = f"T{i}"
        lines.append(f"T{i}\t{span.label} {a} {b}\t{text[a:b]}")
    for i, relation in enumerate(relations, 1):
        lines.append(f"R{i}\t{relation.label} Arg1:{ids[relation.head]} Arg2:{ids[relation.child]}")
    (folder / "doc.ann").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    import_annotated(store, DATASET, folder, "brat", scheme, annotator=who)


def reimport_own_export(store, db: Path, work: Path, source: str, scheme) -> None:
    """Export ``source`` as Prodigy JSONL (every answer) and import the file back into the dataset:
    the records find their sentences by the export's meta, and the decisions stay what they were."""
    from annotator.annotated_import import import_annotated

    gold = source == "gold"
    before = {k: v for k, v in decided(latest_rows(db)).items()}
    if not any(k[1] == gold for k in before):
        return
    out = work / f"roundtrip-{len(list(work.glob('roundtrip-*')))}"
    cli("export", DATASET, "--db", str(db), "--labels", str(LABELS), "--format", "prodigy", "--source", source,
        "--answers", "accept,reject,ignore", "--out", str(out))
    event(f"re-imported own export of {source}")
    sentences = store.sentence_count(DATASET)
    # A decision that splits a token between two letters imports back without --snap: the record's
    # own tokens are cut there (test_own_export_of_a_split_decision_imports_back).
    split = any(v[4] for k, v in latest_rows(db).items() if k[1] == gold and v[1] is not None)
    if split:
        event("re-imported an export with split decisions")
    import_annotated(store, DATASET, out / f"{DATASET}.jsonl", "prodigy", scheme)
    assert store.sentence_count(DATASET) == sentences, "the export's records were added as new sentences"
    assert decided(latest_rows(db)) == before


BASE_PATH: list[Path] = []


def SCHEME():
    from functools import cache

    from annotator.labels import load_scheme

    global SCHEME
    SCHEME = cache(lambda: load_scheme(LABELS))
    return SCHEME()


# -- the model: the latest decision row of each key ---------------------------------------------


def latest_rows(db: Path) -> dict[tuple[str, bool, int], tuple[int, str | None, tuple, tuple, tuple[int, ...]]]:
    """``(annotator, gold, sentence_id) -> (decision id, answer, spans, relations, cuts)`` of the latest
    row; ``cuts``: the offsets where the decision splits the sentence's tokens (empty: it does not)."""
    from annotator.store import decode_relations, decode_spans

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT d.annotator, d.gold, d.sentence_id, d.id, d.answer, d.spans, d.relations, d.split_at FROM decisions d"
            " WHERE d.id = (SELECT d2.id FROM decisions d2 WHERE d2.dataset_id = d.dataset_id"
            " AND d2.annotator = d.annotator AND d2.gold = d.gold AND d2.sentence_id = d.sentence_id"
            " ORDER BY d2.created_at DESC, d2.id DESC LIMIT 1)"
        ).fetchall()
    conn.close()
    return {
        (a, bool(g), sid): (did, answer, tuple((s.start, s.end, s.label) for s in decode_spans(spans)),
                            tuple(sorted((r.head, r.child, r.label) for r in decode_relations(relations))),
                            tuple(json.loads(split_at)) if split_at else ())
        for a, g, sid, did, answer, spans, relations, split_at in rows
    }


def decided(model, gold: bool | None = None) -> dict[tuple[str, bool, int], tuple[str, tuple]]:
    """The model's decisions that count (answer not None): key -> (answer, spans)."""
    return {k: (v[1], v[2]) for k, v in model.items() if v[1] is not None and (gold is None or k[1] == gold)}


# -- readers ------------------------------------------------------------------------------------


def cli(*args: str) -> str:
    from typer.testing import CliRunner

    from annotator.cli import app

    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "3000", "NO_COLOR": "1"}, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def show_cells(output: str) -> dict[int, str]:
    """``position -> decision cell`` from ``show``'s table (continuation lines joined with newlines)."""
    cells: dict[int, list[str]] = {}
    last = None
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        parts = [p.strip() for p in line.split("│")[1:-1]]
        if parts[0]:
            last = int(parts[0])
            cells[last] = [parts[2]]
        elif last is not None:
            cells[last].append(parts[2])
    return {k: "\n".join(x for x in v if x) for k, v in cells.items()}


def expected_cell(sentence, answer: str, spans) -> str:
    return (f"{answer}: " + "".join(f"{sentence.text[a:b]} {label}  " for a, b, label in spans)).strip()


def check_everything(db: Path, work: Path) -> None:
    from annotator.gold import load_versions
    from annotator.formats.conll import read_conll
    from annotator.model import split_tokens
    from annotator.store import Store

    model = latest_rows(db)
    truth = decided(model)
    event(f"decided keys: {min(len(truth), 10)}{'+' if len(truth) >= 10 else ''}")
    event("has gold" if decided(model, gold=True) else "no gold")
    event("has undone keys" if len(truth) < len(model) else "no undone keys")

    with Store(db, create=False, readonly=True) as store:
        sentences = {s.id: s for s in store.iter_sentences(DATASET)}
        by_key = {(store.article(s.article_id).content_hash, s.index): s.id for s in sentences.values()}
        names = sorted({k[0] for k in model if not k[1]})
        reviewers = sorted({k[0] for k in model if k[1]})

        # 1. current names each key's latest decision, with its answer
        with sqlite3.connect(db) as conn:
            current = {
                (a, bool(g), sid): (did, answer)
                for a, g, sid, did, answer in conn.execute("SELECT annotator, gold, sentence_id, decision_id, answer FROM current")
            }
        conn.close()
        assert current == {k: (v[0], v[1]) for k, v in model.items()}

        # 2. the store's readers
        read = {}
        for gold in (False, True):
            for sentence, d in store.current_decisions(DATASET, gold=gold):
                read[(d.annotator, gold, sentence.id)] = (d.answer, tuple((s.start, s.end, s.label) for s in d.spans))
        assert read == truth
        for name in names:
            assert store.progress(DATASET, name) == sum(1 for k in truth if k[0] == name and not k[1])
        assert store.annotators(DATASET) == names
        assert store.reviewers(DATASET) == reviewers
        assert store.verify(DATASET).ok

        # 3. review and agreement load the same versions
        versions = {}
        for item in load_versions(store, DATASET):
            for name, d in item.versions.items():
                versions[(name, False, item.sentence_id)] = (d.answer, tuple((s.start, s.end, s.label) for s in d.spans))
        assert versions == decided(model, gold=False)
        from annotator.review import review_queue

        queued = {
            (name, False, item.sentence_id): (d.answer, tuple((s.start, s.end, s.label) for s in d.spans))
            for item in review_queue(load_versions(store, DATASET), include_agreed=True)
            for name, d in item.sentence.versions.items()
        }
        multi = Counter(k[2] for k in decided(model, gold=False))
        assert queued == {k: v for k, v in decided(model, gold=False).items() if multi[k[2]] >= 2}
        check_fast_path(store)

    # 4. stats, in-process and as the CLI prints it
    with Store(db, create=False, readonly=True) as store:
        stats = store.stats(DATASET)
    assert json.loads(cli("stats", DATASET, "--db", str(db), "--json")) == stats
    per_answer: dict[str, Counter] = {}
    gold_per_answer: dict[str, Counter] = {}
    spans_per: dict[str, Counter] = {}
    gold_spans: Counter = Counter()
    for (name, gold, _sid), (answer, spans) in truth.items():
        (gold_per_answer if gold else per_answer).setdefault(name, Counter())[answer] += 1
        if answer == "accept":
            if gold:
                gold_spans.update(label for _, _, label in spans)
            else:
                spans_per.setdefault(name, Counter()).update(label for _, _, label in spans)
    assert stats["decisions_per_annotator"] == {k: dict(v) for k, v in per_answer.items()}
    assert stats["gold_decisions_per_reviewer"] == {k: dict(v) for k, v in gold_per_answer.items()}
    assert stats["spans_per_label_per_annotator"] == {k: dict(v) for k, v in spans_per.items() if v}
    assert stats["gold_spans_per_label"] == dict(gold_spans)
    assert stats["gold_sentences"] == len({k[2] for k in truth if k[1]})
    assert stats["history_rows"] == _count(db, "SELECT COUNT(*) FROM decisions")

    positions = {sid: s.position for sid, s in sentences.items()}
    total = len(sentences)

    # 5. show --annotator NAME (and --gold for reviewers)
    for name in names + reviewers:
        gold = name in reviewers
        args = ["show", DATASET, "--db", str(db), "--limit", str(total), "--annotator", name] + (["--gold"] if gold else [])
        cells = show_cells(cli(*args))
        assert set(cells) == set(range(1, total + 1))
        for sid, sentence in sentences.items():
            got = truth.get((name, gold, sid))
            want = expected_cell(sentence, *got) if got else "undecided"
            assert cells[sentence.position] == want, (name, sentence.position)
        if gold and name not in names:  # a reviewer only: their gold without --gold too
            assert show_cells(cli(*args[:-1])) == cells

    # ... and show --gold: every reviewer's gold, one line per reviewer (named when there are several)
    if reviewers:
        cells = show_cells(cli("show", DATASET, "--db", str(db), "--limit", str(total), "--gold"))
        for sid, sentence in sentences.items():
            lines = [
                (f"{name}: " if len(reviewers) > 1 else "") + expected_cell(sentence, *truth[(name, True, sid)])
                for name in reviewers if (name, True, sid) in truth
            ]
            assert cells[sentence.position] == ("\n".join(lines) or "undecided"), sentence.position

    # 6. export jsonl (every answer) of all annotators, and of gold
    for source, gold in (("all", False), ("gold", True)):
        want = decided(model, gold=gold)
        if not want:
            continue
        out = work / f"export-{source}"
        cli("export", DATASET, "--db", str(db), "--labels", str(LABELS), "--format", "jsonl", "--source", source,
            "--answers", "accept,reject,ignore", "--out", str(out), "--force")
        got = {}
        for line in (out / f"{DATASET}.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            meta = record["meta"]
            sid = by_key[(meta["article_hash"], meta["sentence_index"])]
            assert meta.get("gold", False) is gold
            key = (meta["annotator"], gold, sid)
            assert key not in got, f"{key} exported twice"
            got[key] = (record["answer"], tuple(sorted((s["start"], s["end"], s["label"]) for s in record.get("spans", []))))
        assert got == {k: (a, tuple(sorted(s))) for k, (a, s) in want.items()}

    # 7. export CoNLL per annotator and gold (accepted sentences, position order)
    for source, name, gold in [(n, n, False) for n in names] + [("gold", None, True)]:
        accepted = sorted(
            ((positions[k[2]], k[0]), k[2], v[1], model[k][4]) for k, v in truth.items()
            if v[0] == "accept" and k[1] == gold and (name is None or k[0] == name)
        )
        if not accepted:
            continue
        if gold and len({sid for _, sid, _, _ in accepted}) != len(accepted):
            continue  # several reviewers of one sentence: a CoNLL file has one line per sentence and reviewer
        out = work / f"conll-{source}"
        cli("export", DATASET, "--db", str(db), "--labels", str(LABELS), "--format", "conll", "--source", source,
            "--out", str(out), "--force")
        event(f"conll checked ({'gold' if gold else 'annotator'})")
        examples = list(read_conll(out / f"{DATASET}.conll"))
        assert len(examples) == len(accepted)
        for example, (_, sid, spans, cut_at) in zip(examples, accepted):
            sentence = sentences[sid]
            tokens = split_tokens(sentence.text, sentence.tokens, cut_at)  # the decision's own tokens
            if cut_at:
                event("conll checked a split decision")
            assert [example.text[t.start : t.end] for t in example.tokens] == [sentence.text[t.start : t.end] for t in tokens]
            starts = {t.start: i for i, t in enumerate(tokens)}
            ends = {t.end: i for i, t in enumerate(tokens)}
            assert sorted((s.token_start, s.token_end, s.label) for s in example.spans) == sorted(
                (starts[a], ends[b], label) for a, b, label in spans
            )

    # 8. agreement --json: each annotator's decided/compared/answer counts
    if len(names) >= 2:
        event("agreement checked")
        data = json.loads(cli("agreement", DATASET, "--db", str(db), "--labels", str(LABELS), "--json"))
        non_gold = decided(model, gold=False)
        deciders = Counter(sid for (_, _, sid) in non_gold)
        for name in names:
            mine = {sid: answer for (n, _, sid), (answer, _) in non_gold.items() if n == name}
            compared = {sid: a for sid, a in mine.items() if deciders[sid] >= 2}
            counts = data["counts"][name]
            assert counts["decided"] == len(mine), name
            assert counts["compared"] == len(compared), name
            for answer in ANSWERS:
                assert counts[answer] == sum(1 for a in compared.values() if a == answer), (name, answer)

    # 9. check: the database is ok and the export it checks holds each source's accepted sentences
    for source in names + (["gold"] if decided(model, gold=True) else []):
        output = cli("check", DATASET, "--db", str(db), "--labels", str(LABELS), "--source", source)
        assert "database: ok" in output
        gold = source == "gold"
        n = sum(1 for k, v in truth.items() if v[0] == "accept" and k[1] == gold and (gold or k[0] == source))
        match = re.search(r"export of \S+: (?:no problems in )?(\d+) accepted sentences?", output)
        assert match and int(match.group(1)) == n, output


def check_fast_path(store) -> None:
    """``gold.load_versions`` (``Store.current_versions``: plain tuples, tokens and decisions decoded
    on first use) against the general path (``current_decisions`` -> ``SentenceVersions.from_sentence``):
    the same items, the same agreement report and the same review queue."""
    from itertools import groupby

    from annotator.agreement import SentenceVersions, compute_agreement
    from annotator.gold import load_versions
    from annotator.review import review_queue

    general = [
        SentenceVersions.from_sentence(pairs[0][0], {d.annotator: d for _, d in pairs})
        for pairs in (list(g) for _, g in groupby(store.current_decisions(DATASET), key=lambda p: p[0].id))
    ]
    fast = list(load_versions(store, DATASET))
    assert [item.rows for item in fast] == [item.rows for item in general]
    symmetric = ["LOCATED_IN"]
    for chosen in (None, list(ANNOTATORS[:2])):
        fast_items = list(load_versions(store, DATASET, chosen))
        general_items = [
            SentenceVersions.from_sentence(s, {n: d for n, d in ((d.annotator, d) for d in versions.values()) if chosen is None or n in chosen})
            for s, versions in ((store.sentence(item.sentence_id), item.versions) for item in general)
        ]
        general_items = [item for item in general_items if item.versions]
        assert compute_agreement(fast_items, chosen, symmetric_labels=symmetric).to_dict() == compute_agreement(
            general_items, chosen, symmetric_labels=symmetric
        ).to_dict()
        for include_agreed in (False, True):
            queues = [
                [(item.sentence_id, item.agreed, [g.to_dict() for g in item.groups])
                 for item in review_queue(items, include_agreed=include_agreed, symmetric_labels=symmetric)]
                for items in (fast_items, general_items)
            ]
            assert queues[0] == queues[1]
    assert fast == general  # decoding tokens and decisions on first use gives the general path's
    if any(row.split for item in fast for row in item.rows):
        event("fast path checked with split decisions")


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        value = conn.execute(sql).fetchone()[0]
    conn.close()
    return value


# ANNOTATOR_INVARIANT_EXAMPLES=300 for a longer search (about 10 s per 10 examples here)
@settings(max_examples=int(os.environ.get("ANNOTATOR_INVARIANT_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
def test_every_reader_shows_the_latest_decisions(base_db, ops):
    from annotator.store import Store

    scheme = SCHEME()
    BASE_PATH[:] = [base_db]
    work = Path(tempfile.mkdtemp(prefix="inv-"))
    try:
        db = work / "t.db"
        copy_db(base_db, db)
        with Store(db) as store:
            for op in ops:
                apply_op(store, db, work, op, scheme)
        check_everything(db, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_conflicting_reimport_then_old_version_again_keeps_the_latest(base_db, tmp_path):
    """The issue's item 1 as a fixed history: GPE, then LOC, then the GPE record again (already
    stored, so skipped): every reader says LOC."""
    from annotator.store import Store

    scheme = SCHEME()
    BASE_PATH[:] = [base_db]
    db = tmp_path / "t.db"
    copy_db(base_db, db)
    picks_gpe = [(6, 1, "GPE")]
    picks_loc = [(6, 1, "LOC")]
    with Store(db) as store:
        for picks in (picks_gpe, picks_loc, picks_gpe):
            apply_op(store, db, tmp_path, ("prodigy", "dave", 2, "accept", picks, "matched"), scheme)
        sentence = sentence_at(store, 2)
        assert [s.label for s in store.current_decision(sentence.id, "dave").spans] == ["LOC"]
    check_everything(db, tmp_path)


def test_own_export_of_a_split_decision_imports_back(base_db, tmp_path):
    """A decision that keeps "Pa" of "Paris" (its own tokens split the word) exported as Prodigy
    JSONL, whose tokens carry the split, imports back onto its sentence as the same decision."""
    from annotator.annotated_import import import_annotated
    from annotator.model import Span, split_for_spans
    from annotator.store import Store

    db = tmp_path / "t.db"
    copy_db(base_db, db)
    with Store(db) as store:
        sentence = next(s for s in store.iter_sentences(DATASET) if "Paris on Friday" in s.text)
        start = sentence.text.index("Paris on")
        token = next(i for i, t in enumerate(sentence.tokens) if t.start == start)
        tokens, spans = split_for_spans(sentence.text, sentence.tokens, [Span(start, start + 2, "GPE", token, token)])
        store.add_decision(sentence, annotator="alice", answer="accept", spans=spans, relations=[], tokens=tokens)
    out = tmp_path / "out"
    cli("export", DATASET, "--db", str(db), "--labels", str(LABELS), "--format", "prodigy", "--source", "alice",
        "--out", str(out))
    record = json.loads((out / f"{DATASET}.jsonl").read_text(encoding="utf-8"))
    assert (start, start + 2) in {(t["start"], t["end"]) for t in record["tokens"]}  # the export carries the split
    before = decided(latest_rows(db))
    with Store(db) as store:
        import_annotated(store, DATASET, out / f"{DATASET}.jsonl", "prodigy", SCHEME())
    assert decided(latest_rows(db)) == before
