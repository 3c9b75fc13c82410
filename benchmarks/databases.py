"""Benchmark databases: sentences copied from the big import, plus synthetic decisions.

Rows 5 and 6 need datasets of 100,000 and 200,000 annotated sentences. Segmenting that much text
again would cost minutes, so the sentences (and their articles) are copied with SQL from the
database the import row built (``ATTACH``; same ids, same text and tokens); when that database is
missing or too small, the corpus is imported with ``annotator import --no-model`` instead.

Decisions are synthetic and deterministic (``random.Random(seed)``), written straight into the
``decisions`` table in one transaction (the store's insert trigger keeps ``current`` up to date):
annotator ``a1`` accepts every sentence with "reference" spans (runs of capitalised words, labels
drawn by a seeded generator) and relations between neighbouring spans whose labels the default
scheme allows; ``a2`` and ``a3`` mostly agree (6% reject/ignore; spans dropped, relabelled,
shrunk or added, relations dropped) so agreement and the review queue have real work to do.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Callable

from corpus import ENTITY_WEIGHTS, RELATIONS, WORK, cached, corpus_fingerprint, jsonl_corpus, write_manifest

DATASET = "d"
DECISIONS_VERSION = 2


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            candidate.unlink()


def dataset_size(path: Path, dataset: str) -> int:
    """Sentences of ``dataset`` in the database at ``path`` (0 when it or the dataset is missing)."""
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT COALESCE(MAX(s.position), 0) FROM sentences s JOIN datasets d ON d.id = s.dataset_id WHERE d.name = ?",
                (dataset,),
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


def sentence_db(path: Path, n: int, source: tuple[Path, str] | None, run_cli: Callable[..., object]) -> None:
    """A database at ``path`` whose dataset ``d`` holds the first ``n`` sentences of the corpus."""
    from annotator.store import Store

    remove_db(path)
    if source is not None and dataset_size(*source) >= n:
        Store(path).close()  # the schema, through the store's own migrations
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("ATTACH DATABASE ? AS src", (str(source[0]),))
            (source_id,) = conn.execute("SELECT id FROM src.datasets WHERE name = ?", (source[1],)).fetchone()
            conn.execute("BEGIN")
            conn.execute("INSERT INTO datasets (name, created_at, settings) VALUES (?, 0, '{\"overlap\": \"all\"}')", (DATASET,))
            (target_id,) = conn.execute("SELECT id FROM datasets WHERE name = ?", (DATASET,)).fetchone()
            conn.execute(
                "INSERT INTO articles (id, dataset_id, source, title, text, content_hash, meta, created_at)"
                " SELECT a.id, ?, a.source, a.title, a.text, a.content_hash, a.meta, a.created_at FROM src.articles a"
                " WHERE a.id IN (SELECT article_id FROM src.sentences WHERE dataset_id = ? AND position <= ?)",
                (target_id, source_id, n),
            )
            conn.execute(
                'INSERT INTO sentences (id, dataset_id, article_id, idx, position, start, "end", text, tokens)'
                ' SELECT s.id, ?, s.article_id, s.idx, s.position, s.start, s."end", s.text, s.tokens FROM src.sentences s'
                " WHERE s.dataset_id = ? AND s.position <= ?",
                (target_id, source_id, n),
            )
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE src")
        finally:
            conn.close()
        return
    files, _, _ = jsonl_corpus(n, files=1)
    result = run_cli(["import", DATASET, *map(str, files), "--no-model", "--db", str(path)], timeout=1800)
    if getattr(result, "returncode", 1) != 0:
        raise RuntimeError(f"import for {path.name} failed: {getattr(result, 'last_error', '')}")


# ------------------------------------------------------------------------------ decisions


def _label_for(rng: random.Random) -> str:
    return rng.choices(list(ENTITY_WEIGHTS), list(ENTITY_WEIGHTS.values()))[0]


def reference_spans(text: str, offsets: list[int], rng: random.Random) -> list[dict]:
    """Spans over runs (1-3 words) of capitalised words after the first token."""
    tokens = list(zip(offsets[0::2], offsets[1::2]))
    spans = []
    i = 1
    while i < len(tokens):
        word = text[tokens[i][0] : tokens[i][1]]
        if word[:1].isupper() and word.replace("-", "").isalnum():
            j = i
            while j + 1 < len(tokens) and j - i < 2 and text[tokens[j + 1][0] : tokens[j + 1][0] + 1].isupper():
                j += 1
            spans.append({"start": tokens[i][0], "end": tokens[j][1], "token_start": i, "token_end": j, "label": _label_for(rng)})
            i = j + 1
        else:
            i += 1
    return spans


def _relations(spans: list[dict], rng: random.Random) -> list[dict]:
    found = []
    for head, child in zip(spans, spans[1:]):
        if rng.random() > 0.45:
            continue
        if rng.random() < 0.5:
            head, child = child, head
        fitting = [name for name, (heads, children) in RELATIONS.items() if head["label"] in heads and child["label"] in children]
        if fitting:
            found.append({"head": [head["start"], head["end"]], "child": [child["start"], child["end"]], "label": rng.choice(fitting)})
    return found


def _variant(text: str, offsets: list[int], spans: list[dict], relations: list[dict], rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Another annotator's version: spans dropped, relabelled, shrunk or added; relations follow."""
    out = []
    for span in spans:
        roll = rng.random()
        if roll < 0.08:
            continue
        span = dict(span)
        if roll < 0.13:
            span["label"] = _label_for(rng)
        elif roll < 0.17 and span["token_end"] > span["token_start"]:
            span["token_end"] -= 1
            span["end"] = offsets[2 * span["token_end"] + 1]
        out.append(span)
    if rng.random() < 0.05 and len(offsets) > 2:
        i = rng.randrange(len(offsets) // 2)
        if not any(s["token_start"] <= i <= s["token_end"] for s in out):
            out.append({"start": offsets[2 * i], "end": offsets[2 * i + 1], "token_start": i, "token_end": i, "label": _label_for(rng)})
            out.sort(key=lambda s: s["start"])
    keys = {(s["start"], s["end"]) for s in out}
    kept = [r for r in relations if tuple(r["head"]) in keys and tuple(r["child"]) in keys and rng.random() > 0.1]
    return out, kept


def add_decisions(path: Path, annotators: tuple[str, ...] = ("a1", "a2", "a3"), seed: int = 11) -> int:
    """Synthetic current decisions of ``annotators`` for every sentence of dataset ``d``; returns rows added."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        (dataset_id,) = conn.execute("SELECT id FROM datasets WHERE name = ?", (DATASET,)).fetchone()
        sentences = conn.execute(
            "SELECT id, text, tokens FROM sentences WHERE dataset_id = ? ORDER BY position", (dataset_id,)
        ).fetchall()
        rows = []
        dumps = lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # noqa: E731
        for sentence_id, text, tokens_json in sentences:
            offsets = json.loads(tokens_json)
            spans = reference_spans(text, offsets, rng)
            relations = _relations(spans, rng)
            for number, annotator in enumerate(annotators):
                answer, these_spans, these_relations = "accept", spans, relations
                if number > 0:
                    roll = rng.random()
                    answer = "reject" if roll < 0.03 else "ignore" if roll < 0.06 else "accept"
                    these_spans, these_relations = _variant(text, offsets, spans, relations, rng)
                rows.append((
                    f"bench-{sentence_id}-{annotator}", dataset_id, sentence_id, annotator, f"{annotator}-session", answer,
                    dumps(these_spans), dumps(these_relations), 1_726_000_000.0 + sentence_id, 4.5, None, "decision", 0, "{}",
                ))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, session, answer, spans, relations,"
            " created_at, seconds, supersedes, kind, gold, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return len(rows)


def annotated_db(n: int, source: tuple[Path, str] | None, run_cli: Callable[..., object]) -> Path:
    """``work/annotated-N.db``: dataset ``d`` with ``n`` sentences and decisions of a1, a2, a3 (cached)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"annotated-{n}.db"
    spec = {"kind": "annotated", "sentences": n, "version": DECISIONS_VERSION}
    if cached(path, spec) and dataset_size(path, DATASET) >= n * 0.99:
        from annotator.store import Store

        Store(path).close()  # a database of an older schema is migrated here, untimed (rows open it read-only)
        return path
    sentence_db(path, n, source, run_cli)
    rows = add_decisions(path)
    write_manifest(path, spec, decisions=rows, fingerprint_sources=corpus_fingerprint())
    return path

