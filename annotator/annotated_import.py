"""Importing annotated data: Prodigy, doccano, brat, CoNLL and DocBin files become articles,
sentences and decisions in the store (``annotator import`` of annotated files). The formats
themselves live in ``annotator.formats``; this module maps their format-neutral ``Example``
records to the store. Exporting is ``annotator.export``.

Import shapes:

* sentence units (Prodigy, doccano, DocBin): each distinct text is an article of one sentence
  (the text kept verbatim, tokens as given or spaCy's with a split at every span boundary);
* documents (brat): the ``.txt`` is the article; it is segmented like any article, and sentences
  are joined where a span or a relation would cross them;
* CoNLL: each ``-DOCSTART-`` document is an article whose sentences are the file's sentences
  (joined by blank lines), tokens as given.

A span whose boundary falls inside a token stored for its sentence is kept by splitting that
token for its decision only (``Decision.tokens``; the sentence keeps its tokens), and reported:
at a boundary between a letter or digit and anything else ("U.S.|-made", "pro-|Russian") always,
between two letters of a word ("e|xample") only with ``--snap split`` (refused otherwise, naming
the file and line). Records of one text with different tokens (our own export of decisions that
split tokens) share the tokens common to all of them.

Each file is one transaction. Decisions get a uid derived from their content, so importing the
same file again adds nothing. What an import has to say (a brat report, snapped spans) goes to
``on_message``, one line at a time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .errors import AnnotatorError, DatasetError, InputError
from .model import Example, Relation, Sentence, Span, Token, overlapping_pairs, split_for_spans, tokens_from_offsets
from .segment import content_hash
from .store import DecisionRecord, ImportCounts, Store
from .wording import plural

DEFAULT_IMPORT_ANNOTATOR = "imported"

MessageFn = Callable[[str], None]
"""Receives one line of what an import reports (the CLI prints it on stderr)."""


def parse_label_map(items: Sequence[str]) -> dict[str, str]:
    """``["OLD=NEW", ...]`` → ``{"OLD": "NEW"}``."""
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise DatasetError(f"--map expects OLD=NEW, not {item!r}")
        mapping[old] = new
    return mapping


def _dataset_settings(store: Store, dataset: str) -> dict[str, Any]:
    """The dataset's settings, or none when it does not exist yet (it is created by the import)."""
    info = store.find_dataset(dataset)
    return info.settings if info is not None else {}


def _read_examples(path: Path, fmt: str, on_message: MessageFn | None = None) -> list[Example]:
    from . import formats

    if fmt == "brat":
        report = formats.BratReport()
        examples = list(formats.read_brat(path, report=report))
        if report.counts and on_message is not None:
            on_message(f"{path}: {report.summary()}")
            for message in report.messages[:20]:
                on_message(f"  {message}")
        return examples
    if fmt not in formats.FORMAT_NAMES:
        raise InputError(f"unknown format {fmt!r} (known: text, {', '.join(formats.FORMAT_NAMES)})", path)
    return list(formats.reader_for(fmt)(path))


def _flatten(examples: Iterable[Example]) -> Iterator[Example]:
    """Each example, then each of its review versions."""
    for example in examples:
        yield example
        yield from example.versions


def _relabel(example: Example, mapping: dict[str, str]) -> None:
    if not mapping:
        return
    example.spans = [replace(s, label=mapping.get(s.label, s.label)) for s in example.spans]
    example.relations = [replace(r, label=mapping.get(r.label, r.label)) for r in example.relations]


def _where(path: Path, example: Example) -> tuple[Path, int | None]:
    """The file (a brat document's ``.ann``) and line an example came from."""
    return _brat_ann(path, example), example.line


def _brat_ann(path: Path, example: Example) -> Path:
    """The ``.ann`` file of a brat document (read from a folder or from one ``.txt``/``.ann``);
    ``path`` itself for other formats."""
    name = example.meta.get("name")
    if name and Path(path).is_dir():
        return Path(path) / f"{name}.ann"
    if name and Path(path).suffix in (".txt", ".ann"):
        return Path(path).with_suffix(".ann")
    return Path(path)


class _Splits:
    """The ``--snap`` mode as far as spans inside stored tokens go, and the spans kept by splitting;
    also which sentences the file created, whose current decisions need no query."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self.kept: list[str] = []
        """``where: 'span' LABEL in 'token' …`` for each span kept by splitting a token."""
        self.created: set[int] = set()
        """Ids of the sentences this file's import created: they have no decisions but its own."""
        self.decided: set[tuple[int, str, bool]] = set()
        """``(sentence id, annotator, gold)`` of every decision this file's import added or found."""
        self.pending: _Pending | None = None
        """Sentence units: the new sentences' first decisions, written in one batch (``_import_units``)."""

    def check(self, sentence: Sentence, start: int, end: int, label: str, path, line: int | None,
              given: frozenset[int] = frozenset()) -> None:
        """Accept the span ``start``-``end`` of ``sentence`` that is off its tokens (split them for the
        decision), or raise ``InputError``: a boundary between tokens (not inside one), or a cut
        between two letters of a word without ``--snap split`` that the record's own tokens
        (``given``: their boundaries, in the sentence's offsets) do not make either (our own export
        of a decision that split a token carries the split in its tokens)."""
        text = sentence.text
        covered = text[start:end]
        inside = []
        for offset, side, bounds in ((start, "starts", {t.start for t in sentence.tokens}),
                                     (end, "ends", {t.end for t in sentence.tokens})):
            if offset in bounds:
                continue
            token = next((t for t in sentence.tokens if t.start < offset < t.end), None)
            if token is None:
                raise InputError(
                    f"span {start}-{end} {covered!r} {label} does not align with the tokens stored for this text", path, line,
                )
            word = text[token.start:token.end]
            if text[offset - 1].isalnum() and text[offset].isalnum() and self.mode != "split" and offset not in given:
                raise InputError(
                    f"span {start}-{end} {covered!r} {label} {side} inside the word {word!r} (a token stored for this "
                    "text); fix the offsets or import with --snap split to keep it by splitting the token for its decision",
                    path, line,
                )
            inside.append(word)
        where = f"{path}:{line}" if line else str(path)
        self.kept.append(f"{where}: {covered!r} {label} inside {' and '.join(repr(w) for w in dict.fromkeys(inside))}")

    def report(self, path, on_message: MessageFn | None) -> None:
        if not self.kept or on_message is None:
            return
        on_message(f"{path}: kept {plural(len(self.kept), 'span')} inside a token by splitting the token for its decision")
        for note in self.kept[:5]:
            on_message(f"  {note}")
        if len(self.kept) > 5:
            on_message(f"  … and {len(self.kept) - 5} more")


def _common_tokens(token_lists: Sequence[Sequence[Token]], text: str) -> tuple[Token, ...]:
    """The first list's tokens joined where another list has no boundary between two adjacent
    ones: the tokens every record of a text shares (records that split tokens differently)."""
    first = token_lists[0]
    if all(other is first or other == first for other in token_lists[1:]):
        return tuple(first)  # one tokenization (the usual case): its tokens, already built from ``text``
    bounds = [{t.start for t in other} | {t.end for t in other} for other in token_lists[1:]]
    pieces: list[list[int]] = []
    for token in first:
        if pieces and pieces[-1][1] == token.start and not all(token.start in b for b in bounds):
            pieces[-1][1] = token.end
        else:
            pieces.append([token.start, token.end])
    return tokens_from_offsets(text, [(a, b) for a, b in pieces])


def _span_lines(example: Example) -> dict[tuple[int, int], int]:
    """The line of each span in its file, where the format says (brat: the ``T`` line of the ``.ann``)."""
    return {(a, b): n for a, b, n in example.meta.get("span_lines") or ()}


def _snap_examples(examples: Sequence[Example], path: Path, mode: str | None, on_message: MessageFn | None = None) -> None:
    """Refuse (``mode`` None) or snap (``expand``/``contract``) spans that cut a word, for examples
    whose format carries no tokens (their spans define the tokens, so a cut would be stored as is).
    Relations follow their snapped spans; a span contracted to nothing is dropped with them."""
    from .formats.align import snap_span, tokenize, trim_whitespace

    if mode is not None and mode not in ("expand", "contract", "split"):
        raise DatasetError(f"--snap must be expand or contract (or split), not {mode!r}")
    token_cache: dict[str, list[Token]] = {}
    changes: list[str] = []
    trimmed = False
    for example in _flatten(examples):
        if not example.spans:
            continue
        text = example.text
        if example.tokens is not None and all(
            (covered := text[s.start:s.end]) == covered.strip() for s in example.spans
        ):
            continue  # tokens given and no whitespace at a span's edge: nothing to trim
        if example.tokens is None and text not in token_cache:
            token_cache = {text: tokenize(text)}  # one text at a time: versions share their record's text
        span_lines = _span_lines(example)
        moved: dict[tuple[int, int], tuple[int, int] | None] = {}
        spans: list[Span] = []
        file, record_line = _where(path, example)
        for span in example.spans:
            line = span_lines.get(span.key, record_line)
            where = f"{file}:{line}" if line else str(file)
            if example.tokens is None:
                snapped, problem = snap_span(text, span, token_cache[text], mode)
            else:  # tokens given: only whitespace at an edge is trimmed; a span off them is refused later
                snapped, problem = trim_whitespace(text, span, mode)
            if problem:
                raise InputError(problem, file, line)
            covered = text[span.start:span.end]
            trimmed = trimmed or covered != covered.strip()
            if snapped is None:
                moved[span.key] = None
                changes.append(f"{where}: {text[span.start:span.end]!r} {span.label} dropped (no whole token inside)")
                continue
            if snapped.key != span.key:
                moved[span.key] = snapped.key
                changes.append(f"{where}: {text[span.start:span.end]!r} → {text[snapped.start:snapped.end]!r} {span.label}")
            spans.append(snapped)
        if not moved:
            continue
        example.spans = spans
        relations = []
        for relation in example.relations:
            head, child = moved.get(relation.head, relation.head), moved.get(relation.child, relation.child)
            if head is None or child is None:
                changes.append(f"{where}: relation {relation.label} dropped with its span")
                continue
            relations.append(Relation(head, child, relation.label))
        example.relations = relations
    if changes and on_message is not None:
        n = sum(1 for c in changes if not c.split(": ", 1)[1].startswith("relation "))
        what = "that cut a word" if not trimmed else "that cut a word or had whitespace at an edge"
        on_message(f"{path}: snapped {plural(n, 'span')} {what} (--snap {mode})")
        for change in changes[:5]:
            on_message(f"  {change}")
        if len(changes) > 5:
            on_message(f"  … and {len(changes) - 5} more")


def import_annotated(
    store: Store,
    dataset: str,
    path: Path,
    fmt: str,
    scheme,
    *,
    annotator: str | None = None,
    add_labels: bool = False,
    label_map: Sequence[str] = (),
    on_message: MessageFn | None = None,
    snap: str | None = None,
    dataset_settings: dict[str, Any] | None = None,
) -> ImportCounts:
    """Import one annotated file (or brat folder) as decisions, all or nothing.

    Spans that cut a word are refused, or snapped with ``snap`` (``expand``/``contract``), or kept
    by splitting the token for their decision (``split``), and reported to ``on_message``; spans
    inside a stored token at a non-letter boundary are kept by splitting it (see the module
    docstring). A new dataset is created in the same transaction as the data.
    """
    examples = _read_examples(path, fmt, on_message)
    if not examples:
        raise InputError("no records to import (empty file)", path)
    _snap_examples(examples, path, snap, on_message)
    for example in examples:
        _provenance(example)
    mapping = parse_label_map(label_map)
    for example in _flatten(examples):
        _relabel(example, mapping)
    scheme = scheme.for_dataset(_dataset_settings(store, dataset))
    entity_labels = {s.label for e in _flatten(examples) for s in e.spans}
    relation_labels = {r.label for e in _flatten(examples) for r in e.relations}
    unknown_entities = sorted(entity_labels - set(scheme.entity_names))
    unknown_relations = sorted(relation_labels - set(scheme.relation_names))
    if (unknown_entities or unknown_relations) and not add_labels:
        parts = []
        if unknown_entities:
            parts.append("entity labels " + ", ".join(unknown_entities))
        if unknown_relations:
            parts.append("relation labels " + ", ".join(unknown_relations))
        raise InputError(
            f"{' and '.join(parts)} are not in the scheme ({scheme.path}); "
            "use --add-labels to accept them or --map OLD=NEW to rename them",
            path,
        )
    counts = ImportCounts()
    splits = _Splits(snap)
    with store.transaction():
        store.ensure_dataset(dataset, dataset_settings)
        if unknown_entities or unknown_relations:
            info = store.dataset(dataset)
            store.set_dataset_settings(
                dataset,
                {
                    "extra_entities": sorted(set(info.settings.get("extra_entities", [])) | set(unknown_entities)),
                    "extra_relations": sorted(set(info.settings.get("extra_relations", [])) | set(unknown_relations)),
                },
            )
            scheme = scheme.for_dataset(store.dataset(dataset).settings)
        if fmt == "brat":
            for example in examples:
                counts.add(_import_document(store, dataset, path, example, scheme, annotator, splits))
        elif fmt == "conll":
            by_document: dict[Any, list[Example]] = defaultdict(list)
            for example in examples:
                by_document[example.meta.get("document", 0)].append(example)
            by_words: dict[str, list[Sentence]] | None = None
            for document in by_document.values():
                if store.article_id_by_hash(dataset, content_hash("\n\n".join(e.text for e in document))) is None:
                    if by_words is None:
                        by_words = _sentences_by_words(store, dataset)
                    matched = _stored_conll_sentences(by_words, document)
                    if matched is not None:
                        # CoNLL carries no ids: our own export goes back onto its sentences, matched by their words
                        counts.decisions += _add_conll_to_stored(store, dataset, path, matched, scheme, annotator, splits)
                        continue
                counts.add(_import_conll_document(store, dataset, path, document, scheme, annotator, splits))
        else:
            by_text: dict[str, list[Example]] = defaultdict(list)
            for example in examples:
                exported = _exported_sentence(store, dataset, example)
                if exported is not None:
                    # our own export of this dataset: its decisions go to the sentence already there
                    counts.decisions += _add_example_decisions(store, dataset, path, [exported], example, scheme, annotator, splits)
                    continue
                by_text[example.text].append(example)
            counts.add(_import_units(store, dataset, path, by_text, scheme, annotator, splits))
    splits.report(path, on_message)
    return counts


def _provenance(example: Example) -> None:
    """What our own exports say in a record's meta: the annotator (doccano has no field for it) and
    the gold flag (Prodigy has none outside review output)."""
    if example.meta.get("gold") is True:
        example.gold = True
    named = example.meta.get("annotator")
    if example.annotator is None and isinstance(named, str) and named:
        example.annotator = named


def _exported_sentence(store: Store, dataset: str, example: Example) -> Sentence | None:
    """The stored sentence an exported record came from: the record's meta names the article
    (``article_hash``, else ``article_id`` of this dataset) and ``sentence_index``, and the stored
    sentence has exactly the record's text (never matched otherwise)."""
    meta = example.meta
    index = meta.get("sentence_index")
    if type(index) is not int:
        return None
    article_id = None
    if isinstance(meta.get("article_hash"), str):
        article_id = store.article_id_by_hash(dataset, meta["article_hash"])
    elif type(meta.get("article_id")) is int:
        try:
            article = store.article(meta["article_id"])
        except AnnotatorError:
            article = None
        if article is not None and article.dataset == dataset:
            article_id = article.id
    if article_id is None:
        return None
    for sentence in store.article_sentences(article_id):
        if sentence.index == index:
            return sentence if sentence.text == example.text else None
    return None


def _unit_article(path, text: str, group: list[Example], digest: str) -> tuple[str, str, str, str, dict[str, Any], list]:
    """The article a new text of sentence units becomes: ``(title, text, hash, source, meta,
    [(0, len(text), tokens)])`` (``BulkImport.add_articles``)."""
    from .formats import tokenize

    given = [e.tokens for e in _flatten(group) if e.tokens is not None]
    if given:
        tokens = _common_tokens(given, text)
    else:
        tokens = tuple(tokenize(text, [s for e in _flatten(group) for s in e.spans]))
    first = group[0]
    title = str(first.meta.get("title") or text.strip().splitlines()[0][:120] if text.strip() else "")
    meta = {k: v for k, v in first.meta.items() if k not in ("title",)}
    return title, text, digest, f"{path}:{first.line or 1}", meta, [(0, len(text), tokens)]


def _import_units(store, dataset, path, by_text: dict[str, list[Example]], scheme, annotator, splits) -> ImportCounts:
    """Sentence units (each distinct text one article of one sentence) in bulk: the texts the
    dataset lacks become articles and sentences with one ``executemany`` each, then the decisions
    in file order; those of the new sentences wait in ``splits.pending`` for one ``executemany``
    (written before anything reads decisions, so the rows are those of one insert per record)."""
    from .store.bulk import BulkImport

    bulk = BulkImport(store, dataset)
    digests = {text: content_hash(text) for text in by_text}
    existing = bulk.article_ids_by_hash(list(digests.values()))
    new = [_unit_article(path, text, group, digests[text]) for text, group in by_text.items() if digests[text] not in existing]
    added = {article[2]: (article, result) for article, result in zip(new, bulk.add_articles(new))}
    counts = ImportCounts()
    splits.pending = _Pending(bulk)
    for text, group in by_text.items():
        digest = digests[text]
        if digest in added:
            article, (article_id, article_counts) = added[digest]
            counts.add(article_counts)
            tokens = article[5][0][2]
            sentences = [Sentence(article_counts.first_sentence_id, article_id, 0, article_counts.first_position or 0, 0,
                                  len(text), text, tokens)]
            if article_counts.first_sentence_id is not None:
                splits.created.add(article_counts.first_sentence_id)
        else:
            sentences = store.article_sentences(existing[digest])
        for example in group:
            counts.decisions += _add_example_decisions(store, dataset, path, sentences, example, scheme, annotator, splits)
    counts.decisions += splits.pending.flush()
    splits.pending = None
    return counts


class _Pending:
    """Decisions of sentences this file created, each the first of its (sentence, annotator,
    gold), kept for one ``BulkImport.add_decisions``; checked when they come, as one by one."""

    def __init__(self, bulk) -> None:
        self.bulk = bulk
        self.records: list[DecisionRecord] = []
        self.added = 0

    def add(self, record: DecisionRecord) -> None:
        self.bulk.check(record)
        self.records.append(record)

    def flush(self) -> int:
        """Write what waits; how many decisions were added since the last ``flush`` returned."""
        if self.records:
            self.added += self.bulk.add_decisions(self.records, checked=True)
            self.records = []
        added, self.added = self.added, 0
        return added


def _words(text: str, tokens) -> str:
    """The texts of a sentence's tokens joined, whitespace tokens aside (what a CoNLL file keeps of
    it, whatever tokens a decision split: "U.S." "-made" and "U.S.-made" are the same)."""
    return "".join(text[t.start:t.end] for t in tokens if not text[t.start:t.end].isspace())


def _characters(text: str, tokens) -> list[int]:
    """The offset of each character of :func:`_words` in ``text``."""
    return [k for t in tokens if not text[t.start:t.end].isspace() for k in range(t.start, t.end)]


def _sentences_by_words(store: Store, dataset: str) -> dict[str, list[Sentence]]:
    """The dataset's sentences by their words (empty for a new dataset)."""
    index: dict[str, list[Sentence]] = defaultdict(list)
    if store.find_dataset(dataset) is None:
        return index
    for sentence in store.iter_sentences(dataset):
        index[_words(sentence.text, sentence.tokens)].append(sentence)
    return index


def _stored_conll_sentences(by_words: dict[str, list[Sentence]], document: list[Example]) -> list[tuple[Sentence, Example]] | None:
    """The stored sentences a CoNLL document's sentences are, each example moved onto its stored
    sentence's text, when every sentence of the document has exactly one stored sentence with the
    same words (CoNLL keeps the tokens but not the spacing: its text is the words joined by single
    spaces); otherwise ``None`` (the document becomes a new article, as any other)."""
    matched = []
    for example in document:
        tokens = [t for t in example.tokens or () if not example.text[t.start:t.end].isspace()]
        candidates = by_words.get(_words(example.text, tokens), [])
        if len(candidates) != 1:
            return None
        sentence = candidates[0]
        # the same characters: each of the file's token boundaries is a stored offset
        stored = _characters(sentence.text, sentence.tokens)
        given = _characters(example.text, tokens)
        starts = {k: stored[i] for i, k in enumerate(given)}
        ends = {k + 1: stored[i] + 1 for i, k in enumerate(given)}
        if any(sp.start not in starts or sp.end not in ends for sp in example.spans):
            return None
        text = sentence.text
        if any(0 < offset < len(text) and text[offset - 1].isalnum() and text[offset].isalnum()
               and offset not in {t.start for t in sentence.tokens} | {t.end for t in sentence.tokens}
               for sp in example.spans for offset in (starts[sp.start], ends[sp.end])):
            return None  # a span that cuts a stored word: not this sentence's annotation (a new article, as before)

        def moved(key: tuple[int, int]) -> tuple[int, int]:
            return (starts[key[0]], ends[key[1]])

        matched.append((sentence, replace(
            example, text=sentence.text, tokens=None,
            spans=[replace(sp, start=starts[sp.start], end=ends[sp.end]) for sp in example.spans],
            relations=[Relation(moved(r.head), moved(r.child), r.label) for r in example.relations],
        )))
    return matched


def _add_conll_to_stored(store, dataset, path, matched: list[tuple[Sentence, Example]], scheme, annotator, splits) -> int:
    """Decisions of CoNLL sentences matched to stored sentences. Without ``--annotator`` a sentence
    that already has a current decision (any annotator, or gold) with the same answer and spans adds
    nothing: CoNLL names no annotator, so our own export imported back is no new decision."""
    names = store.annotators(dataset)
    reviewers = store.reviewers(dataset)
    added = 0
    for sentence, example in matched:
        if annotator is None and example.annotator is None:
            current = [store.current_decision(sentence.id, n) for n in names]
            current += [store.current_decision(sentence.id, n, True) for n in reviewers]
            wanted = sorted((s.start, s.end, s.label) for s in example.spans)
            if any(d is not None and d.answer == (example.answer or "accept")
                   and sorted((s.start, s.end, s.label) for s in d.spans) == wanted for d in current):
                continue
        added += _add_example_decisions(store, dataset, path, [sentence], example, scheme, annotator, splits)
    return added


def _import_conll_document(store, dataset, path, document: list[Example], scheme, annotator, splits) -> ImportCounts:
    counts = ImportCounts()
    separator = "\n\n"
    text = separator.join(e.text for e in document)
    digest = content_hash(text)
    article_id = store.article_id_by_hash(dataset, digest)
    if article_id is None:
        sentences, position = [], 0
        for example in document:
            sentences.append((position, position + len(example.text), tuple(example.tokens or ())))
            position += len(example.text) + len(separator)
        article_id, added = store.add_article(
            dataset, title=document[0].text[:120], text=text, content_hash=digest,
            source=f"{path}:{document[0].line or 1}", meta={"format": "conll"}, sentences=sentences,
        )
        counts.add(added)
    stored = store.article_sentences(article_id)
    position = 0
    for example in document:
        shifted = Example(
            text=text,
            spans=[replace(s, start=s.start + position, end=s.end + position) for s in example.spans],
            relations=[Relation((r.head[0] + position, r.head[1] + position), (r.child[0] + position, r.child[1] + position), r.label) for r in example.relations],
            answer=example.answer, annotator=example.annotator, session=example.session,
            timestamp=example.timestamp, meta=example.meta, line=example.line,
        )
        counts.decisions += _add_example_decisions(store, dataset, path, stored, shifted, scheme, annotator, splits, article_level=True,
                                                   only=[s for s in stored if s.start == position])
        position += len(example.text) + len(separator)
    return counts


def _import_document(store, dataset, path, example: Example, scheme, annotator, splits) -> ImportCounts:
    from .formats.align import split_at_boundaries
    from .segment import Segmenter

    counts = ImportCounts()
    text = example.text
    digest = content_hash(text)
    article_id = store.article_id_by_hash(dataset, digest)
    where = _brat_ann(path, example)
    if article_id is None:
        segmented = Segmenter().segment(text)
        if not segmented:
            raise InputError("document has no text to annotate", where)
        groups = _join_for(segmented, example.spans, example.relations, text, where)
        sentences = []
        for first, last in groups:
            start, end = segmented[first].start, segmented[last].end
            offsets = [
                (s.start + t.start - start, s.start + t.end - start)
                for s in segmented[first : last + 1]
                for t in s.tokens
            ]
            inside = [(sp.start - start, sp.end - start) for sp in example.spans if start <= sp.start and sp.end <= end]
            tokens = tuple(split_at_boundaries(text[start:end], offsets, inside))
            sentences.append((start, end, tokens))
        from .segment import headline

        title, _ = headline(text)
        article_id, added = store.add_article(
            dataset, title=title or str(example.meta.get("name", "")), text=text, content_hash=digest,
            source=str(where), meta={k: v for k, v in example.meta.items() if k != "span_lines"}, sentences=sentences,
        )
        counts.add(added)
    stored = store.article_sentences(article_id)
    counts.decisions += _add_example_decisions(store, dataset, where, stored, example, scheme, annotator, splits, article_level=True,
                                               only=_decided_sentences(stored, example))
    return counts


def _decided_sentences(stored: list[Sentence], example: Example) -> list[Sentence]:
    """The sentences of a brat document that become decisions: those that carry a span, and those
    our export listed as decided (``meta["decided"]``, from its sidecar file). brat has no
    per-sentence answer, so any other sentence stays undecided."""
    ranges = [(s.start, s.end) for s in example.spans] + [tuple(r) for r in example.meta.get("decided") or ()]
    return [s for s in stored if any(a < s.start + len(s.text) and b > s.start for a, b in ranges)]


def _join_for(segmented, spans: Sequence[Span], relations: Sequence[Relation], text: str, where) -> list[tuple[int, int]]:
    """Contiguous sentence ranges such that no span or relation crosses a range boundary."""
    starts = [s.start for s in segmented]
    ends = [s.end for s in segmented]

    def sentence_of(offset: int, end: bool = False) -> int:
        for i in range(len(segmented)):
            if (starts[i] <= offset < ends[i]) if not end else (starts[i] < offset <= ends[i]):
                return i
        # offset in whitespace between sentences: attach to the nearest following (or previous) one
        for i in range(len(segmented)):
            if starts[i] >= offset:
                return i
        return len(segmented) - 1

    reach = list(range(len(segmented)))
    for span in spans:
        a, b = sentence_of(span.start), sentence_of(span.end, end=True)
        if span.start < starts[a] or span.end > ends[b]:
            raise InputError(
                f"span {span.start}-{span.end} {text[span.start:span.end]!r} {span.label} lies outside the text's sentences "
                "(it covers only whitespace at a paragraph break)", where,
            )
        lo, hi = min(a, b), max(a, b)
        for i in range(lo, hi + 1):
            reach[i] = max(reach[i], hi)
    for relation in relations:
        a = sentence_of(relation.head[0])
        b = sentence_of(relation.child[0])
        lo, hi = min(a, b), max(a, b)
        for i in range(lo, hi + 1):
            reach[i] = max(reach[i], hi)
    groups = []
    i = 0
    while i < len(segmented):
        j = reach[i]
        k = i
        while k <= j:
            j = max(j, reach[k])
            k += 1
        groups.append((i, j))
        i = j + 1
    return groups


_UID_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
"""What ``json.dumps(payload, sort_keys=True, ensure_ascii=False)`` builds on every call."""


def _decision_uid(dataset: str, digest: str, annotator: str, example: Example, spans, relations, gold: bool) -> str:
    payload = _UID_ENCODER.encode(
        [dataset, digest, annotator, example.session, example.answer, example.timestamp, gold,
         [s.to_dict() for s in spans], [r.to_dict() for r in relations]],
    )
    return "imp-" + hashlib.sha1(payload.encode("utf-8")).hexdigest()


def _add_example_decisions(
    store: Store, dataset: str, path, sentences: list[Sentence], example: Example, scheme, annotator: str | None,
    splits: "_Splits",
    *, article_level: bool = False, only: list[Sentence] | None = None,
) -> int:
    """Decisions for an Example (and its review versions); returns how many were added."""
    added = 0
    for version in example.versions:
        added += _add_one(store, dataset, path, sentences, version, scheme, annotator, splits, article_level, only, gold=False)
    added += _add_one(store, dataset, path, sentences, example, scheme, annotator, splits, article_level, only, gold=example.gold)
    return added


def _same_content(decision, answer: str, spans: Sequence[Span], relations: Sequence[Relation]) -> bool:
    return (
        decision.answer == answer
        and sorted((s.start, s.end, s.label) for s in decision.spans) == sorted((s.start, s.end, s.label) for s in spans)
        and sorted((r.head, r.child, r.label) for r in decision.relations) == sorted((r.head, r.child, r.label) for r in relations)
    )


def _add_one(store, dataset, path, sentences, example, scheme, annotator, splits, article_level, only, gold) -> int:
    name = example.annotator or annotator or DEFAULT_IMPORT_ANNOTATOR
    if gold:
        name = example.annotator or "review"
    targets = only if only is not None else sentences
    article_text_offset = 0 if article_level else None
    per_sentence: dict[int, tuple[list[Span], list[Relation]]] = {s.id: ([], []) for s in targets}
    span_home: dict[tuple[int, int], Sentence] = {}
    token_maps: dict[int | None, tuple[dict[int, int], dict[int, int]]] = {}
    for span in example.spans:
        home = None
        for sentence in targets:
            base = sentence.start if article_text_offset is not None else 0
            if base <= span.start and span.end <= base + len(sentence.text):
                home = sentence
                break
        if home is None:
            raise InputError(
                f"span {span.start}-{span.end} {span.label} crosses a sentence boundary of the text stored for it",
                path, example.line,
            )
        base = home.start if article_text_offset is not None else 0
        if home.id not in token_maps:
            token_maps[home.id] = (
                {t.start: i for i, t in enumerate(home.tokens)},
                {t.end: i for i, t in enumerate(home.tokens)},
            )
        starts, ends = token_maps[home.id]  # type: ignore[index]
        local_start, local_end = span.start - base, span.end - base
        if local_start not in starts or local_end not in ends:
            given = frozenset(b - base for t in example.tokens or () for b in (t.start, t.end))
            splits.check(home, local_start, local_end, span.label, path, example.line, given)  # kept by a split, or refused
        local = Span(local_start, local_end, span.label, -1, -1)  # indexed below, on the decision's tokens
        per_sentence[home.id][0].append(local)  # type: ignore[index]
        span_home[span.key] = home
    for relation in example.relations:
        head_home = span_home.get(relation.head)
        child_home = span_home.get(relation.child)
        if head_home is None or child_home is None:
            raise InputError(f"relation {relation.label} names a span that is not in the record", path, example.line)
        if head_home.id != child_home.id:
            raise InputError(f"relation {relation.label} connects two sentences of the stored text", path, example.line)
        base = head_home.start if article_text_offset is not None else 0
        per_sentence[head_home.id][1].append(  # type: ignore[index]
            Relation((relation.head[0] - base, relation.head[1] - base), (relation.child[0] - base, relation.child[1] - base), relation.label)
        )
    added = 0
    digest = content_hash(example.text)
    for sentence in targets:
        spans, relations = per_sentence[sentence.id]  # type: ignore[index]
        spans = list(dict.fromkeys(spans))  # the same span twice (doccano allows it) is one span
        maps = token_maps.get(sentence.id)
        if not spans:
            tokens = None
        elif maps is not None and all(s.start in maps[0] and s.end in maps[1] for s in spans):
            # every span on the sentence's tokens (the usual case): no split, indices from the maps
            starts, ends = maps
            tokens, spans = None, [Span(s.start, s.end, s.label, starts[s.start], ends[s.end], s.source) for s in spans]
        else:
            tokens, spans = split_for_spans(sentence.text, sentence.tokens, spans)
        if not scheme.allow_overlaps:
            pairs = overlapping_pairs(spans)
            if pairs:
                a, b = pairs[0]
                raise InputError(
                    f"overlapping spans {a.start}-{a.end} {a.label} and {b.start}-{b.end} {b.label}, and the scheme "
                    f"({scheme.path}) does not allow overlaps (set allow_overlaps: true in a labels file)",
                    path, example.line,
                )
        uid = _decision_uid(dataset, f"{digest}:{sentence.index}", name, example, spans, relations, gold)
        meta: dict[str, Any] = {"imported_from": str(path)}
        if example.line is not None:
            meta["line"] = example.line
        prodigy = example.meta.get("_prodigy")
        if prodigy:
            meta["_prodigy"] = prodigy
        key = (sentence.id, name, gold)
        pending = splits.pending
        first = sentence.id in splits.created and key not in splits.decided
        if first:
            current = None  # a sentence this file created, without a decision of this name yet
        else:
            if pending is not None:
                added += pending.flush()  # what waits is written before decisions are read
            current = store.current_decision(sentence.id, name, gold)
        splits.decided.add(key)
        if current is not None and _same_content(current, example.answer or "accept", spans, relations):
            continue  # already this annotator's current decision (e.g. our own export imported back)
        record = DecisionRecord(
            sentence, name, example.answer or "accept", uid,
            example.timestamp if example.timestamp is not None else time.time(),
            spans=tuple(spans), relations=tuple(relations), session=example.session or name, gold=gold,
            meta=meta, tokens=tokens,
        )
        if first and pending is not None:
            pending.add(record)  # nothing to supersede: written with the file's other new decisions
            continue
        if pending is not None:
            added += pending.flush()
        added += store.add_imported_decisions([record])
    return added
