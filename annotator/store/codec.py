"""How values are stored in the database's TEXT columns: compact JSON.

Tokens are a flat list of offsets (their whitespace follows from the text); a decision's own
split tokens are the offsets where it splits the sentence's tokens (``encode_split``); spans and
relations are lists of their ``to_dict()``; meta and settings are JSON objects.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from ..model import Relation, RelationTuple, Span, SpanTuple, Token, split_tokens, token_cuts, tokens_from_offsets


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""What ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` builds on every call."""


def dumps(value: Any) -> str:
    """``value`` as compact JSON, non-ASCII kept as it is."""
    return _ENCODER.encode(value)


def encode_tokens(tokens: Sequence[Token] | Sequence[int] | str) -> str:
    """Tokens as a flat JSON list ``[start0, end0, start1, end1, ...]`` (``ws`` follows from the text).

    Already flat offsets (ints, as segmentation makes them) are written as they are; so is that
    JSON when segmentation wrote it already (a ``str``, ``SegmentedSentence.offsets_json``).
    """
    if isinstance(tokens, str):
        return tokens
    if tokens and isinstance(tokens[0], int):
        return dumps(list(tokens))
    flat: list[int] = []
    for tok in tokens:
        flat.append(tok.start)
        flat.append(tok.end)
    return dumps(flat)


def decode_tokens(text: str, data: str) -> tuple[Token, ...]:
    flat = json.loads(data)
    return tokens_from_offsets(text, zip(flat[0::2], flat[1::2]))


def encode_split(sentence_tokens: Sequence[Token], tokens: Sequence[Token] | None) -> str | None:
    """A decision's own tokens as the offsets where they split the sentence's tokens (``"[4]"``
    for "U.S.|-made"); ``None`` (SQL ``NULL``) when they are the sentence's tokens. ``ValueError``
    when ``tokens`` are not a split of ``sentence_tokens``."""
    if tokens is None:
        return None
    cuts = token_cuts(sentence_tokens, tokens)
    return dumps(cuts) if cuts else None


def decode_split(text: str, sentence_tokens: Sequence[Token], data: str | None) -> tuple[Token, ...] | None:
    """The tokens ``encode_split`` stored (``None``: the sentence's tokens)."""
    if data is None:
        return None
    return split_tokens(text, sentence_tokens, json.loads(data))


def encode_spans(spans: Iterable[Span]) -> str:
    return dumps([s.to_dict() for s in spans])


def decode_spans(data: str) -> tuple[Span, ...]:
    return tuple(Span.from_dict(d) for d in json.loads(data))


def encode_relations(relations: Iterable[Relation]) -> str:
    return dumps([r.to_dict() for r in relations])


def decode_relations(data: str) -> tuple[Relation, ...]:
    return tuple(Relation.from_dict(d) for d in json.loads(data))


# Whole-dataset reads (agreement, the review queue) decode into plain tuples (``model.SpanTuple``,
# ``model.RelationTuple``) and count tokens without decoding them. The JSON is what the encoders
# above write: integer offsets, string labels.


def count_tokens(data: str) -> int:
    """How many tokens ``encode_tokens`` wrote in ``data``, without decoding them (two offsets each).

    >>> count_tokens("[0,5,6,9]"), count_tokens("[]")
    (2, 0)
    """
    return (data.count(",") + 1) // 2 if data.strip("[] ") else 0


def decode_span_tuples(data: str) -> tuple[SpanTuple, ...]:
    """``decode_spans`` as plain tuples: ``Span(*t)`` for each is what ``decode_spans`` returns."""
    return tuple([(d["start"], d["end"], d["label"], d["token_start"], d["token_end"], d.get("source")) for d in json.loads(data)])


def decode_relation_tuples(data: str) -> tuple[RelationTuple, ...]:
    """``decode_relations`` as plain tuples: ``Relation(*t)`` for each is what it returns."""
    return tuple([(tuple(d["head"]), tuple(d["child"]), d["label"]) for d in json.loads(data)])
