"""brat standoff: ``name.txt`` (the exact text) + ``name.ann`` (one annotation per line).

Imported: text-bound ``T`` lines with one fragment (entities) and binary ``R`` lines (relations).
Counted and reported, not imported: ``*`` equivalences, ``E`` events, ``A``/``M`` attributes,
``N`` normalizations, ``#`` notes, and discontinuous ``T`` spans (``0 5;10 15``): the annotator's
model has no place for them. Lines may come in any order (``*`` lines often precede the ``T``
lines they name), so relations are resolved after the whole file is read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from annotator.errors import ExportError, InputError
from annotator.model import Example, Relation, Span

from .checks import require_offsets
from .jsonio import read_text_file

_SKIPPED_KINDS = {
    "*": ("equiv", "equivalence (*)"),
    "E": ("event", "event (E)"),
    "A": ("attribute", "attribute (A)"),
    "M": ("attribute", "attribute (M)"),
    "N": ("normalization", "normalization (N)"),
    "#": ("note", "note (#)"),
}
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


@dataclass
class BratReport:
    """What :func:`read_brat` saw but did not import.

    ``counts`` has one entry per kind (``equiv``, ``event``, ``attribute``, ``normalization``,
    ``note``, ``discontinuous``, ``relation_skipped``); ``messages`` says where, one line each.
    """

    counts: Counter = field(default_factory=Counter)
    """Lines (or spans) not imported, per kind."""
    messages: list[str] = field(default_factory=list)
    """Human-readable notes naming the file (and line) of each thing not imported."""
    documents: int = 0
    """Documents read."""

    def summary(self) -> str:
        """One line: ``3 documents; not imported: 2 equiv, 1 discontinuous``."""
        head = f"{self.documents} document{'s' if self.documents != 1 else ''}"
        if not self.counts:
            return head
        skipped = ", ".join(f"{count} {kind}" for kind, count in sorted(self.counts.items()))
        return f"{head}; not imported: {skipped}"


def read_brat(path: str | Path, report: BratReport | None = None) -> Iterator[Example]:
    """One document-level Example per ``.txt`` (with its ``.ann``) under a folder, or for one pair.

    ``path`` is a folder (searched recursively; ``meta["name"]`` is the path of the file relative to
    it, without suffix, with ``/`` separators) or a single ``.txt``/``.ann`` file. A ``.txt`` without
    ``.ann`` has no annotations; an ``.ann`` without ``.txt`` is an error. Spans get
    ``token_start = token_end = -1``: the caller tokenises (see ``align.assign_token_indices``).
    """
    path = Path(path)
    report = report if report is not None else BratReport()
    for txt_path, ann_path, name in _pairs(path):
        text = _read_exact_text(txt_path)
        spans: list[Span] = []
        relations: list[Relation] = []
        span_lines: list[list[int]] = []
        if ann_path.exists():
            spans, relations = _parse_ann(ann_path, text, name, report, span_lines)
        report.documents += 1
        meta: dict[str, Any] = {"name": name}
        if span_lines:
            meta["span_lines"] = span_lines  # [start, end, line of the .ann]: errors name the line
        meta.update(_read_sidecar(txt_path.with_suffix(SIDECAR_SUFFIX), len(text)))
        yield Example(text=text, spans=spans, relations=relations, meta=meta)


SIDECAR_SUFFIX = ".annotator.json"
"""Beside ``name.txt``/``name.ann``, our export writes ``name.annotator.json``: the character ranges
of the sentences that were decided (``decided``, a list of ``[start, end]``), and when the document
holds one annotator's decisions, ``annotator`` and ``gold``. brat has no per-sentence answer: on
import, without this file only sentences that carry annotations become decisions."""


def _read_sidecar(path: Path, length: int) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as error:
        raise InputError(f"JSON syntax error: {error.msg}", path, error.lineno) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path)
    meta: dict[str, Any] = {}
    decided = data.get("decided")
    if decided is not None:
        if not isinstance(decided, list) or not all(
            isinstance(r, list) and len(r) == 2 and all(type(x) is int for x in r) and 0 <= r[0] <= r[1] <= length
            for r in decided
        ):
            raise InputError(f'"decided" must be a list of [start, end] character ranges within the text (0-{length})', path)
        meta["decided"] = [list(r) for r in decided]
    if isinstance(data.get("annotator"), str) and data["annotator"]:
        meta["annotator"] = data["annotator"]
    if data.get("gold") is True:
        meta["gold"] = True
    return meta


def _pairs(path: Path) -> list[tuple[Path, Path, str]]:
    if path.is_dir():
        pairs = []
        texts = sorted(path.rglob("*.txt"), key=lambda p: p.relative_to(path).as_posix())
        for txt_path in texts:
            name = txt_path.relative_to(path).with_suffix("").as_posix()
            pairs.append((txt_path, txt_path.with_suffix(".ann"), name))
        for ann_path in sorted(path.rglob("*.ann")):
            if not ann_path.with_suffix(".txt").exists():
                raise InputError("brat .ann file without its .txt (the text is needed to read the offsets)", ann_path)
        return pairs
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".ann"):
        raise InputError("not a brat file: expected a folder, a .txt or an .ann file", path)
    txt_path, ann_path = path.with_suffix(".txt"), path.with_suffix(".ann")
    if not txt_path.exists():
        if not path.exists():
            raise InputError("no such file", path)
        raise InputError("brat .ann file without its .txt (the text is needed to read the offsets)", path)
    return [(txt_path, ann_path, txt_path.stem)]


def _read_exact_text(path: Path) -> str:
    """The text exactly as brat counts it: line ends untranslated, a BOM kept as a character."""
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (offset {error.start})", path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path) from None


def _one_line(text: str) -> str:
    """Span text as written in the .ann text column: line breaks become spaces."""
    return text.replace("\r", " ").replace("\n", " ")


def _text_matches(column: str, expected: str) -> bool:
    return column == expected or _one_line(column).strip() == _one_line(expected).strip()


def _parse_ann(
    ann_path: Path, text: str, name: str, report: BratReport, span_lines: list[list[int]] | None = None
) -> tuple[list[Span], list[Relation]]:
    content = read_text_file(ann_path)
    entities: dict[str, Span | None] = {}
    unimported: dict[str, str] = {}
    seen_ids: set[str] = set()
    pending: list[tuple[int, str, str, str, str]] = []
    spans: list[Span] = []
    skipped: Counter = Counter()
    for number, raw in enumerate(content.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        ann_id = fields[0].strip()
        kind = ann_id[:1]
        if kind != "*":
            if ann_id in seen_ids:
                raise InputError(f"annotation id {ann_id} is used twice", ann_path, number)
            seen_ids.add(ann_id)
        if len(fields) < 2 or not fields[1].strip():
            raise InputError(f"line {ann_id!r} has no type (expected ID<TAB>TYPE ARGS<TAB>TEXT)", ann_path, number)
        parts = fields[1].split()
        if kind == "T":
            span = _parse_t(ann_id, parts, fields[2:], text, ann_path, number, name, report)
            entities[ann_id] = span
            if span is not None and span_lines is not None:
                span_lines.append([span.start, span.end, number])
            if span is not None:
                spans.append(span)
        elif kind == "R":
            args = [part.split(":", 1)[1] if ":" in part else part for part in parts[1:]]
            if len(args) < 2:
                raise InputError(f"relation {ann_id} needs two arguments (Arg1:T1 Arg2:T2)", ann_path, number)
            pending.append((number, ann_id, parts[0], args[0], args[1]))
        elif kind in _SKIPPED_KINDS:
            skipped[kind] += 1
            unimported[ann_id] = _SKIPPED_KINDS[kind][1]
        else:
            raise InputError(f"unknown annotation line {ann_id!r} (expected T, R, E, A, M, N, # or *)", ann_path, number)
    for kind, count in skipped.items():
        key, described = _SKIPPED_KINDS[kind]
        report.counts[key] += count
        report.messages.append(f"{ann_path}: {count} {described} line{'s' if count != 1 else ''} not imported")
    relations = []
    for number, rel_id, label, head_id, child_id in pending:
        ends = []
        for arg in (head_id, child_id):
            if arg in entities:
                ends.append(entities[arg])
            elif arg in unimported:
                ends.append(None)
            else:
                raise InputError(f"relation {rel_id} names {arg}, which is not defined in this file", ann_path, number)
        head, child = ends
        if head is None or child is None:
            report.counts["relation_skipped"] += 1
            report.messages.append(f"{ann_path}:{number}: relation {rel_id} ({label}) names an annotation that is not imported; skipped")
            continue
        relations.append(Relation(head=head.key, child=child.key, label=label))
    return spans, relations


def _parse_t(
    ann_id: str, parts: Sequence[str], text_fields: Sequence[str], text: str, ann_path: Path, number: int, name: str, report: BratReport
) -> Span | None:
    if len(parts) < 3:
        raise InputError(f"entity {ann_id} needs a type and offsets (TYPE START END)", ann_path, number)
    label = parts[0]
    fragments = " ".join(parts[1:]).split(";")
    offsets = []
    for fragment in fragments:
        bounds = fragment.split()
        if len(bounds) != 2 or not all(b.isdigit() for b in bounds):
            raise InputError(f"entity {ann_id} has malformed offsets {' '.join(parts[1:])!r}", ann_path, number)
        offsets.append(require_offsets(int(bounds[0]), int(bounds[1]), text, ann_path, number, what=f"entity {ann_id} span"))
    if len(offsets) > 1:
        report.counts["discontinuous"] += 1
        report.messages.append(f"{ann_path}:{number}: discontinuous span {ann_id} ({' '.join(parts[1:])}) not imported")
        return None
    start, end = offsets[0]
    if text_fields:
        column = "\t".join(text_fields)
        if not _text_matches(column, text[start:end]):
            raise InputError(
                f"entity {ann_id} text {column!r} does not match the .txt at {start}-{end} ({text[start:end]!r})", ann_path, number
            )
    return Span(start, end, label, -1, -1)


# ---------------------------------------------------------------------------------------- writing


def safe_name(raw: object, index: int) -> str:
    """A file name from ``meta["name"]``: no separators, no leading dots, ASCII-safe characters.

    >>> safe_name("../../etc/passwd", 0)
    'etc_passwd'
    >>> safe_name(None, 4)
    'document-5'
    """
    name = _UNSAFE_NAME_CHARS.sub("_", "" if raw is None else str(raw))
    name = re.sub(r"_+", "_", name).strip("._- ")[:100].rstrip("._- ")
    if not name:
        return f"document-{index + 1}"
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        name = f"{name}_"
    return name


def _brat_type(label: str, problems: list[str]) -> str:
    """brat types cannot contain whitespace (it separates the fields of a line)."""
    if re.search(r"\s", label) or not label:
        fixed = re.sub(r"\s+", "_", label) or "_"
        problem = f"label {label!r} contains whitespace; written as {fixed!r}"
        if problem not in problems:
            problems.append(problem)
        return fixed
    return label


def write_brat(
    documents: Iterable[Example],
    outdir: str | Path,
    entity_labels: Iterable[str] = (),
    relation_labels: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None,
) -> list[str]:
    """Write ``name.txt`` + ``name.ann`` per document and an ``annotation.conf``; returns problems.

    Names come from ``meta["name"]`` (made safe with :func:`safe_name`, deduplicated
    case-insensitively with ``-2``, ``-3``...). ``T`` ids follow the order of ``Example.spans``;
    ``R`` lines are ``R1<TAB>LABEL Arg1:T1 Arg2:T2``. ``relation_labels`` maps each relation label to
    its (Arg1 types, Arg2 types); labels used in the documents but not declared are added to the
    configuration (relations with ``<ENTITY>`` arguments) so brat can display them.
    """
    outdir = Path(outdir)
    relation_labels = dict(relation_labels or {})
    problems: list[str] = []
    declared_entities = list(dict.fromkeys(entity_labels))
    used_entities: set[str] = set()
    used_relations: set[str] = set()
    taken: set[str] = set()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        for index, document in enumerate(documents):
            base = safe_name(document.meta.get("name"), index)
            name, suffix = base, 1
            while name.lower() in taken or name.lower() == "annotation":
                suffix += 1
                name = f"{base}-{suffix}"
            taken.add(name.lower())
            with (outdir / f"{name}.txt").open("w", encoding="utf-8", newline="") as handle:
                handle.write(document.text)
            lines = []
            t_id_of: dict[tuple[int, int], str] = {}
            for number, span in enumerate(document.spans, start=1):
                label = _brat_type(span.label, problems)
                used_entities.add(label)
                t_id_of.setdefault(span.key, f"T{number}")
                lines.append(f"T{number}\t{label} {span.start} {span.end}\t{_one_line(document.text[span.start:span.end])}")
            relation_number = 0
            for rel in document.relations:
                if rel.head not in t_id_of or rel.child not in t_id_of:
                    problems.append(f"{name}: relation {rel.label} {rel.head}->{rel.child} names a span that is not annotated; not written")
                    continue
                relation_number += 1
                label = _brat_type(rel.label, problems)
                used_relations.add(label)
                lines.append(f"R{relation_number}\t{label} Arg1:{t_id_of[rel.head]} Arg2:{t_id_of[rel.child]}")
            with (outdir / f"{name}.ann").open("w", encoding="utf-8", newline="\n") as handle:
                handle.write("".join(line + "\n" for line in lines))
            sidecar = {key: document.meta[key] for key in ("decided", "annotator", "gold") if document.meta.get(key) is not None}
            if sidecar:
                (outdir / f"{name}{SIDECAR_SUFFIX}").write_text(json.dumps(sidecar, ensure_ascii=False) + "\n", encoding="utf-8")
        conf = annotation_conf(
            declared_entities + sorted(used_entities - set(declared_entities)),
            {**relation_labels, **{label: ((), ()) for label in sorted(used_relations - set(relation_labels))}},
            problems,
        )
        (outdir / "annotation.conf").write_text(conf, encoding="utf-8", newline="\n")
    except OSError as error:
        raise ExportError(f"cannot write: {error.strerror or error}", getattr(error, "filename", None) or outdir) from None
    return problems


def annotation_conf(entity_labels: Sequence[str], relation_labels: Mapping[str, tuple[Sequence[str], Sequence[str]]], problems: list[str] | None = None) -> str:
    """brat's ``annotation.conf`` text declaring the entity and relation types.

    >>> print(annotation_conf(["PERSON", "ORG"], {"WORKS_FOR": (("PERSON",), ("ORG",))}), end="")
    [entities]
    PERSON
    ORG
    <BLANKLINE>
    [relations]
    WORKS_FOR	Arg1:PERSON, Arg2:ORG
    <BLANKLINE>
    [events]
    <BLANKLINE>
    [attributes]
    """
    problems = problems if problems is not None else []
    lines = ["[entities]"]
    lines += [_brat_type(label, problems) for label in entity_labels]
    lines += ["", "[relations]"]
    for label, (heads, children) in relation_labels.items():
        arg1 = "|".join(_brat_type(h, problems) for h in heads) or "<ENTITY>"
        arg2 = "|".join(_brat_type(c, problems) for c in children) or "<ENTITY>"
        lines.append(f"{_brat_type(label, problems)}\tArg1:{arg1}, Arg2:{arg2}")
    lines += ["", "[events]", "", "[attributes]"]
    return "\n".join(lines) + "\n"
