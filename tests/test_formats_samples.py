"""Every third-party sample under ../shared/data/{prodigy,doccano,brat,conll}: detect, read, write,
read again and compare; the invalid samples must raise InputError. Files are read in place (never
copied into the repository); the tests skip when the folder is absent."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from annotator.errors import InputError
from annotator.formats import detect_format, reader_for, writer_for
from annotator.formats.brat import BratReport, read_brat, write_brat
from annotator.formats.conll import read_conll, write_conll
from annotator.formats.docbin import read_docbin, write_docbin
from annotator.formats.doccano import read_doccano, write_doccano
from annotator.formats.prodigy import read_prodigy
from annotator.model import Example

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FOLDERS = ("prodigy", "doccano", "brat", "conll")
NOT_DATA = {"LICENSE", "LICENSE.md", "README", "annotation.conf", "visual.conf"}


def sample_files() -> list[str]:
    if not SHARED.is_dir():
        return []
    return sorted(
        path.relative_to(SHARED).as_posix()
        for folder in FOLDERS
        for path in (SHARED / folder).rglob("*")
        if path.is_file() and path.name not in NOT_DATA
    )


needs_samples = pytest.mark.skipif(not SHARED.is_dir(), reason=f"sample data folder {SHARED} is absent")

# samples that are not valid input for our readers, and what must happen instead
INVALID = {
    "doccano/doccano_test_labeling_invalid.conll": (1, "invalid tag 'SOCCERO'"),
    "doccano/doccano_test_sequence_labeling.jsonl": (3, "record without text"),
}
SPACY_V2_JSON = {
    "doccano/transformer_fixtures/labeling.spacy.user1",
    "doccano/transformer_fixtures/labeling.spacy.user2",
    "doccano/transformer_fixtures/labeling_text_label.spacy.user0",
}


def content(example: Example) -> tuple:
    return (example.text, [(s.start, s.end, s.label) for s in example.spans], list(example.relations), example.answer)


def assert_same(first: list[Example], second: list[Example]) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second):
        assert content(a) == content(b)


def round_trip(fmt: str, examples: list[Example], tmp_path: Path) -> list[Example]:
    """Write ``examples`` in ``fmt`` the way the exporter does and read them back."""
    if fmt == "brat":
        write_brat(examples, tmp_path / "brat")
        by_name = {e.meta["name"]: e for e in read_brat(tmp_path / "brat")}
        from annotator.formats.brat import safe_name

        return [by_name[safe_name(e.meta.get("name"), i)] for i, e in enumerate(examples)]
    if fmt == "doccano":  # one file per annotator, as the exporter writes them
        by_annotator: dict[str | None, list[Example]] = defaultdict(list)
        for example in examples:
            by_annotator[example.annotator].append(example)
        back: dict[int, Example] = {}
        for number, (annotator, group) in enumerate(by_annotator.items()):
            out = tmp_path / f"doccano-{number}.jsonl"
            assert write_doccano(group, out) == []
            for original, again in zip(group, read_doccano(out)):
                back[id(original)] = again
        return [back[id(example)] for example in examples]
    out = tmp_path / f"out.{fmt}"
    problems = writer_for(fmt)(examples, out)
    assert problems == []
    return list(reader_for(fmt)(out))


@needs_samples
@pytest.mark.parametrize("name", sample_files() or ["(none)"])
def test_sample_round_trip(name: str, tmp_path: Path) -> None:
    path = SHARED / name
    if name in INVALID:
        line, message = INVALID[name]
        with pytest.raises(InputError) as caught:
            list(reader_for(detect_format(path))(path))
        assert caught.value.line == line and message in caught.value.problem
        return
    if name in SPACY_V2_JSON:
        with pytest.raises(InputError, match="spaCy v2 JSON"):
            detect_format(path)
        return
    fmt = detect_format(path)
    assert fmt in ("prodigy", "doccano", "brat", "conll")
    if fmt == "brat":
        path = path.with_suffix(".txt")
    first = list(reader_for(fmt)(path))
    assert first, f"{name}: nothing read"
    assert_same(first, round_trip(fmt, first, tmp_path))
    first = first[:100]  # the DocBin leg costs ~2 ms per doc in srsly/catalogue: a sample is enough
    docbin_problems = write_docbin(first, tmp_path / "all.spacy")
    # nested spans (brat) cannot all be doc.ents, nor can relations between them be doc._.rel keys;
    # they are reported, and kept in doc.spans and the stored relation list
    assert all("overlaps a longer span" in p or "is not an entity" in p for p in docbin_problems)
    assert_same(first, list(read_docbin(tmp_path / "all.spacy")))


@needs_samples
@pytest.mark.parametrize("folder", ["brat/bionlp_st_2011_rel", "brat/ncbi_disease_sample"])
def test_brat_folders(folder: str, tmp_path: Path) -> None:
    report = BratReport()
    first = list(read_brat(SHARED / folder, report))
    assert report.documents == 20 and len(first) == 20
    if folder.endswith("rel"):
        assert dict(report.counts) == {"equiv": 13}  # `*` lines, several before the T lines they name
        assert sum(len(e.relations) for e in first) == 44
    else:
        assert dict(report.counts) == {"attribute": 226}
    assert_same(first, round_trip("brat", first, tmp_path))


@needs_samples
def test_prodigy_samples_details() -> None:
    drugs = list(read_prodigy(SHARED / "prodigy" / "prodigy_ner_drugs_eval.jsonl"))
    assert len(drugs) == 500 and sum(1 for e in drugs if not e.spans) == 354 + 3  # no "spans" key; "spans": []
    fashion = list(read_prodigy(SHARED / "prodigy" / "prodigy_ner_fashion_brands_eval.jsonl"))
    emoji = [e for e in fashion if any(ord(ch) > 0xFFFF for ch in e.text)]
    assert emoji and all(e.tokens is not None for e in emoji)
    for example in emoji:
        for span in example.spans:
            assert example.tokens[span.token_start].start == span.start  # code points, not UTF-16


def spacy_v2_entities(path: Path) -> list[tuple[str, str]]:
    """Entities of a spaCy v2 JSON training file as (text without spaces, label)."""
    found = []
    for doc in json.loads(path.read_text(encoding="utf-8")):
        for paragraph in doc["paragraphs"]:
            for sentence in paragraph["sentences"]:
                current: list[str] = []
                for token in sentence["tokens"]:
                    tag = token["ner"]
                    if tag == "O":
                        continue
                    current.append(token["orth"])
                    if tag[0] in "UL":
                        found.append(("".join(current), tag[2:]))
                        current = []
    return found


def compact(examples: list[Example]) -> list[tuple[str, str]]:
    return [("".join(e.text[s.start : s.end].split()), s.label) for e in examples for s in e.spans]


@needs_samples
@pytest.mark.parametrize(
    ("jsonl", "user", "suffix"),
    [("labeling.jsonl", "1", "user1"), ("labeling.jsonl", "2", "user2"), ("labeling_text_label.jsonl", None, "user0")],
)
def test_doccano_transformer_fixtures_agree(jsonl: str, user: str | None, suffix: str, tmp_path: Path) -> None:
    """doccano-transformer's expected CoNLL and spaCy outputs name the same entities as our reading
    of the doccano export (numeric label ids kept as strings), and our CoNLL export agrees."""
    fixtures = SHARED / "doccano" / "transformer_fixtures"
    ours = [e for e in read_doccano(fixtures / jsonl) if e.annotator == user]
    stem = jsonl.removesuffix(".jsonl")
    expected_conll = list(read_conll(fixtures / f"{stem}.conll2003.{suffix}"))
    assert compact(ours) == compact(expected_conll)
    assert compact(ours) == spacy_v2_entities(fixtures / f"{stem}.spacy.{suffix}")
    assert write_conll(ours, tmp_path / "ours.conll") == []
    assert compact(list(read_conll(tmp_path / "ours.conll"))) == compact(expected_conll)
