"""Prodigy JSONL: ``ner_manual`` and ``relations`` (rel.manual) tasks, and ``review`` output.

Reading keeps the stored tokens (Prodigy's tokenisation is what the annotator saw) and validates
every span against them; writing produces records Prodigy's ``db-in`` accepts, with stable
``_input_hash``/``_task_hash`` values and byte-identical output for identical input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from annotator.errors import InputError
from annotator.model import ANSWERS, Example, Relation, Span, Token, span_problem

from . import hashing
from .align import boundary_problem, token_index_maps, tokenize
from .checks import is_int, public_meta, require_label, require_offsets, require_record, require_text
from .jsonio import iter_json_records, write_jsonl

PRODIGY_META_KEY = "_prodigy"
"""Example.meta key holding Prodigy's bookkeeping (``_input_hash``, ``_task_hash``, ``_view_id``)."""

_KEPT_PRODIGY_KEYS = ("_input_hash", "_task_hash", "_view_id")


def read_prodigy(path: str | Path) -> Iterator[Example]:
    """Examples from a Prodigy JSONL (or JSON array) file, one per record.

    A record with ``versions`` (``prodigy review`` output) becomes a gold Example (the reviewer's
    final spans and answer) whose ``versions`` hold one Example per (version, session).
    """
    path = Path(path)
    for line, record in iter_json_records(path):
        yield _example_from_record(require_record(record, path, line), path, line)


def _example_from_record(record: dict[str, Any], path: Path, line: int) -> Example:
    text = require_text(record, path, line)
    tokens = _parse_tokens(record.get("tokens"), text, path, line)
    spans = _parse_spans(record.get("spans"), text, tokens, path, line)
    relations = _parse_relations(record.get("relations"), spans, tokens, path, line)
    session = _optional_str(record.get("_session_id"))
    annotator = _optional_str(record.get("_annotator_id")) or session
    meta = _parse_meta(record.get("meta"))
    prodigy = {key: record[key] for key in _KEPT_PRODIGY_KEYS if record.get(key) is not None}
    if prodigy:
        meta[PRODIGY_META_KEY] = prodigy
    example = Example(
        text=text,
        tokens=tokens,
        spans=spans,
        relations=relations,
        answer=_parse_answer(record, path, line),
        annotator=annotator,
        session=session,
        timestamp=_parse_timestamp(record.get("_timestamp"), path, line),
        meta=meta,
        line=line,
    )
    if "versions" in record and record["versions"] is not None:
        example.gold = True
        example.versions = _parse_versions(record["versions"], example, path, line)
    return example


def _parse_versions(versions: Any, final: Example, path: Path, line: int) -> list[Example]:
    if not isinstance(versions, list):
        raise InputError('"versions" is not a list', path, line)
    examples = []
    for number, version in enumerate(versions, start=1):
        if not isinstance(version, dict):
            raise InputError(f"version {number} is not an object", path, line)
        if "text" in version and version["text"] != final.text:
            raise InputError(f"version {number} has a different text than its record", path, line)
        tokens = final.tokens
        if version.get("tokens") is not None:
            tokens = _parse_tokens(version["tokens"], final.text, path, line)
        spans = _parse_spans(version.get("spans"), final.text, tokens, path, line)
        relations = _parse_relations(version.get("relations"), spans, tokens, path, line)
        answer = _parse_answer(version, path, line)
        sessions = version.get("sessions")
        if sessions is None:
            sessions = [version.get("_session_id") or version.get("_annotator_id")]
        if not isinstance(sessions, list):
            raise InputError(f'version {number}: "sessions" is not a list', path, line)
        for session in sessions:
            name = _optional_str(session)
            examples.append(
                Example(
                    text=final.text,
                    tokens=list(tokens) if tokens is not None else None,
                    spans=list(spans),
                    relations=list(relations),
                    answer=answer,
                    annotator=name,
                    session=name,
                    timestamp=_parse_timestamp(version.get("_timestamp"), path, line),
                    meta={k: v for k, v in final.meta.items() if k != PRODIGY_META_KEY},
                    line=line,
                )
            )
    return examples


def _optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _parse_meta(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return {"meta": value}


def _parse_answer(record: dict[str, Any], path: Path, line: int) -> str | None:
    if "answer" not in record:
        return "accept"
    answer = record["answer"]
    if answer is None:
        return None
    if answer not in ANSWERS:
        raise InputError(f"unknown answer {answer!r} (expected one of {', '.join(ANSWERS)})", path, line)
    return str(answer)


def _parse_timestamp(value: Any, path: Path, line: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"_timestamp {value!r} is not a number", path, line)
    return float(value)


def _parse_tokens(value: Any, text: str, path: Path, line: int) -> list[Token] | None:
    """Token offsets as given; ``ws`` is derived from the text (it is often missing), as
    ``model.tokens_from_offsets`` derives it, in the same pass: a token is made when the next one's
    start is known (by ``tuple.__new__``, what ``Token``'s own constructor calls)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError('"tokens" is not a list', path, line)
    tokens: list[Token] = []
    append = tokens.append
    previous_start = previous_end = -1
    length = len(text)
    for index, token in enumerate(value):
        if type(token) is not dict:
            raise InputError(f"token {index} is not an object", path, line)
        start = token.get("start")
        end = token.get("end")
        # Fast path for well-formed tokens; require_offsets words the error otherwise.
        if type(start) is not int or type(end) is not int or not 0 <= start < end <= length:
            start, end = require_offsets(start, end, text, path, line, what=f"token {index}")
        if start < previous_end:
            raise InputError(f"token {index} at {start}-{end} overlaps the previous token (tokens must be in order)", path, line)
        given = token.get("text")
        if given is not None and given != text[start:end]:
            raise InputError(f"token {index} {given!r} does not match the text at {start}-{end} ({text[start:end]!r})", path, line)
        if previous_end >= 0:
            append(_new_tuple(Token, (previous_start, previous_end, start > previous_end and text[previous_end].isspace())))
        previous_start, previous_end = start, end
    if previous_end >= 0:
        append(_new_tuple(Token, (previous_start, previous_end, length > previous_end and text[previous_end].isspace())))
    return tokens


_new_tuple = tuple.__new__


def _parse_span(value: Any, text: str, tokens: Sequence[Token] | None, path: Path, line: int, what: str = "span") -> Span:
    if not isinstance(value, dict):
        raise InputError(f"{what} is not an object", path, line)
    start, end = require_offsets(value.get("start"), value.get("end"), text, path, line, what=what)
    label = require_label(value.get("label"), path, line, what=f"{what} {start}-{end}")
    source = value.get("source") if isinstance(value.get("source"), str) else None
    if tokens is None or text[start:end] != text[start:end].strip():
        # no tokens, or whitespace at an edge (never on the tokens): the import refuses it or,
        # with --snap, trims it (annotated_import._snap_examples)
        return Span(start, end, label, -1, -1, source)
    token_start, token_end = value.get("token_start"), value.get("token_end")
    if token_start is None or token_end is None:
        starts, ends = token_index_maps(tokens)
        problem = boundary_problem(Span(start, end, label, -1, -1), text, starts, ends)
        if problem:
            raise InputError(problem, path, line)
        return Span(start, end, label, starts[start], ends[end], source)
    if not is_int(token_start) or not is_int(token_end):
        raise InputError(f"{what} {start}-{end} has token indices {token_start!r}-{token_end!r} that are not integers", path, line)
    span = Span(start, end, label, token_start, token_end, source)
    problem = span_problem(span, text, tokens)
    if problem:
        raise InputError(problem, path, line)
    return span


def _parse_spans(value: Any, text: str, tokens: Sequence[Token] | None, path: Path, line: int) -> list[Span]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError('"spans" is not a list', path, line)
    return [_parse_span(item, text, tokens, path, line) for item in value]


def _parse_relations(value: Any, spans: Sequence[Span], tokens: Sequence[Token] | None, path: Path, line: int) -> list[Relation]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError('"relations" is not a list', path, line)
    keys = {span.key for span in spans}
    relations = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InputError(f"relation {index} is not an object", path, line)
        label = require_label(item.get("label"), path, line, what="relation")
        head = _relation_end(item, "head", label, keys, spans, path, line)
        child = _relation_end(item, "child", label, keys, spans, path, line)
        relations.append(Relation(head=head, child=child, label=label))
    return relations


def _relation_end(item: dict[str, Any], role: str, label: str, keys: set[tuple[int, int]], spans: Sequence[Span], path: Path, line: int) -> tuple[int, int]:
    """The (start, end) of the relation's head or child span, checked against the record's spans."""
    described = item.get(f"{role}_span")
    if isinstance(described, dict):
        start, end = described.get("start"), described.get("end")
        if not (is_int(start) and is_int(end)):
            raise InputError(f"relation {label}: {role}_span has no integer start/end", path, line)
        if (start, end) not in keys:
            raise InputError(f"relation {label} names a {role} span {start}-{end} that is not in the record's spans", path, line)
        return (start, end)
    token = item.get(role)
    if not is_int(token):
        raise InputError(f"relation {label} has no {role} token index and no {role}_span", path, line)
    candidates = {span.key for span in spans if span.token_end == token}
    if not candidates:
        raise InputError(f"relation {label} names a {role} at token {token} that is not the last token of any span in the record", path, line)
    if len(candidates) > 1:
        raise InputError(f"relation {label}: {role} token {token} ends {len(candidates)} different spans; add {role}_span to say which", path, line)
    return candidates.pop()


# ---------------------------------------------------------------------------------------- writing


def write_prodigy(examples: Iterable[Example], path: str | Path) -> list[str]:
    """Write one Prodigy record per Example; returns problems (spans or relations not written).

    Examples without tokens are tokenised (:func:`annotator.formats.align.tokenize`). A span that is
    not on the Example's token boundaries, and a relation naming a span that is not written, are
    left out and reported. Used for the formats ``prodigy`` and ``jsonl``.
    """
    problems: list[str] = []

    def records() -> Iterator[dict[str, Any]]:
        for index, example in enumerate(examples):
            yield record_from_example(example, problems, f"example {index + 1}" + (f" (line {example.line})" if example.line else ""))

    write_jsonl(Path(path), records())
    return problems


def record_from_example(example: Example, problems: list[str], where: str = "example") -> dict[str, Any]:
    """The Prodigy record for one Example (problems are appended to ``problems``)."""
    text = example.text
    tokens = example.tokens if example.tokens is not None else tokenize(text, example.spans)
    spans, relations = _aligned(example, tokens, problems, where)
    record: dict[str, Any] = {"text": text}
    meta = public_meta(example.meta)
    if meta:
        record["meta"] = meta
    original = example.meta.get(PRODIGY_META_KEY) or {}
    record["_input_hash"] = original.get("_input_hash", hashing.input_hash(text))
    record["_task_hash"] = original.get("_task_hash", hashing.task_hash(text, spans, relations, example.answer))
    record["tokens"] = [
        {"text": text[start:end], "start": start, "end": end, "id": index, "ws": ws}
        for index, (start, end, ws) in enumerate(tokens)
    ]
    record["spans"] = [span.to_dict() for span in spans]
    if relations:
        by_key: dict[tuple[int, int], Span] = {}
        for span in spans:
            by_key.setdefault(span.key, span)
        record["relations"] = [
            {
                "head": by_key[rel.head].token_end,
                "child": by_key[rel.child].token_end,
                "head_span": by_key[rel.head].to_dict(),
                "child_span": by_key[rel.child].to_dict(),
                "label": rel.label,
            }
            for rel in relations
        ]
    if example.answer is not None:
        record["answer"] = example.answer
    record["_view_id"] = "relations" if relations else "ner_manual"
    if example.annotator is not None:
        record["_annotator_id"] = example.annotator
    if example.session is not None:
        record["_session_id"] = example.session
    if example.timestamp is not None:
        record["_timestamp"] = int(example.timestamp) if float(example.timestamp).is_integer() else example.timestamp
    if example.versions:
        record["versions"] = _versions(example, tokens, problems, where)
    return record


def _aligned(example: Example, tokens: Sequence[Token], problems: list[str], where: str) -> tuple[list[Span], list[Relation]]:
    """The spans with token indices recomputed from their offsets, and the relations between them."""
    starts, ends = token_index_maps(tokens)
    spans = []
    for span in example.spans:
        problem = boundary_problem(span, example.text, starts, ends)
        if problem:
            problems.append(f"{where}: {problem}; not written")
            continue
        spans.append(Span(span.start, span.end, span.label, starts[span.start], ends[span.end], span.source))
    keys = {span.key for span in spans}
    relations = []
    for rel in example.relations:
        if rel.head not in keys or rel.child not in keys:
            problems.append(f"{where}: relation {rel.label} {rel.head}->{rel.child} names a span that is not written; not written")
            continue
        relations.append(rel)
    return spans, relations



def _versions(example: Example, tokens: Sequence[Token], problems: list[str], where: str) -> list[dict[str, Any]]:
    """Group the annotators' versions by identical content, as ``prodigy review`` does."""
    groups: dict[Any, dict[str, Any]] = {}
    final_key = _content_key(example.spans, example.relations, example.answer)
    for version in example.versions:
        key = _content_key(version.spans, version.relations, version.answer)
        if key not in groups:
            record = record_from_example(
                Example(text=example.text, tokens=list(tokens), spans=version.spans, relations=version.relations, answer=version.answer),
                problems,
                f"{where} version",
            )
            groups[key] = {
                "spans": record["spans"],
                "relations": record.get("relations", []),
                "answer": version.answer,
                "sessions": [],
                "default": key == final_key,
            }
        groups[key]["sessions"].append(version.session or version.annotator)
    return list(groups.values())


def _content_key(spans: Sequence[Span], relations: Sequence[Relation], answer: str | None) -> Any:
    return (
        tuple(sorted((s.start, s.end, s.label) for s in spans)),
        tuple(sorted((r.head, r.child, r.label) for r in relations)),
        answer,
    )
