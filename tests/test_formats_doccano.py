"""doccano JSONL: the three sequence-labeling shapes, relation extraction, JSON arrays, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from annotator.errors import InputError
from annotator.formats.doccano import read_doccano, write_doccano
from annotator.model import Example, Relation, Span

GOLDEN = Path(__file__).parent / "golden" / "formats"
UPDATE = os.environ.get("ANNOTATOR_UPDATE_GOLDEN") == "1"


def check_golden(produced: Path, golden: Path) -> None:
    if UPDATE:
        golden.write_bytes(produced.read_bytes())
    assert produced.read_bytes() == golden.read_bytes(), f"{produced} differs from {golden}"


def spans_of(example: Example) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.label) for s in example.spans]


def test_golden_input_all_shapes() -> None:
    examples = list(read_doccano(GOLDEN / "doccano_input.jsonl"))
    assert [(e.line, e.annotator) for e in examples] == [(1, None), (2, None), (3, "1"), (3, "2"), (4, None)]
    label, labels, user1, user2, relation = examples
    assert spans_of(label) == [(0, 2, "ORG"), (11, 17, "MISC")]
    assert label.meta == {"wikiPageID": 1, "id": 1}
    assert label.tokens is None and all(s.token_start == -1 for s in label.spans)
    assert spans_of(labels) == [(0, 15, "PERSON")]
    assert labels.meta == {"id": 2, "annotation_approver": None}
    assert spans_of(user1) == [(9, 14, "12")]  # numeric ids are kept as strings
    assert spans_of(user2) == [(9, 14, "12"), (0, 6, "13")]
    assert user2.session == "2"
    assert spans_of(relation) == [(0, 6, "ORG"), (22, 32, "PERSON")]
    assert relation.relations == [Relation(head=(0, 6), child=(22, 32), label="foundedBy")]
    assert relation.meta == {"Comments": ["checked"]}


def test_label_names_map_numeric_ids_and_unknown_ids_are_errors(tmp_path: Path) -> None:
    examples = list(read_doccano(GOLDEN / "doccano_input.jsonl", label_names={12: "LOC", "13": "ORG"}))
    assert spans_of(examples[3]) == [(9, 14, "LOC"), (0, 6, "ORG")]
    with pytest.raises(InputError) as caught:
        list(read_doccano(GOLDEN / "doccano_input.jsonl", label_names={12: "LOC"}))
    assert caught.value.line == 3 and "unknown numeric label id 13" in caught.value.problem


def test_json_array_file(tmp_path: Path) -> None:
    examples = list(read_doccano(GOLDEN / "doccano_input_array.json"))
    assert [e.line for e in examples] == [2, 21]  # where each object starts
    assert spans_of(examples[1]) == [(0, 6, "ORG"), (22, 32, "PERSON")]


def test_golden_output_and_round_trip(tmp_path: Path) -> None:
    examples = [e for e in read_doccano(GOLDEN / "doccano_input.jsonl") if e.annotator != "2"]
    out = tmp_path / "out.jsonl"
    assert write_doccano(examples, out) == []
    check_golden(out, GOLDEN / "doccano_output.jsonl")
    back = list(read_doccano(out))
    assert [(e.text, spans_of(e), e.relations) for e in back] == [(e.text, spans_of(e), e.relations) for e in examples]
    assert back[0].meta == {"wikiPageID": 1, "id": 1}


def test_overlapping_and_duplicate_spans_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    path.write_text(json.dumps({"text": "New York City", "label": [[0, 8, "LOC"], [4, 13, "LOC"], [0, 8, "LOC"]]}) + "\n")
    [example] = read_doccano(path)
    assert spans_of(example) == [(0, 8, "LOC"), (4, 13, "LOC"), (0, 8, "LOC")]


def test_column_names_from_doccanos_import_example_and_custom_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"column_data": "Peter Blackburn", "column_label": [[0, 15, "PERSON"]]}) + "\n")
    [example] = read_doccano(path)
    assert spans_of(example) == [(0, 15, "PERSON")] and example.meta == {}
    path.write_text(json.dumps({"body": "Peter Blackburn", "ents": [[0, 5, "PERSON"]]}) + "\n")
    with pytest.raises(InputError, match="record without text"):
        list(read_doccano(path))
    [example] = read_doccano(path, text_key="body", label_key="ents")
    assert spans_of(example) == [(0, 5, "PERSON")]


def test_written_relation_names_missing_span_is_reported(tmp_path: Path) -> None:
    example = Example(text="a b", spans=[Span(0, 1, "X", -1, -1)], relations=[Relation((0, 1), (2, 3), "R")])
    problems = write_doccano([example], tmp_path / "o.jsonl")
    assert len(problems) == 1 and "not annotated" in problems[0]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("{not json", "JSON syntax error"),
        ({"label": [[0, 1, "PER"]], "meta": {"wikiPageID": 3}}, "record without text"),
        ({"text": "", "label": []}, "text of 0 characters"),
        ({"text": "abc", "label": [[0, 9, "X"]]}, "out of range"),
        ({"text": "abc", "label": [[2, 1, "X"]]}, "end before start"),
        ({"text": "abc", "label": [[0, "1", "X"]]}, "not integers"),
        ({"text": "abc", "label": ["positive"]}, "is not [start, end, label]"),
        ({"text": "abc", "label": [[0, 1, ""]]}, "without label"),
        ({"text": "abc", "entities": [{"id": 1, "start_offset": 0, "end_offset": 1, "label": "X"}], "relations": [{"from_id": 1, "to_id": 2, "type": "R"}]}, "not in the record"),
        ({"text": "abc", "entities": [{"id": 1, "start_offset": 0, "end_offset": 1, "label": "X"}, {"id": 1, "start_offset": 1, "end_offset": 2, "label": "X"}]}, "used twice"),
        ({"text": "abc", "annotations": [{"label": 1, "start_offset": 0, "end_offset": 5, "user": 1}]}, "out of range"),
    ],
)
def test_bad_input(tmp_path: Path, record: object, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    line = record if isinstance(record, str) else json.dumps(record)
    path.write_text(json.dumps({"text": "ok", "label": []}) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_doccano(path))
    assert caught.value.line == 2 and message in caught.value.problem
