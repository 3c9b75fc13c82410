"""doccano JSONL: sequence labeling (three historic shapes) and relation extraction.

Shapes read (all with character offsets into ``text``):

* ``{"text", "label": [[start, end, "LABEL"], ...]}`` (``"labels"`` in older exports);
* ``{"text", "annotations": [{"label": <id or name>, "start_offset", "end_offset", "user"}]}``
  from collaborative projects: one Example per user;
* ``{"text", "entities": [{"id", "start_offset", "end_offset", "label"}],
  "relations": [{"id", "from_id", "to_id", "type"}]}``.

Writing always uses the relation-extraction shape (it also imports as sequence labeling data).
doccano carries no tokens: Examples have ``tokens=None`` and spans ``token_start = token_end = -1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from annotator.errors import InputError
from annotator.model import Example, Relation, Span

from .checks import public_meta, require_label, require_offsets, require_record, require_text
from .jsonio import iter_json_records, write_jsonl

_ANNOTATION_KEYS = ("entities", "relations", "annotations", "label", "labels", "column_label")
_WRITTEN_KEYS = ("id", "text", "entities", "relations")


def read_doccano(
    path: str | Path,
    label_names: Mapping[Any, str] | None = None,
    *,
    text_key: str | None = None,
    label_key: str | None = None,
) -> Iterator[Example]:
    """Examples from a doccano JSONL file or a JSON file (one object or an array of objects).

    ``label_names`` maps numeric label ids (``12``) to names; without it ids stay as strings
    (``"12"``). doccano lets the user name the columns on import; its documentation's example uses
    ``column_data``/``column_label``, which are read when ``text``/``label`` are absent.
    ``text_key``/``label_key`` name other columns. The record's ``id`` and every key that is not
    text or annotation go to ``Example.meta`` (keys of a nested ``meta`` object are merged in).
    """
    path = Path(path)
    for line, value in iter_json_records(path):
        record = require_record(value, path, line)
        record_text_key = text_key or ("column_data" if "text" not in record and "column_data" in record else "text")
        text = require_text(record, path, line, key=record_text_key)
        consumed = {record_text_key, "meta"}
        meta = _meta(record)
        record_label_key = label_key or ("column_label" if "column_label" in record else None)
        if record_label_key is not None:
            consumed.add(record_label_key)
            spans = _label_list(record.get(record_label_key), text, label_names, path, line, record_label_key)
            yield Example(text=text, spans=spans, meta=_extra(record, meta, consumed), line=line)
        elif "entities" in record or "relations" in record:
            consumed |= {"entities", "relations"}
            spans, relations = _entities_and_relations(record, text, label_names, path, line)
            yield Example(text=text, spans=spans, relations=relations, meta=_extra(record, meta, consumed), line=line)
        elif "annotations" in record:
            consumed.add("annotations")
            meta = _extra(record, meta, consumed)
            for user, spans in _annotations_by_user(record["annotations"], text, label_names, path, line):
                annotator = None if user is None else str(user)
                yield Example(text=text, spans=spans, annotator=annotator, session=annotator, meta=dict(meta), line=line)
        else:
            key = "label" if "label" in record else "labels"
            consumed.add(key)
            spans = _label_list(record.get(key), text, label_names, path, line, key)
            yield Example(text=text, spans=spans, meta=_extra(record, meta, consumed), line=line)


def _meta(record: dict[str, Any]) -> dict[str, Any]:
    nested = record.get("meta")
    if nested is None:
        return {}
    if isinstance(nested, dict):
        return dict(nested)
    return {"meta": nested}


def _extra(record: dict[str, Any], meta: dict[str, Any], consumed: set[str]) -> dict[str, Any]:
    """``meta`` plus the record's other top-level keys (doccano flattens metadata on export)."""
    for key, value in record.items():
        if key not in consumed:
            meta[key] = value
    return meta


def _span(start: Any, end: Any, label: Any, text: str, label_names: Mapping[Any, str] | None, path: Path, line: int) -> Span:
    start, end = require_offsets(start, end, text, path, line)
    return Span(start, end, require_label(label, path, line, label_names, what=f"span {start}-{end}"), -1, -1)


def _label_list(value: Any, text: str, label_names: Mapping[Any, str] | None, path: Path, line: int, key: str) -> list[Span]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f'"{key}" is not a list of [start, end, label]', path, line)
    spans = []
    for item in value:
        if isinstance(item, list) and len(item) == 3:
            spans.append(_span(item[0], item[1], item[2], text, label_names, path, line))
        elif isinstance(item, dict):
            start = item.get("start_offset", item.get("start"))
            end = item.get("end_offset", item.get("end"))
            spans.append(_span(start, end, item.get("label"), text, label_names, path, line))
        else:
            raise InputError(
                f'"{key}" entry {item!r} is not [start, end, label] (text classification labels are not spans)', path, line
            )
    return spans


def _entities_and_relations(
    record: dict[str, Any], text: str, label_names: Mapping[Any, str] | None, path: Path, line: int
) -> tuple[list[Span], list[Relation]]:
    entities = record.get("entities") or []
    if not isinstance(entities, list):
        raise InputError('"entities" is not a list', path, line)
    spans: list[Span] = []
    by_id: dict[Any, Span] = {}
    for entity in entities:
        if not isinstance(entity, dict):
            raise InputError(f"entity {entity!r} is not an object", path, line)
        span = _span(entity.get("start_offset"), entity.get("end_offset"), entity.get("label"), text, label_names, path, line)
        entity_id = entity.get("id")
        if entity_id is not None:
            if entity_id in by_id:
                raise InputError(f"entity id {entity_id!r} is used twice", path, line)
            by_id[entity_id] = span
        spans.append(span)
    relations_value = record.get("relations") or []
    if not isinstance(relations_value, list):
        raise InputError('"relations" is not a list', path, line)
    relations = []
    for item in relations_value:
        if not isinstance(item, dict):
            raise InputError(f"relation {item!r} is not an object", path, line)
        label = require_label(item.get("type", item.get("label")), path, line, label_names, what="relation")
        ends = []
        for role in ("from_id", "to_id"):
            entity_id = item.get(role)
            if entity_id not in by_id:
                raise InputError(f"relation {label} {role} {entity_id!r} names an entity that is not in the record", path, line)
            ends.append(by_id[entity_id].key)
        relations.append(Relation(head=ends[0], child=ends[1], label=label))
    return spans, relations


def _annotations_by_user(value: Any, text: str, label_names: Mapping[Any, str] | None, path: Path, line: int) -> list[tuple[Any, list[Span]]]:
    """Spans grouped by ``user`` in order of first appearance (one group when nobody is named)."""
    if value is None:
        value = []
    if not isinstance(value, list):
        raise InputError('"annotations" is not a list', path, line)
    groups: dict[Any, list[Span]] = {}
    for item in value:
        if not isinstance(item, dict):
            raise InputError(f"annotation {item!r} is not an object", path, line)
        user = item.get("user")
        if isinstance(user, (list, dict)):
            raise InputError(f"annotation user {user!r} is not a name or id", path, line)
        span = _span(item.get("start_offset"), item.get("end_offset"), item.get("label"), text, label_names, path, line)
        groups.setdefault(user, []).append(span)
    if not groups:
        return [(None, [])]
    return list(groups.items())


def write_doccano(examples: Iterable[Example], path: str | Path) -> list[str]:
    """Write doccano relation-extraction JSONL; returns problems (items that could not be written).

    Each record: ``id`` (``meta["id"]`` or the record's 1-based number), ``text``, ``entities``,
    ``relations`` and the public meta keys flattened at top level, as doccano exports them. Entity
    and relation ids are numbered from 1 across the file. The caller writes one file per annotator.
    """
    problems: list[str] = []
    counters = {"entity": 0, "relation": 0}

    def records() -> Iterator[dict[str, Any]]:
        for index, example in enumerate(examples):
            where = f"example {index + 1}" + (f" (line {example.line})" if example.line else "")
            record: dict[str, Any] = {"id": example.meta.get("id", index + 1), "text": example.text, "entities": [], "relations": []}
            id_of: dict[tuple[int, int], int] = {}
            for span in example.spans:
                counters["entity"] += 1
                record["entities"].append(
                    {"id": counters["entity"], "label": span.label, "start_offset": span.start, "end_offset": span.end}
                )
                id_of.setdefault(span.key, counters["entity"])
            for rel in example.relations:
                if rel.head not in id_of or rel.child not in id_of:
                    problems.append(f"{where}: relation {rel.label} {rel.head}->{rel.child} names a span that is not annotated; not written")
                    continue
                counters["relation"] += 1
                record["relations"].append({"id": counters["relation"], "from_id": id_of[rel.head], "to_id": id_of[rel.child], "type": rel.label})
            for key, value in public_meta(example.meta).items():
                if key in _WRITTEN_KEYS:
                    continue
                if key in _ANNOTATION_KEYS or key in ("meta", "label"):
                    problems.append(f"{where}: meta key {key!r} clashes with a doccano field; not written")
                    continue
                record[key] = value
            yield record

    write_jsonl(Path(path), records())
    return problems

