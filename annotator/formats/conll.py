"""CoNLL-style NER: one token per line, the tag in the last column, a blank line between sentences.

Reading detects the tag scheme of the whole file (IOB1, IOB2 or BILUO; ``S-``/``E-`` of
BIOES/IOBES are read as ``U-``/``L-``) unless ``scheme=`` forces one, validates every sequence and
converts with spaCy's ``iob_to_biluo`` + ``biluo_tags_to_spans``. Each sentence is one Example whose
text is its tokens joined by single spaces (CoNLL keeps no original spacing). ``-DOCSTART-`` lines
separate documents: ``meta["document"]`` is the document's 0-based index.

The JSONL variant of the CoNLL-2003 fixtures (``{"words"|"tokens": [...], "ner"|"ner_tags"|"tags":
[...]}``) is read too.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from annotator.errors import ExportError, InputError
from annotator.model import Example, Span, tokens_from_offsets

from .align import boundary_problem, shared_vocab, token_index_maps, tokenize
from .jsonio import iter_json_records, read_text_file

SCHEMES = ("iob1", "iob2", "biluo")
"""Tag schemes :func:`read_conll` understands (``scheme=`` also accepts ``bioes``/``iobes``)."""

WRITE_SCHEMES = ("iob2", "biluo")
DOCSTART = "-DOCSTART- -X- O O"
_NO_DOCUMENT = object()

_TAG = re.compile(r"^(?:O|([BILUES])-(\S.*))$")
_TAG_WORDS_KEYS = ("words", "tokens")
_TAG_KEYS = ("ner", "ner_tags", "tags", "labels")


@dataclass
class _Sentence:
    words: list[str]
    tags: list[str]
    lines: list[int]
    document: int
    index: int


def read_conll(path: str | Path, scheme: str | None = None, label_names: Mapping[Any, str] | None = None) -> Iterator[Example]:
    """Examples (one per sentence) from a CoNLL file or its JSONL variant.

    ``scheme`` forces ``"iob1"``, ``"iob2"`` or ``"biluo"``; by default the scheme is detected from
    the whole file. In IOB2 an ``I-`` tag must continue a ``B-``/``I-`` of the same type; in BILUO
    every entity must be ``U-`` or ``B- (I-)* L-``. ``label_names`` maps numeric tag ids of the JSONL
    variant (``ner_tags: [3, 4, 0]``) to tags (``"B-PER"``).
    """
    path = Path(path)
    forced = _normalise_scheme(scheme, path) if scheme is not None else None
    sentences = list(_json_sentences(path, label_names) if _is_json(path) else _text_sentences(path))
    detected = forced or detect_scheme(sentences)
    from spacy.tokens import Doc  # deferred: spaCy is only needed to convert tags to spans
    from spacy.training.iob_utils import biluo_tags_to_spans, iob_to_biluo

    vocab = shared_vocab()
    for sentence in sentences:
        biluo = _validated_biluo(sentence, detected, path, detected=forced is None)
        if detected != "biluo":
            biluo = iob_to_biluo(biluo)
        text = " ".join(sentence.words)
        offsets, position = [], 0
        for word in sentence.words:
            offsets.append((position, position + len(word)))
            position += len(word) + 1
        doc = Doc(vocab, words=sentence.words, spaces=[True] * (len(sentence.words) - 1) + [False])
        spans = [
            Span(ent.start_char, ent.end_char, ent.label_, ent.start, ent.end - 1) for ent in biluo_tags_to_spans(doc, biluo)
        ]
        yield Example(
            text=text,
            tokens=list(tokens_from_offsets(text, offsets)),
            spans=spans,
            meta={"document": sentence.document, "sentence": sentence.index},
            line=sentence.lines[0],
        )


def _is_json(path: Path) -> bool:
    """JSON records rather than token lines? Decided by the content, not the extension: the first
    line is a JSON object or array (a CoNLL line such as ``[ O`` does not end with a bracket)."""
    first = next((line.strip() for line in read_text_file(path).split("\n") if line.strip()), "")
    return first[:1] in ("{", "[") and first[-1:] in ("}", "]", "[", "{")


def _normalise_scheme(scheme: str, path: Path) -> str:
    value = scheme.lower().replace("-", "")
    if value in ("bioes", "iobes", "bilou"):
        return "biluo"
    if value == "bio":
        return "iob2"
    if value not in SCHEMES:
        raise InputError(f"unknown tag scheme {scheme!r} (expected one of {', '.join(SCHEMES)})", path)
    return value


def is_comment(line: str, columns: list[str]) -> bool:
    """``# id ...`` metadata lines (MultiCoNER, CoNLL-U style). A ``#`` token is still a token:
    only a ``#`` line whose last column is not a tag counts as a comment."""
    return line.startswith("#") and not _TAG.match(columns[-1])


def _split_columns(line: str) -> list[str]:
    """Tab-separated when the line has a tab (tokens may then contain spaces), else whitespace."""
    if "\t" in line:
        return [column.strip() for column in line.split("\t") if column.strip()]
    return line.split()


def _text_sentences(path: Path) -> Iterator[_Sentence]:
    text = read_text_file(path)
    document, index_in_document = 0, 0
    words: list[str] = []
    tags: list[str] = []
    lines: list[int] = []

    def flush() -> _Sentence | None:
        nonlocal words, tags, lines, index_in_document
        if not words:
            return None
        sentence = _Sentence(words, tags, lines, document, index_in_document)
        words, tags, lines = [], [], []
        index_in_document += 1
        return sentence

    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            if (sentence := flush()) is not None:
                yield sentence
            continue
        columns = _split_columns(line)
        if is_comment(line, columns):
            continue
        if columns[0] == "-DOCSTART-":
            if (sentence := flush()) is not None:
                yield sentence
            if index_in_document:
                document += 1
                index_in_document = 0
            continue
        if len(columns) < 2:
            raise InputError(f"line has one column {line!r}; expected a token and a tag", path, number)
        tag = columns[-1]
        if not _TAG.match(tag):
            raise InputError(f"invalid tag {tag!r} (expected O or B-/I-/L-/U-/E-/S- followed by a label)", path, number)
        words.append(columns[0])
        tags.append(tag)
        lines.append(number)
    if (sentence := flush()) is not None:
        yield sentence


def _json_sentences(path: Path, label_names: Mapping[Any, str] | None) -> Iterator[_Sentence]:
    for index, (line, record) in enumerate(iter_json_records(path)):
        if not isinstance(record, dict):
            raise InputError("record is not a JSON object", path, line)
        words = next((record[k] for k in _TAG_WORDS_KEYS if k in record), None)
        tags = next((record[k] for k in _TAG_KEYS if k in record), None)
        if not isinstance(words, list) or not isinstance(tags, list):
            raise InputError('record needs a "words" (or "tokens") list and a "ner" (or "ner_tags"/"tags") list', path, line)
        if len(words) != len(tags):
            raise InputError(f"{len(words)} word{'s' if len(words) != 1 else ''} but {len(tags)} tag{'s' if len(tags) != 1 else ''}", path, line)
        if not words:
            continue
        names = []
        for word, tag in zip(words, tags):
            if not isinstance(word, str) or not word or any(ch.isspace() for ch in word):
                raise InputError(f"word {word!r} is not a non-empty string without whitespace", path, line)
            if isinstance(tag, int) and not isinstance(tag, bool):
                if label_names is None or (tag not in label_names and str(tag) not in label_names):
                    raise InputError(f"unknown numeric label id {tag} (pass label names for numeric tags)", path, line)
                tag = label_names[tag] if tag in label_names else label_names[str(tag)]
            if not isinstance(tag, str) or not _TAG.match(tag):
                raise InputError(f"invalid tag {tag!r} (expected O or B-/I-/L-/U-/E-/S- followed by a label)", path, line)
            names.append(tag)
        yield _Sentence(list(words), names, [line] * len(words), 0, index)


def detect_scheme(sentences: Iterable[Any]) -> str:
    """``"biluo"`` when any L-/U-/E-/S- tag occurs; else ``"iob1"`` when entities begin with ``I-``
    and ``B-`` never begins one (it only separates two adjacent entities of one type); else ``"iob2"``.

    >>> detect_scheme([_Sentence(["a", "b"], ["I-PER", "B-PER"], [1, 2], 0, 0)])
    'iob1'
    >>> detect_scheme([_Sentence(["a", "b"], ["B-PER", "I-PER"], [1, 2], 0, 0)])
    'iob2'
    """
    i_begins = b_begins = False
    for sentence in sentences:
        previous = "O"
        for tag in sentence.tags:
            prefix = tag[:1]
            if prefix in ("L", "U", "E", "S"):
                return "biluo"
            if prefix in ("I", "B"):
                continues = previous != "O" and previous[2:] == tag[2:]
                if prefix == "I" and not continues:
                    i_begins = True
                if prefix == "B" and not continues:
                    b_begins = True
            previous = tag
    return "iob1" if i_begins and not b_begins else "iob2"


def _validated_biluo(sentence: _Sentence, scheme: str, path: Path, detected: bool = False) -> list[str]:
    """The sentence's tags checked against ``scheme`` (E-/S- renamed L-/U- for BILUO)."""
    why_not_iob1 = "; the file also begins entities with B-, so it is not IOB1 either" if detected else ""
    tags = []
    inside: str | None = None
    for tag, line in zip(sentence.tags, sentence.lines):
        prefix, label = (tag[0], tag[2:]) if tag != "O" else ("O", "")
        if scheme == "biluo":
            prefix = {"E": "L", "S": "U"}.get(prefix, prefix)
            if prefix in ("I", "L") and inside != label:
                what = "after O" if inside is None else f"inside a {inside} entity"
                raise InputError(f"{tag} {what}: broken BILUO sequence ({prefix}- must continue a B- of the same type)", path, line)
            if prefix in ("B", "U", "O") and inside is not None:
                raise InputError(f"{tag} while a {inside} entity is open: broken BILUO sequence (it must end with L-)", path, line)
            inside = label if prefix in ("B", "I") else None
            tags.append("O" if prefix == "O" else f"{prefix}-{label}")
        else:
            if prefix in ("L", "U", "E", "S"):
                raise InputError(f"{tag} is not an {scheme.upper()} tag", path, line)
            if scheme == "iob2" and prefix == "I" and inside != label:
                what = "after O" if inside is None else f"after a {inside} entity"
                raise InputError(f"{tag} {what}: broken IOB2 sequence (an entity must begin with B-{why_not_iob1})", path, line)
            inside = label if prefix in ("B", "I") else None
            tags.append(tag)
    if scheme == "biluo" and inside is not None:
        raise InputError(f"sentence ends inside a {inside} entity: broken BILUO sequence (missing L-)", path, sentence.lines[-1])
    return tags


# ---------------------------------------------------------------------------------------- writing


def write_conll(examples: Iterable[Example], path: str | Path, scheme: str = "iob2") -> list[str]:
    """Write ``token<TAB>TAG`` lines, a blank line after each Example, ``-DOCSTART- -X- O O``
    between documents; returns the problems (spans not written, and why).

    The document changes when ``meta["article_id"]`` (or, for data read from CoNLL,
    ``meta["document"]``) changes. Whitespace tokens are left out (CoNLL cannot hold them); a span
    that begins or ends with whitespace is trimmed. Overlapping spans cannot be encoded: the longest
    is kept (``spacy.util.filter_spans``) and each dropped one is reported. Relations are not part of
    CoNLL and are not written.
    """
    if scheme not in WRITE_SCHEMES:
        raise ExportError(f"unknown CoNLL scheme {scheme!r} (expected one of {', '.join(WRITE_SCHEMES)})", path)
    from spacy.tokens import Doc, Span as DocSpan  # deferred: spaCy builds the docs the tags are computed on
    from spacy.training.iob_utils import biluo_to_iob, offsets_to_biluo_tags
    from spacy.util import filter_spans

    vocab = shared_vocab()
    problems: list[str] = []
    out: list[str] = []
    previous_document: Any = _NO_DOCUMENT
    for index, example in enumerate(examples):
        where = f"example {index + 1}" + (f" (line {example.line})" if example.line else "")
        document = example.meta.get("article_id", example.meta.get("document"))
        if previous_document is not _NO_DOCUMENT and document != previous_document:
            out += [DOCSTART, ""]
        previous_document = document
        text = example.text
        tokens = example.tokens if example.tokens is not None else tokenize(text, example.spans)
        kept = [i for i, token in enumerate(tokens) if not text[token.start : token.end].isspace()]
        if not kept:
            problems.append(f"{where}: no tokens (the text is only whitespace); not written")
            continue
        words = []
        for i in kept:
            word = text[tokens[i].start : tokens[i].end]
            if any(ch.isspace() for ch in word):
                fixed = "_".join(word.split())
                problems.append(f"{where}: token {word!r} contains whitespace; written as {fixed!r}")
                word = fixed
            words.append(word)
        doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
        new_index = {old: new for new, old in enumerate(kept)}
        starts, ends = token_index_maps(tokens)
        candidates = []
        for span in example.spans:
            problem = boundary_problem(span, text, starts, ends)
            if problem:
                problems.append(f"{where}: {problem}; not written")
                continue
            first, last = starts[span.start], ends[span.end]
            inner = [new_index[i] for i in range(first, last + 1) if i in new_index]
            if not inner:
                problems.append(f"{where}: span {span.start}-{span.end} {span.label} is only whitespace; not written")
                continue
            if first not in new_index or last not in new_index:
                problems.append(f"{where}: span {span.start}-{span.end} {span.label} begins or ends with whitespace; written without it")
            candidates.append(DocSpan(doc, inner[0], inner[-1] + 1, label=span.label))
        chosen = filter_spans(candidates)
        chosen_ids = {id(s) for s in chosen}
        for candidate in candidates:
            if id(candidate) not in chosen_ids:
                problems.append(
                    f"{where}: span {candidate.text!r} {candidate.label_} overlaps a longer span and cannot be written to CoNLL; dropped"
                )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tags = offsets_to_biluo_tags(doc, [(s.start_char, s.end_char, s.label_) for s in chosen])
        if scheme == "iob2":
            tags = biluo_to_iob(tags)
        out += [f"{word}\t{tag}" for word, tag in zip(words, tags)]
        out.append("")
    try:
        Path(path).write_text("".join(line + "\n" for line in out), encoding="utf-8", newline="\n")
    except OSError as error:
        raise ExportError(f"cannot write: {error.strerror or error}", path) from None
    return problems
