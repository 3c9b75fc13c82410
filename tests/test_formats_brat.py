"""brat standoff: reading a folder, what is reported instead of imported, writing, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from annotator.errors import InputError
from annotator.formats.brat import BratReport, read_brat, safe_name, write_brat
from annotator.model import Example, Relation, Span

GOLDEN = Path(__file__).parent / "golden" / "formats"
UPDATE = os.environ.get("ANNOTATOR_UPDATE_GOLDEN") == "1"


def check_golden_folder(produced: Path, golden: Path) -> None:
    if UPDATE:
        golden.mkdir(parents=True, exist_ok=True)
        for old in golden.iterdir():
            old.unlink()
        for new in produced.iterdir():
            (golden / new.name).write_bytes(new.read_bytes())
    assert sorted(p.name for p in produced.iterdir()) == sorted(p.name for p in golden.iterdir())
    for new in produced.iterdir():
        assert new.read_bytes() == (golden / new.name).read_bytes(), f"{new.name} differs"


def spans_of(example: Example) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.label) for s in example.spans]


def test_golden_folder_is_read_with_a_report() -> None:
    report = BratReport()
    examples = list(read_brat(GOLDEN / "brat_input", report))
    assert [e.meta["name"] for e in examples] == ["doc1", "doc3", "sub/doc2"]
    doc1, doc3, doc2 = examples
    assert spans_of(doc1) == [(0, 15, "Person"), (25, 37, "Place"), (50, 59, "Work"), (65, 71, "Person"), (0, 5, "Person"), (16, 21, "Live")]
    assert all(s.token_start == -1 and s.token_end == -1 for s in doc1.spans)
    assert doc1.relations == [
        Relation(head=(0, 15), child=(25, 37), label="Lives_in"),  # R line before its T lines
        Relation(head=(65, 71), child=(50, 59), label="Wrote"),  # argument names other than Arg1/Arg2
    ]
    assert doc2.spans == [] and doc2.text == "No annotations here.\n"
    assert doc3.spans == [] and doc3.text == "Empty\tann file."
    assert report.documents == 3
    assert dict(report.counts) == {"equiv": 1, "event": 1, "attribute": 1, "normalization": 1, "note": 1, "discontinuous": 1, "relation_skipped": 1}
    assert any("doc1.ann:8: discontinuous span T6" in m for m in report.messages)
    assert any("relation R2" in m for m in report.messages)
    assert "not imported" in report.summary()


def test_single_pair_by_txt_or_ann() -> None:
    by_txt = list(read_brat(GOLDEN / "brat_input" / "doc1.txt"))
    by_ann = list(read_brat(GOLDEN / "brat_input" / "doc1.ann"))
    assert [spans_of(e) for e in by_txt] == [spans_of(e) for e in by_ann] and by_txt[0].meta["name"] == "doc1"


def test_golden_output(tmp_path: Path) -> None:
    examples = list(read_brat(GOLDEN / "brat_input"))
    problems = write_brat(examples, tmp_path / "out", ["Person", "Place"], {"Lives_in": (("Person",), ("Place", "Work"))})
    assert problems == []
    check_golden_folder(tmp_path / "out", GOLDEN / "brat_output")
    back = list(read_brat(tmp_path / "out"))
    assert [(e.text, spans_of(e), e.relations) for e in back] == [(e.text, spans_of(e), e.relations) for e in examples]
    assert [e.meta["name"] for e in back] == ["doc1", "doc3", "sub_doc2"]


def test_crlf_text_and_ann_are_kept_exactly(tmp_path: Path) -> None:
    text = "Kyiv\r\nis 😀 big\r\n"
    (tmp_path / "a.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "a.ann").write_bytes(b"T1\tGPE 0 4\tKyiv\r\nT2\tX 6 14\tis \xf0\x9f\x98\x80 big\r\n")
    [example] = read_brat(tmp_path / "a.txt")
    assert example.text == text
    assert spans_of(example) == [(0, 4, "GPE"), (6, 14, "X")]
    write_brat([example], tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_bytes() == text.encode("utf-8")


def test_span_text_with_newline_is_written_on_one_line(tmp_path: Path) -> None:
    example = Example(text="New\nYork", spans=[Span(0, 8, "GPE", -1, -1)], meta={"name": "ny"})
    write_brat([example], tmp_path)
    assert (tmp_path / "ny.ann").read_text() == "T1\tGPE 0 8\tNew York\n"
    [back] = read_brat(tmp_path / "ny.txt")
    assert spans_of(back) == [(0, 8, "GPE")]


def test_names_are_sanitised_and_deduplicated(tmp_path: Path) -> None:
    docs = [
        Example(text="a", meta={"name": "../../etc/passwd"}),
        Example(text="b", meta={"name": "ETC_passwd"}),
        Example(text="c", meta={"name": "/abs/path\\win"}),
        Example(text="d"),
        Example(text="e", meta={"name": "CON"}),
        Example(text="f", meta={"name": "annotation"}),
    ]
    write_brat(docs, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(
        ["etc_passwd.txt", "etc_passwd.ann", "ETC_passwd-2.txt", "ETC_passwd-2.ann", "abs_path_win.txt", "abs_path_win.ann",
         "document-4.txt", "document-4.ann", "CON_.txt", "CON_.ann", "annotation-2.txt", "annotation-2.ann", "annotation.conf"]
    )
    assert not list(tmp_path.glob("etc*"))
    assert safe_name("   ", 0) == "document-1"


def test_annotation_conf_declares_used_labels(tmp_path: Path) -> None:
    doc = Example(text="Ann met Bob", spans=[Span(0, 3, "PER", -1, -1), Span(8, 11, "PER", -1, -1)], relations=[Relation((0, 3), (8, 11), "MET")])
    write_brat([doc], tmp_path, ["ORG"], {"WORKS_FOR": (("PER",), ("ORG", "GPE"))})
    assert (tmp_path / "annotation.conf").read_text() == (
        "[entities]\nORG\nPER\n\n[relations]\nWORKS_FOR\tArg1:PER, Arg2:ORG|GPE\nMET\tArg1:<ENTITY>, Arg2:<ENTITY>\n\n[events]\n\n[attributes]\n"
    )
    ann = (tmp_path / "document-1.ann").read_text()
    assert ann == "T1\tPER 0 3\tAnn\nT2\tPER 8 11\tBob\nR1\tMET Arg1:T1 Arg2:T2\n"


@pytest.mark.parametrize(
    ("ann", "line", "message"),
    [
        ("T1\tPerson 0 5\tTerry\nR1\tKnows Arg1:T1 Arg2:T9\n", 2, "T9, which is not defined"),
        ("T1\tPerson 0 5\tJerry\n", 1, "does not match the .txt"),
        ("T1\tPerson 0 500\tTerry\n", 1, "out of range"),
        ("T1\tPerson 5 0\tTerry\n", 1, "end before start"),
        ("T1\tPerson zero five\tTerry\n", 1, "malformed offsets"),
        ("T1\tPerson 0 5\tTerry\nT1\tPerson 0 5\tTerry\n", 2, "used twice"),
        ("X1\tWhat 0 5\n", 1, "unknown annotation line"),
        ("R1\tKnows Arg1:T1\nT1\tPerson 0 5\tTerry\n", 1, "needs two arguments"),
    ],
)
def test_bad_ann(tmp_path: Path, ann: str, line: int, message: str) -> None:
    (tmp_path / "d.txt").write_text("Terry Pratchett", encoding="utf-8")
    (tmp_path / "d.ann").write_text(ann, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_brat(tmp_path))
    assert caught.value.line == line and message in caught.value.problem
    assert caught.value.path == str(tmp_path / "d.ann")


def test_ann_without_txt_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "d.ann").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="without its .txt"):
        list(read_brat(tmp_path))
    with pytest.raises(InputError, match="without its .txt"):
        list(read_brat(tmp_path / "d.ann"))
