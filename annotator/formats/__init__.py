"""Exchange formats: one module per format with symmetric ``read_*``/``write_*`` functions.

========  =========================  ===================================================
format    module                     functions
========  =========================  ===================================================
prodigy   :mod:`.prodigy`            ``read_prodigy``, ``write_prodigy`` (also ``jsonl``)
doccano   :mod:`.doccano`            ``read_doccano``, ``write_doccano``
brat      :mod:`.brat`               ``read_brat``, ``write_brat``, ``BratReport``
conll     :mod:`.conll`              ``read_conll``, ``write_conll``
spacy     :mod:`.docbin`             ``read_docbin``, ``write_docbin``
========  =========================  ===================================================

:func:`writer_for` gives every format's writer with one signature, ``write(examples, path,
options)``: :class:`WriteOptions` carries what only some formats use (the spans key and relation
labels of a DocBin, the CoNLL tag scheme, brat's entity names and relation constraints).

Part of the headless core: nothing here imports Textual, and spaCy is imported only inside the
functions that need it. The names above are importable from this package; the modules are loaded
on first use (PEP 562 ``__getattr__``) so ``import annotator.formats`` stays cheap.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from annotator.errors import InputError

if TYPE_CHECKING:
    from annotator.model import Example

FORMAT_NAMES = ("prodigy", "jsonl", "doccano", "brat", "conll", "spacy")
"""Formats the importer and exporter accept (``jsonl`` is written like ``prodigy``)."""

_CONLL_SUFFIXES = {".conll", ".conll03", ".conll2003", ".iob", ".iob1", ".iob2", ".bio", ".bilou", ".biluo", ".bioes", ".iobes", ".tsv", ".ner"}
_JSON_SUFFIXES = {".jsonl", ".json", ".ndjson"}
_CONLL_TAG = re.compile(r"^(?:O|[BILUES]-\S.*)$")
_PRODIGY_KEYS = {"_input_hash", "_task_hash", "_view_id", "_session_id", "_annotator_id", "answer", "spans", "versions"}
_DOCCANO_KEYS = {"entities", "annotations", "label", "labels", "column_label"}
_CONLL_TAG_KEYS = {"ner", "ner_tags", "tags"}

_EXPORTS = {
    "read_prodigy": "prodigy",
    "write_prodigy": "prodigy",
    "read_doccano": "doccano",
    "write_doccano": "doccano",
    "read_brat": "brat",
    "write_brat": "brat",
    "BratReport": "brat",
    "read_conll": "conll",
    "write_conll": "conll",
    "read_docbin": "docbin",
    "write_docbin": "docbin",
    "doc_from_example": "align",
    "tokenize": "align",
    "assign_token_indices": "align",
}
_READERS = {"prodigy": "read_prodigy", "jsonl": "read_prodigy", "doccano": "read_doccano", "brat": "read_brat", "conll": "read_conll", "spacy": "read_docbin"}

__all__ = ["FORMAT_NAMES", "WriteOptions", "Writer", "detect_format", "reader_for", "writer_for", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def reader_for(format_name: str) -> Callable[..., Any]:
    """The ``read_*`` function of a format name from :data:`FORMAT_NAMES`."""
    return __getattr__(_READERS[format_name])


@dataclass(frozen=True)
class WriteOptions:
    """What some writers need beyond the examples; each writer reads only its own fields."""

    spans_key: str = "sc"
    """spacy: the ``doc.spans`` key that holds every span."""
    relation_labels: Sequence[str] | None = None
    """spacy: the full relation label set every entity pair is scored on (default: the labels used)."""
    conll_scheme: str = "iob2"
    """conll: ``iob2`` or ``biluo`` tags."""
    entity_names: Sequence[str] = ()
    """brat: entity labels declared in ``annotation.conf`` (besides those used)."""
    relation_constraints: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None
    """brat: relation name -> (head labels, child labels) for ``annotation.conf``."""
    split_tokens: bool = False
    """spacy: some decisions split tokens of their sentence, so the training config reads the
    DocBin's own tokens (``gold_preproc``) rather than re-tokenising the text."""


Writer = Callable[["Iterable[Example]", Path, WriteOptions], list[str]]
"""``write(examples, path, options)``: writes the file (a folder for brat), returns problems."""

_DEFAULT_OPTIONS = WriteOptions()


def _function(name: str) -> Callable[..., Any]:
    """A ``write_*`` function as this package exposes it now (loaded on first use)."""
    return globals().get(name) or __getattr__(name)


def _write_prodigy(examples: Iterable[Example], path: Path, options: WriteOptions = _DEFAULT_OPTIONS) -> list[str]:
    return _function("write_prodigy")(examples, path)


def _write_doccano(examples: Iterable[Example], path: Path, options: WriteOptions = _DEFAULT_OPTIONS) -> list[str]:
    return _function("write_doccano")(examples, path)


def _write_conll(examples: Iterable[Example], path: Path, options: WriteOptions = _DEFAULT_OPTIONS) -> list[str]:
    return _function("write_conll")(examples, path, scheme=options.conll_scheme)


def _write_docbin(examples: Iterable[Example], path: Path, options: WriteOptions = _DEFAULT_OPTIONS) -> list[str]:
    relation_labels = list(options.relation_labels) if options.relation_labels is not None else None
    return _function("write_docbin")(examples, path, spans_key=options.spans_key, relation_labels=relation_labels)


def _write_brat(documents: Iterable[Example], path: Path, options: WriteOptions = _DEFAULT_OPTIONS) -> list[str]:
    return _function("write_brat")(documents, path, options.entity_names, options.relation_constraints)


_WRITERS: dict[str, Writer] = {
    "prodigy": _write_prodigy,
    "jsonl": _write_prodigy,
    "doccano": _write_doccano,
    "brat": _write_brat,
    "conll": _write_conll,
    "spacy": _write_docbin,
}


def writer_for(format_name: str) -> Writer:
    """The writer of a format name from :data:`FORMAT_NAMES`: ``write(examples, path, options)``
    with ``options`` optional (:class:`WriteOptions` defaults are each writer's own defaults)."""
    return _WRITERS[format_name]


def detect_format(path: str | Path) -> str:
    """The format of ``path``: one of :data:`FORMAT_NAMES` minus ``jsonl``, or ``"text"``.

    ``"text"`` means un-annotated articles (``.txt`` files, or JSON records without annotation
    keys — a record without a text is left for the article reader to report with its line). Decided by the extension and, when that is not enough, by the content: a folder
    with ``.ann`` files is brat; a ``.txt`` beside an ``.ann`` is brat; token-per-line content is
    CoNLL; the first JSON record's keys tell Prodigy from doccano. Undecidable input raises
    ``InputError`` saying what was seen.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    if path.is_dir():
        if next(path.rglob("*.ann"), None) is not None:
            return "brat"
        if next(path.rglob("*.txt"), None) is not None:
            return "text"
        raise InputError("cannot tell the format of this folder: it has no brat .ann files and no .txt articles", path)
    suffix = path.suffix.lower()
    if suffix == ".spacy":
        return "spacy"
    if suffix == ".ann":
        return "brat"
    if suffix == ".txt":
        if path.with_suffix(".ann").exists():
            return "brat"
        return "conll" if _looks_like_conll(path) else "text"
    if suffix in _CONLL_SUFFIXES:
        return "conll"
    if suffix in _JSON_SUFFIXES:
        return _json_format(path)
    head = _head(path).lstrip()[:1]
    if head in ("{", "["):
        return _json_format(path)
    if _looks_like_conll(path):
        return "conll"
    raise InputError(
        f"cannot tell the format from the extension {suffix or '(none)'!r} or the content; "
        f"name the format explicitly (one of {', '.join(FORMAT_NAMES)})",
        path,
    )


def _head(path: Path, size: int = 65536) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(size)
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path) from None
    return data.decode("utf-8-sig", errors="replace")


def _looks_like_conll(path: Path) -> bool:
    """Token-per-line content: every line (of the first 50) is ``TOKEN ... TAG`` or ``-DOCSTART-``."""
    from .conll import _split_columns, is_comment  # the reader's own rules

    head = _head(path)
    lines = head.split("\n")
    if len(head) >= 65536:
        lines = lines[:-1]  # the last line may be cut
    seen = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        columns = _split_columns(line)
        if columns[0] == "-DOCSTART-" or is_comment(line, columns):
            continue
        if len(columns) < 2 or not _CONLL_TAG.match(columns[-1]):
            return False
        seen += 1
        if seen >= 50:
            break
    return seen > 0


def _json_format(path: Path) -> str:
    from .jsonio import peek_json_record

    record = peek_json_record(path)
    if record is None:
        raise InputError("cannot tell the format: the file has no records", path)
    if not isinstance(record, dict):
        raise InputError("cannot tell the format: the first record is not a JSON object", path)
    keys = set(record)
    if "paragraphs" in keys:
        raise InputError(
            "spaCy v2 JSON training data is not supported; convert it with `python -m spacy convert FILE OUTDIR` "
            "and import the .spacy file",
            path,
        )
    words = record.get("words", record.get("tokens"))
    if keys & _CONLL_TAG_KEYS and isinstance(words, list) and all(isinstance(word, str) for word in words):
        return "conll"
    if keys & _PRODIGY_KEYS or isinstance(record.get("tokens"), list):
        return "prodigy"
    if keys & _DOCCANO_KEYS:
        return "doccano"
    relations = record.get("relations")
    if isinstance(relations, list) and relations and isinstance(relations[0], dict):
        return "doccano" if "from_id" in relations[0] else "prodigy"
    # No annotation keys: un-annotated records. The article reader checks each record's "text" and
    # names the line of one that lacks it, which says more than "cannot tell the format".
    return "text"
