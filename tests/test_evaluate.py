"""evaluate: per-label scores of a suggestion source against human decisions, and the confusions."""

from __future__ import annotations

import json

import pytest

from annotator.errors import DatasetError
from annotator.evaluate import MISSED, REMOVED, SpanTally, evaluate_source
from annotator.model import Span, Suggestion, Token
from annotator.store import DecisionRecord

from .conftest import run_cli

TEXT = "Kyiv officials met Olaf Scholz in Kyiv ."


def tokens_of(text: str) -> list[Token]:
    out, start = [], 0
    for word in text.split(" "):
        out.append(Token(start, start + len(word), True))
        start += len(word) + 1
    return out


def span(text: str, piece: str, label: str, occurrence: int = 0) -> Span:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(piece, start + 1)
    tokens = tokens_of(text)
    first = next(i for i, t in enumerate(tokens) if t.start == start)
    last = next(i for i, t in enumerate(tokens) if t.end == start + len(piece))
    return Span(start, start + len(piece), label, first, last)


def test_tally_counts_matches_label_errors_removed_missed_and_boundaries():
    decided = [span(TEXT, "Kyiv", "GPE"), span(TEXT, "Olaf Scholz", "PERSON"), span(TEXT, "Kyiv", "GPE", 1)]
    suggested = [span(TEXT, "Kyiv", "PERSON"), span(TEXT, "officials", "ROLE"), span(TEXT, "Scholz", "PERSON"),
                 span(TEXT, "Kyiv", "GPE", 1)]
    tally = SpanTally()
    tally.add(TEXT, decided, suggested)
    scores = tally.scores()
    assert scores.per_label["GPE"].tp == 1 and scores.per_label["GPE"].fn == 1 and scores.per_label["GPE"].fp == 0
    assert (scores.per_label["PERSON"].tp, scores.per_label["PERSON"].fp, scores.per_label["PERSON"].fn) == (0, 2, 1)
    assert (scores.per_label["ROLE"].tp, scores.per_label["ROLE"].fp) == (0, 1)
    assert (scores.micro.tp, scores.micro.fp, scores.micro.fn) == (1, 3, 2)
    assert scores.micro.precision == pytest.approx(1 / 4) and scores.micro.recall == pytest.approx(1 / 3)
    found = {(c.text, c.suggested, c.decided, c.decided_text): c.count for c in tally.confusions()}
    assert found == {
        ("Kyiv", "PERSON", "GPE", None): 1,
        ("officials", "ROLE", REMOVED, None): 1,
        ("Scholz", "PERSON", "PERSON", "Olaf Scholz"): 1,
    }
    # a decided span nothing overlaps is missed
    tally.add(TEXT, [span(TEXT, "Kyiv", "GPE")], [])
    assert {(c.text, c.suggested, c.decided) for c in tally.confusions()} >= {("Kyiv", MISSED, "GPE")}


def test_confusions_are_counted_over_sentences_most_frequent_first():
    tally = SpanTally()
    for _ in range(3):
        tally.add(TEXT, [span(TEXT, "Kyiv", "GPE")], [span(TEXT, "Kyiv", "PERSON")])
    tally.add(TEXT, [], [span(TEXT, "officials", "ROLE")])
    tally.add(TEXT, [], [span(TEXT, "officials", "ROLE")])
    top = tally.confusions(limit=1)
    assert [(c.text, c.suggested, c.decided, c.count) for c in top] == [("Kyiv", "PERSON", "GPE", 3)]
    assert tally.confusions()[1].count == 2
    assert tally.sentences == 5
    # labels asked for appear with zero counts; macro averages only the labels present
    scores = tally.scores(["LOC"])
    assert "LOC" in scores.per_label and not scores.per_label["LOC"].present
    assert scores.macro.n_labels == 3


def _dataset_with_suggestions(store):
    """Two sentences, decided by one annotator; a source suggests on one of them."""
    store.ensure_dataset("d")
    tokens = tokens_of(TEXT)
    text = TEXT + " " + TEXT
    second = [Token(t.start + len(TEXT) + 1, t.end + len(TEXT) + 1, t.ws) for t in tokens]
    store.add_article("d", title="t", text=text, content_hash="h", source="s", meta={},
                      sentences=[(0, len(TEXT), tokens), (len(TEXT) + 1, len(text), [Token(t.start - len(TEXT) - 1, t.end - len(TEXT) - 1, t.ws) for t in second])])
    sentences = list(store.iter_sentences("d"))
    gold = (span(TEXT, "Kyiv", "GPE"), span(TEXT, "Olaf Scholz", "PERSON"))
    store.add_imported_decisions([DecisionRecord(s, "ann", "accept", f"u{s.id}", 1.0, spans=gold) for s in sentences])
    store.add_suggestions([Suggestion(sentences[0].id, "m", (span(TEXT, "Kyiv", "PERSON"), span(TEXT, "Olaf Scholz", "PERSON")))])
    return sentences


def test_evaluate_source_reads_the_store_and_counts_sentences_without_rows(store):
    _dataset_with_suggestions(store)
    result = evaluate_source(store, "d", "m")
    assert result.against == "ann" and result.sentences == 1 and result.without_suggestions == 1
    assert result.scores.per_label["PERSON"].tp == 1
    assert result.confusions[0].text == "Kyiv" and (result.confusions[0].suggested, result.confusions[0].decided) == ("PERSON", "GPE")
    with pytest.raises(DatasetError, match="no suggestions"):
        evaluate_source(store, "d", "other")
    with pytest.raises(DatasetError, match="not 'all'"):
        evaluate_source(store, "d", "m", "all")


def test_cli_evaluate_json_table_and_unknown_source(tmp_db, tmp_path):
    from annotator.store import Store

    with Store(tmp_db) as store:
        _dataset_with_suggestions(store)
    done = run_cli("evaluate", "d", "--db", str(tmp_db), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["source"] == "m" and data["micro"]["tp"] == 1 and data["confusions"][0]["text"] == "Kyiv"
    done = run_cli("evaluate", "d", "--db", str(tmp_db))
    assert done.returncode == 0 and "PERSON" in done.stdout and "'Kyiv'" in done.stdout
    done = run_cli("evaluate", "d", "--db", str(tmp_db), "--suggestions", "nope")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown suggestion source 'nope'" in done.stderr
