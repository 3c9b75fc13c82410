"""Prodigy JSONL: golden files, review output, hashes, determinism and every bad-input case."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from annotator.errors import InputError
from annotator.formats.prodigy import PRODIGY_META_KEY, read_prodigy, write_prodigy
from annotator.model import Example, Relation, Span, Token

GOLDEN = Path(__file__).parent / "golden" / "formats"
UPDATE = os.environ.get("ANNOTATOR_UPDATE_GOLDEN") == "1"


def check_golden(produced: Path, golden: Path) -> None:
    """Compare a written file with its golden copy (ANNOTATOR_UPDATE_GOLDEN=1 rewrites it)."""
    if UPDATE:
        golden.write_bytes(produced.read_bytes())
    assert produced.read_bytes() == golden.read_bytes(), f"{produced} differs from {golden}"


def write_lines(path: Path, *records: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8")
    return path


def read_all(path: Path) -> list[Example]:
    return list(read_prodigy(path))


# ------------------------------------------------------------------------------------------ golden


def test_golden_input_is_read_faithfully() -> None:
    examples = read_all(GOLDEN / "prodigy_input.jsonl")
    assert len(examples) == 5
    first = examples[0]
    assert first.line == 1
    assert first.text[32:34] == "🇺🇸"  # two code points, four UTF-16 units
    assert [(s.start, s.end, s.label, s.token_start, s.token_end) for s in first.spans] == [
        (0, 6, "PERSON", 0, 0),
        (21, 31, "GPE", 4, 4),
        (36, 40, "GPE", 8, 8),
    ]
    assert first.spans[1].source == "en_core_web_sm"
    assert first.tokens is not None and first.tokens[7] == Token(35, 36, False)  # the "\n" token
    assert first.tokens[0].ws is True  # derived from the offsets: "ws" is missing in the file
    assert first.annotator == "news-alice" and first.session == "news-alice"
    assert first.timestamp == 1700000000.0
    assert first.meta == {"source": "wire", "article_id": 7, PRODIGY_META_KEY: {"_input_hash": -12345, "_task_hash": 67890, "_view_id": "ner_manual"}}

    relations = examples[1]
    assert relations.annotator == "news-bob"
    assert relations.relations == [
        Relation(head=(0, 13), child=(34, 44), label="LOCATED_IN"),
        Relation(head=(18, 30), child=(0, 13), label="MET"),  # found by token_end (no head_span)
    ]

    computed = examples[2]  # spans without token indices; double space and tab between tokens
    assert [(s.token_start, s.token_end) for s in computed.spans] == [(0, 0), (5, 5)]
    assert computed.answer == "ignore"

    no_spans = examples[3]
    assert no_spans.spans == [] and no_spans.answer == "reject" and no_spans.annotator is None


def test_review_output_becomes_gold_with_one_version_per_session() -> None:
    review = read_all(GOLDEN / "prodigy_input.jsonl")[4]
    assert review.gold is True
    assert [(s.start, s.end) for s in review.spans] == [(0, 5), (14, 19)]
    assert [(v.annotator, v.session, len(v.spans)) for v in review.versions] == [
        ("news-alice", "news-alice", 2),
        ("news-bob", "news-bob", 2),
        ("news-carol", "news-carol", 1),
    ]
    assert all(not v.gold for v in review.versions)


def test_golden_output(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    problems = write_prodigy(read_all(GOLDEN / "prodigy_input.jsonl"), out)
    assert problems == []
    check_golden(out, GOLDEN / "prodigy_output.jsonl")


def test_round_trip_and_byte_identical_rewrite(tmp_path: Path) -> None:
    first = read_all(GOLDEN / "prodigy_input.jsonl")
    write_prodigy(first, tmp_path / "a.jsonl")
    second = read_all(tmp_path / "a.jsonl")
    write_prodigy(second, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    for a, b in zip(first, second):
        assert (a.text, a.spans, a.relations, a.answer, a.annotator, a.gold) == (b.text, b.spans, b.relations, b.answer, b.annotator, b.gold)
        assert [(v.annotator, v.spans) for v in a.versions] == [(v.annotator, v.spans) for v in b.versions]
    records = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records[0]["_input_hash"] == -12345 and records[0]["_task_hash"] == 67890  # originals written back
    assert records[1]["_view_id"] == "relations" and records[0]["_view_id"] == "ner_manual"
    assert records[1]["relations"][0]["head"] == 1  # token_end of the head span, not its first token


def test_hashes_are_pinned_signed_32_bit_and_content_sensitive(tmp_path: Path) -> None:
    example = Example(text="Umerov met Austin.", spans=[Span(0, 6, "PERSON", -1, -1)])
    write_prodigy([example], tmp_path / "a.jsonl")
    record = json.loads((tmp_path / "a.jsonl").read_text())
    # pinned values: hashlib-based, so the same on every machine and in every run (unlike hash())
    assert (record["_input_hash"], record["_task_hash"]) == (1837660919, -951043441)
    write_prodigy([Example(text="Umerov met Austin.", spans=[Span(0, 6, "ORG", -1, -1)])], tmp_path / "b.jsonl")
    other = json.loads((tmp_path / "b.jsonl").read_text())
    assert other["_input_hash"] == record["_input_hash"]
    assert other["_task_hash"] != record["_task_hash"]
    assert all(-(2**31) <= value < 2**31 for value in (other["_input_hash"], other["_task_hash"]))


def test_examples_without_tokens_are_tokenised_on_span_boundaries(tmp_path: Path) -> None:
    example = Example(text="AL-AIN won", spans=[Span(3, 6, "LOC", -1, -1)])
    write_prodigy([example], tmp_path / "a.jsonl")
    [back] = read_all(tmp_path / "a.jsonl")
    assert back.spans == [Span(3, 6, "LOC", 2, 2)]
    assert back.tokens is not None and [back.text[t.start : t.end] for t in back.tokens] == ["AL", "-", "AIN", "won"]


def test_misaligned_span_and_dangling_relation_are_reported_not_written(tmp_path: Path) -> None:
    tokens = [Token(0, 5, True), Token(6, 11, False)]
    example = Example(
        text="Alice Smith",
        tokens=tokens,
        spans=[Span(0, 3, "PERSON", 0, 0), Span(6, 11, "PERSON", 1, 1)],
        relations=[Relation((0, 3), (6, 11), "KNOWS")],
    )
    problems = write_prodigy([example], tmp_path / "a.jsonl")
    assert len(problems) == 2 and "token boundary" in problems[0] and "KNOWS" in problems[1]
    [back] = read_all(tmp_path / "a.jsonl")
    assert back.spans == [Span(6, 11, "PERSON", 1, 1)] and back.relations == []


def test_json_array_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([{"text": "a b"}, {"text": "c", "answer": "reject"}], indent=2))
    examples = read_all(path)
    assert [(e.text, e.answer, e.line) for e in examples] == [("a b", "accept", 2), ("c", "reject", 5)]


# ------------------------------------------------------------------------------------- bad input

TOKENS = [{"text": "Alice", "start": 0, "end": 5, "id": 0}, {"text": "Smith", "start": 6, "end": 11, "id": 1}]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"text": "a",,}', "JSON syntax error"),
        ('["not", "an", "object"]', "expected an object"),
        ({"meta": {}}, "record without text"),
        ({"text": ""}, "text of 0 characters"),
        ({"text": 5}, "expected a string"),
        ({"text": "Alice Smith", "spans": [{"start": 0, "end": 40, "label": "X"}]}, "out of range"),
        ({"text": "Alice Smith", "spans": [{"start": 5, "end": 2, "label": "X"}]}, "end before start"),
        ({"text": "Alice Smith", "spans": [{"start": 0, "end": 5}]}, "without label"),
        ({"text": "Alice Smith", "tokens": TOKENS, "spans": [{"start": 0, "end": 3, "label": "X"}]}, "token boundary"),
        ({"text": "Alice Smith", "tokens": TOKENS, "spans": [{"start": 0, "end": 5, "token_start": 0, "token_end": 1, "label": "X"}]}, "token boundary"),
        ({"text": "Alice Smith", "tokens": TOKENS, "spans": [{"start": 0, "end": 5, "token_start": 0, "token_end": 7, "label": "X"}]}, "token range"),
        ({"text": "Alice Smith", "tokens": [{"text": "Alicia", "start": 0, "end": 5}]}, "does not match the text"),
        ({"text": "Alice Smith", "tokens": [TOKENS[1], TOKENS[0]]}, "overlaps the previous token"),
        (
            {
                "text": "Alice Smith",
                "tokens": TOKENS,
                "spans": [{"start": 0, "end": 5, "token_start": 0, "token_end": 0, "label": "P"}],
                "relations": [{"head": 0, "child": 1, "head_span": {"start": 0, "end": 5}, "child_span": {"start": 6, "end": 11}, "label": "R"}],
            },
            "not in the record's spans",
        ),
        (
            {
                "text": "Alice Smith",
                "tokens": TOKENS,
                "spans": [{"start": 0, "end": 5, "token_start": 0, "token_end": 0, "label": "P"}],
                "relations": [{"head": 0, "child": 1, "label": "R"}],
            },
            "not the last token of any span",
        ),
        ({"text": "Alice", "answer": "maybe"}, "unknown answer"),
        ({"text": "Alice", "_timestamp": "yesterday"}, "not a number"),
    ],
)
def test_bad_input_raises_input_error_with_line(tmp_path: Path, record: object, message: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl", {"text": "fine"}, "", record)
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert caught.value.line == 3
    assert caught.value.path == str(path)
    assert message in caught.value.problem
    assert str(caught.value).startswith(f"{path}:3: ")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_all(tmp_path / "absent.jsonl")


def test_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert caught.value.line == 2 and "UTF-8" in caught.value.problem


def test_u2028_inside_a_string_does_not_split_the_record(tmp_path: Path) -> None:
    path = tmp_path / "sep.jsonl"
    path.write_text('{"text": "a\u2028b"}\n{"text": "c"}\n', encoding="utf-8")
    assert [e.text for e in read_all(path)] == ["a\u2028b", "c"]


def test_bom_and_crlf_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\r\n\r\n{"text": "b"}\r\n')
    assert [(e.text, e.line) for e in read_all(path)] == [("a", 1), ("b", 3)]
