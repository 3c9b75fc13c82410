"""spaCy DocBin (``.spacy``) for training: entities, span groups and relations.

Each Example becomes one Doc built from its stored tokens (``align.doc_from_example``):

* ``doc.ents`` — the spans that do not overlap (on overlap the longest is kept and the others are
  reported; they stay in the span group);
* ``doc.spans[spans_key]`` — every span;
* ``doc._.rel`` — relations as in Explosion's relation-extraction tutorial: for every ordered pair
  of entities ``(head.start, child.start)`` (FIRST token indices) a dict giving every relation
  label 1.0 when annotated and 0.0 otherwise;
* ``doc.user_data["meta"]`` — ``Example.meta``; ``doc.user_data["example"]`` — answer, annotator,
  session, timestamp, gold; ``doc.user_data["relations"]`` — every relation as
  ``[head_start, head_end, child_start, child_end, label]`` (character offsets), so relations
  between nested spans that cannot be keys of ``doc._.rel`` still survive a round trip.

``DocBin(store_user_data=True)`` is what keeps ``doc._.rel`` and the meta in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from annotator.errors import ExportError, InputError
from annotator.model import Example, Relation, Span, Token

from .align import doc_from_example, shared_vocab

REL_EXTENSION = "rel"
_USER_DATA_REL_KEY = ("._.", REL_EXTENSION, None, None)


def register_rel_extension() -> None:
    """``Doc.set_extension("rel", default={})`` unless it is registered already.

    The default dict is shared by every Doc: always assign ``doc._.rel = {...}``, never mutate it.
    """
    from spacy.tokens import Doc  # deferred: spaCy is needed only for DocBin work

    if not Doc.has_extension(REL_EXTENSION):
        Doc.set_extension(REL_EXTENSION, default={})


def write_docbin(
    examples: Iterable[Example],
    path: str | Path,
    spans_key: str = "sc",
    relation_labels: Sequence[str] | None = None,
) -> list[str]:
    """Write a ``.spacy`` file; returns problems (spans that could not be entities, and so on).

    ``relation_labels`` is the full label set every entity pair is scored on (default: the labels
    used in ``examples``, sorted); labels used but not listed are added and reported.
    """
    from spacy.tokens import DocBin  # deferred: see module docstring
    from spacy.util import filter_spans

    register_rel_extension()
    examples = list(examples)
    used_labels = sorted({rel.label for example in examples for rel in example.relations})
    labels = list(dict.fromkeys(relation_labels)) if relation_labels is not None else used_labels
    problems: list[str] = []
    for label in used_labels:
        if label not in labels:
            labels.append(label)
            problems.append(f"relation label {label!r} is not in the relation labels; added")
    vocab = shared_vocab()
    docbin = DocBin(store_user_data=True)
    for index, example in enumerate(examples):
        where = f"example {index + 1}" + (f" (line {example.line})" if example.line else "")
        doc, doc_problems = doc_from_example(vocab, example)
        problems += [f"{where}: {problem}" for problem in doc_problems]
        spans = []
        for span in example.spans:
            doc_span = doc.char_span(span.start, span.end, label=span.label, alignment_mode="strict")
            if doc_span is None:
                problems.append(f"{where}: span {span.start}-{span.end} {span.label} is not on token boundaries; not written")
                continue
            if doc_span.text[:1].isspace() or doc_span.text[-1:].isspace():
                problems.append(f"{where}: span {doc_span.text!r} {span.label} begins or ends with whitespace (spaCy debug data rejects it)")
            spans.append(doc_span)
        doc.spans[spans_key] = spans
        span_keys = {(doc_span.start_char, doc_span.end_char) for doc_span in spans}
        entities = filter_spans(spans)
        kept = {id(entity) for entity in entities}
        for doc_span in spans:
            if id(doc_span) not in kept:
                problems.append(
                    f"{where}: span {doc_span.text!r} {doc_span.label_} overlaps a longer span; kept in doc.spans[{spans_key!r}] only"
                )
        doc.ents = entities
        doc._.rel = _relation_scores(example.relations, entities, labels, problems, where)
        doc.user_data["relations"] = [[*rel.head, *rel.child, rel.label] for rel in example.relations if rel.head in span_keys and rel.child in span_keys]
        doc.user_data["meta"] = dict(example.meta)
        doc.user_data["example"] = _example_info(example)
        docbin.add(doc)
    try:
        docbin.to_disk(path)
    except OSError as error:
        raise ExportError(f"cannot write: {error.strerror or error}", path) from None
    return problems


def _relation_scores(relations: Sequence[Relation], entities: Sequence[Any], labels: Sequence[str], problems: list[str], where: str) -> dict:
    if not labels:
        return {}
    by_offsets = {(entity.start_char, entity.end_char): entity for entity in entities}
    annotated: dict[tuple[int, int], set[str]] = {}
    for rel in relations:
        head, child = by_offsets.get(rel.head), by_offsets.get(rel.child)
        if head is None or child is None:
            problems.append(f"{where}: relation {rel.label} {rel.head}->{rel.child} names a span that is not an entity; not written")
            continue
        annotated.setdefault((head.start, child.start), set()).add(rel.label)
    scores: dict[tuple[int, int], dict[str, float]] = {}
    for head in entities:
        for child in entities:
            key = (head.start, child.start)
            if head is child and key not in annotated:
                continue
            names = annotated.get(key, set())
            scores[key] = {label: 1.0 if label in names else 0.0 for label in labels}
    return scores


def _example_info(example: Example) -> dict[str, Any]:
    info: dict[str, Any] = {"answer": example.answer, "gold": example.gold}
    for key in ("annotator", "session", "timestamp"):
        value = getattr(example, key)
        if value is not None:
            info[key] = value
    return info


def read_docbin(path: str | Path, spans_key: str = "sc") -> Iterator[Example]:
    """Examples from a ``.spacy`` file: tokens from the Doc, spans from ``doc.spans[spans_key]``
    plus any ``doc.ents`` not already in it; relations from ``doc.user_data["relations"]`` when we
    wrote the file, else from ``doc._.rel`` scores of at least 0.5 (DocBins from other tools).

    Tokens are the Doc's, including whitespace tokens ``doc_from_example`` inserted, so token
    indices may differ from the Examples that were written; offsets are the same.
    """
    from spacy.tokens import DocBin  # deferred: see module docstring

    register_rel_extension()
    path = Path(path)
    try:
        docbin = DocBin().from_disk(path)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path) from None
    except Exception as error:  # zlib/msgpack/spaCy errors: the file is not a DocBin
        raise InputError(f"not a spaCy DocBin file ({type(error).__name__})", path) from None
    for index, doc in enumerate(docbin.get_docs(shared_vocab())):
        yield _example_from_doc(doc, spans_key, path, index)


def _example_from_doc(doc: Any, spans_key: str, path: Path, index: int) -> Example:
    tokens = [Token(token.idx, token.idx + len(token.text), bool(token.whitespace_)) for token in doc]
    spans: list[Span] = []
    group = list(doc.spans[spans_key]) if spans_key in doc.spans else []
    in_group = {(s.start_char, s.end_char, s.label_) for s in group}
    extra_entities = [e for e in doc.ents if (e.start_char, e.end_char, e.label_) not in in_group]
    for doc_span in group + extra_entities:
        spans.append(Span(doc_span.start_char, doc_span.end_char, doc_span.label_, doc_span.start, doc_span.end - 1))
    if "relations" in doc.user_data:
        relations = [
            Relation(head=(int(hs), int(he)), child=(int(cs), int(ce)), label=str(label))
            for hs, he, cs, ce, label in doc.user_data["relations"]
        ]
    else:
        relations = _relations_from_scores(doc, path, index)
    info = _as_lists(dict(doc.user_data.get("example") or {}))
    return Example(
        text=doc.text,
        tokens=tokens,
        spans=spans,
        relations=relations,
        answer=info.get("answer", "accept"),
        annotator=info.get("annotator"),
        session=info.get("session"),
        timestamp=info.get("timestamp"),
        meta=_as_lists(dict(doc.user_data.get("meta") or {})),
        gold=bool(info.get("gold", False)),
    )


def _relations_from_scores(doc: Any, path: Path, index: int) -> list[Relation]:
    """Relations from ``doc._.rel`` (DocBins written by other tools): scores of at least 0.5."""
    entity_at = {entity.start: entity for entity in doc.ents}
    relations = []
    rel = doc.user_data.get(_USER_DATA_REL_KEY) or {}
    for pair, scores in sorted(rel.items()):
        head_start, child_start = pair
        for label, score in scores.items():
            if score < 0.5:
                continue
            head, child = entity_at.get(head_start), entity_at.get(child_start)
            if head is None or child is None:
                raise InputError(f"doc {index + 1}: relation {label} names token pair {pair} where no entity starts", path)
            relations.append(Relation(head=(head.start_char, head.end_char), child=(child.start_char, child.end_char), label=str(label)))
    return relations


def _as_lists(value: Any) -> Any:
    """Undo msgpack's ``use_list=False`` (DocBin reads user data with it): tuples back to lists."""
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_lists(item) for item in value]
    return value
