"""detect_format: by extension and by content; undecidable input is an InputError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.errors import InputError
from annotator.formats import FORMAT_NAMES, detect_format, reader_for, writer_for

GOLDEN = Path(__file__).parent / "golden" / "formats"


def write(path: Path, content: str | list) -> Path:
    if isinstance(content, list):
        content = "".join(json.dumps(record) + "\n" for record in content)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.jsonl", [{"text": "a", "tokens": [], "spans": [], "answer": "accept"}], "prodigy"),
        ("a.jsonl", [{"text": "a", "_input_hash": 1}], "prodigy"),
        ("a.jsonl", [{"text": "a", "label": [[0, 1, "X"]]}], "doccano"),
        ("a.jsonl", [{"text": "a", "labels": []}], "doccano"),
        ("a.jsonl", [{"text": "a", "annotations": [{"label": 1, "start_offset": 0, "end_offset": 1}]}], "doccano"),
        ("a.jsonl", [{"text": "a", "entities": [], "relations": []}], "doccano"),
        ("a.jsonl", [{"text": "a", "meta": {"source": "x"}}], "text"),
        ("a.jsonl", [{"meta": {}}], "text"),  # the article reader reports the missing text with its line
        ("a.jsonl", [{"column_data": "a", "column_label": []}], "doccano"),  # doccano's documented import example
        ("a.jsonl", [{"body": "a", "ents": []}], "text"),
        ("a.jsonl", [{"words": ["a"], "ner": ["O"]}], "conll"),
        ("a.json", '[\n  {"text": "a", "spans": []}\n]\n', "prodigy"),
        ("a.conll", "a\tO\n", "conll"),
        ("a.iob", "a O\n", "conll"),
        ("a.txt", "-DOCSTART- -X- O O\n\nEU  B-ORG\nrejects O\n", "conll"),
        ("a.txt", "An article.\nWith two paragraphs about Kyiv.\n", "text"),
        ("a.user1", "-DOCSTART- -X- -X- O\n\nSOCCER _ _ O\n", "conll"),
        ("data", '{"text": "a", "answer": "accept"}\n', "prodigy"),
        ("train.spacy", "", "spacy"),
    ],
)
def test_detect(tmp_path: Path, name: str, content: str | list, expected: str) -> None:
    assert detect_format(write(tmp_path / name, content)) == expected


def test_brat_folder_and_pairs(tmp_path: Path) -> None:
    assert detect_format(GOLDEN / "brat_input") == "brat"
    assert detect_format(GOLDEN / "brat_input" / "doc1.txt") == "brat"
    assert detect_format(GOLDEN / "brat_input" / "doc1.ann") == "brat"
    write(tmp_path / "articles" / "one.txt", "Text.")
    assert detect_format(tmp_path / "articles") == "text"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.jsonl", "", "no records"),
        ("a.jsonl", "[1, 2]", "not a JSON object"),
        ("a.jsonl", "{oops\n", "JSON syntax error"),
        ("a.json", '[{"id": 1, "paragraphs": []}]', "spaCy v2 JSON"),
        ("a.md", "# A title\n\nSome prose.\n", "cannot tell the format"),
    ],
)
def test_undecidable(tmp_path: Path, name: str, content: str | list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        detect_format(write(tmp_path / name, content))


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        detect_format(tmp_path / "absent.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="cannot tell the format of this folder"):
        detect_format(tmp_path / "empty")


def test_every_format_has_a_reader_and_a_writer() -> None:
    for name in FORMAT_NAMES:
        assert callable(reader_for(name)) and callable(writer_for(name))
    assert reader_for("jsonl") is reader_for("prodigy") and writer_for("jsonl") is writer_for("prodigy")
