"""``annotator import``: files → articles → sentences (+ suggestions, + decisions) in the store.

Each file is one transaction: a bad file (or line) raises ``InputError`` naming the file and line
and nothing from that file is written. Articles already in the dataset (same content hash) are
skipped, so importing the same files again adds nothing.

Plain articles come from ``.txt`` files (one article each; the first non-empty line is the
headline), from ``.jsonl`` files with ``{"text", "meta"?, "title"?}`` per line, and from folders
(recursively: their ``.txt`` and ``.jsonl`` files, and brat ``.ann`` folders). Annotated files
(Prodigy, doccano, brat, CoNLL, DocBin) are read by ``annotator.formats`` and become decisions;
see ``import_annotated``.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from .errors import AnnotatorError, InputError
from .model import Relation, Span
from .segment import SegmentedSentence, Segmenter, content_hash, headline
from .store import ImportCounts, Store

if TYPE_CHECKING:  # pragma: no cover
    from .preannotate import SentenceInput

ARTICLE_CHUNK = 200  # articles segmented, pre-annotated and inserted together (bounded memory)
FOLDER_SUFFIXES = (".txt", ".jsonl")


@dataclass
class ArticleInput:
    """An article read from a file, before segmentation."""

    text: str
    source: str
    line: int | None = None
    title: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _unreadable(exc: OSError, path: Path) -> InputError:
    """The one line for a file that cannot be opened."""
    if isinstance(exc, FileNotFoundError):
        return InputError("file not found", path)
    if isinstance(exc, IsADirectoryError):
        return InputError("is a folder", path)
    return InputError(f"cannot read: {exc.strerror}", path)


def read_text(path: Path) -> str:
    """The file's text, exactly as stored (CRLF kept); ``InputError`` for binary or non-UTF-8 files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(exc, path) from None
    if b"\x00" in data[:8192]:
        raise InputError("binary file (contains NUL bytes), not text", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)", path, line) from None


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files to import: each file as given; folders recursively (sorted; hidden files skipped)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            exists, folder = path.exists(), path.is_dir()
        except OSError as exc:  # a folder on the way this user may not enter
            raise _unreadable(exc, path) from None
        if not exists:
            raise InputError("file not found", path)
        if folder:
            found = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix.lower() in FOLDER_SUFFIXES
            ]
            if not found:
                raise InputError(f"folder has no usable files ({', '.join(FOLDER_SUFFIXES)})", path)
            files.extend(found)
        else:
            files.append(path)
    return files


def read_articles(path: Path) -> Iterator[ArticleInput]:
    """Plain articles from a ``.txt`` or ``.jsonl``/``.json`` file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        yield from _read_jsonl_articles(path)
        return
    text = read_text(path)
    if not text.strip():
        raise InputError("empty file (no text)", path)
    yield ArticleInput(text=text, source=str(path), line=1)


def _jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line, read one at a time (a corpus file larger than memory
    streams); the same refusals as ``read_text``: binary, non-UTF-8 (with its line), unreadable."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _unreadable(exc, path) from None
    with handle:
        if b"\x00" in handle.read(8192):
            raise InputError("binary file (contains NUL bytes), not text", path)
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)", path, number) from None


def _read_jsonl_articles(path: Path) -> Iterator[ArticleInput]:
    seen_record = False
    for number, line in _jsonl_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"JSON syntax error: {exc.msg} (column {exc.colno})", path, number) from None
        if not isinstance(record, dict):
            raise InputError("each line must be a JSON object with a \"text\"", path, number)
        if "text" not in record:
            raise InputError("record has no \"text\"", path, number)
        body = record["text"]
        if not isinstance(body, str):
            raise InputError("\"text\" must be a string", path, number)
        if not body.strip():
            raise InputError("\"text\" is empty (0 characters of text)", path, number)
        meta = record.get("meta") or {}
        if not isinstance(meta, dict):
            raise InputError("\"meta\" must be an object", path, number)
        title = record.get("title")
        if title is not None and not isinstance(title, str):
            raise InputError("\"title\" must be a string", path, number)
        seen_record = True
        yield ArticleInput(text=body, source=f"{path}:{number}", line=number, title=title, meta=dict(meta))
    if not seen_record:
        raise InputError("empty file (no records)", path)


IMPORT_GC_THRESHOLD = 50_000
"""The garbage collector's first threshold during an import (Python's default is 700)."""


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the garbage collector less often: ``IMPORT_GC_THRESHOLD`` allocations between young
    collections instead of 700, the previous thresholds restored after.

    An import allocates a few Python objects per token and sentence that are freed by reference
    counting when their chunk is written (they form no cycles), yet at the default threshold the
    collector runs about 1,200 times per 100,000 sentences and its full collections walk every
    object the process holds (spaCy's, numpy's): ~7 % of the import's CPU time. Cycles are still
    collected, only in larger batches.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], IMPORT_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


SuggestFn = Callable[[list[tuple[str, SegmentedSentence]]], list[tuple[list[Span], list[Relation]]]]
"""Suggested spans and relations for each ``(sentence text, segmented sentence)``, in order."""


class ArticleImporter:
    """Segments articles, asks for suggestions and writes them, one transaction per file."""

    def __init__(
        self,
        store: Store,
        dataset: str,
        *,
        segmenter: Segmenter | None = None,
        suggest: SuggestFn | None = None,
        suggestion_source: str = "",
        on_article: Callable[[int], None] | None = None,
        dataset_settings: dict[str, Any] | None = None,
    ):
        self.store = store
        self.dataset_settings = dataset_settings
        self.dataset = dataset
        self.segmenter = segmenter or Segmenter()
        self.suggest = suggest
        self.suggestion_source = suggestion_source
        self.on_article = on_article

    def import_file(self, path: Path) -> ImportCounts:
        """Import every article of one file, all or nothing."""
        return self.import_articles(read_articles(path))

    def import_articles(self, articles: Iterable[ArticleInput]) -> ImportCounts:
        """Import articles (streamed in chunks) in one transaction."""
        counts = ImportCounts()
        with fewer_collections(), self.store.bulk_transaction():
            # created with the file's data: a file that fails leaves no empty dataset behind
            self.store.ensure_dataset(self.dataset, self.dataset_settings)
            self._seen: set[str] = set()  # content hashes of this file's articles so far
            chunk: list[ArticleInput] = []
            for article in articles:
                chunk.append(article)
                if len(chunk) >= ARTICLE_CHUNK:
                    counts.add(self._write_chunk(chunk))
                    chunk = []
            if chunk:
                counts.add(self._write_chunk(chunk))
        return counts

    def _write_chunk(self, chunk: list[ArticleInput]) -> ImportCounts:
        """Write a chunk's new articles with one statement per table (``BulkImport``, the rows
        ``Store.add_article`` writes) and their suggestions with one more."""
        from .store.bulk import BulkImport

        counts = ImportCounts()
        fresh: list[tuple[ArticleInput, str]] = []
        seen = self._seen
        bulk = BulkImport(self.store, self.dataset)
        digests = [content_hash(article.text) for article in chunk]
        stored = bulk.article_ids_by_hash([d for d in digests if d not in seen])
        for article, digest in zip(chunk, digests):
            if digest in seen or digest in stored:
                if digest in seen:
                    counts.duplicate_articles += 1
                else:
                    counts.skipped_articles += 1  # each distinct article once; its later copies are duplicates
                    seen.add(digest)
                if self.on_article:
                    self.on_article(1)
                continue
            seen.add(digest)
            fresh.append((article, digest))
        if not fresh:
            return counts
        segmented, suggestions = self.analyse([a for a, _ in fresh])
        rows = []
        for (article, digest), sents in zip(fresh, segmented):
            if not sents:
                raise InputError("no text to annotate (only whitespace)", article.source.rsplit(":", 1)[0], article.line)
            title, kicker = headline(article.text)
            meta = dict(article.meta)
            if kicker:
                meta.setdefault("kicker", kicker)
            rows.append((article.title or title, article.text, digest, article.source, meta,
                         [(s.start, s.end, s.offsets_json or s.offsets) for s in sents]))
        added = bulk.add_articles(rows)
        found: list[tuple[int, str, list[Span], list[Relation]]] = []
        for (_, article_counts), items in zip(added, suggestions):
            counts.add(article_counts)
            first = article_counts.first_sentence_id
            for i, (source, spans, relations) in enumerate(items):
                found.append((first + i, source, spans, relations))
                if spans:
                    counts.suggestions += len(spans)
        if found:
            self.store.add_suggestion_rows(found)
        if self.on_article:
            self.on_article(len(fresh))
        return counts

    def analyse(self, articles: list[ArticleInput]) -> "Analysis":
        """Sentences and suggestions of each article (``annotator.cluster`` computes them on workers)."""
        return analyse_texts([a.text for a in articles], self.segmenter, self.suggest, self.suggestion_source)


Analysis = tuple[list[list[SegmentedSentence]], list[list[tuple[str, list[Span], list[Relation]]]]]
"""Per article: its segmented sentences; and per sentence ``(source, spans, relations)`` (empty without suggestions)."""


def analyse_texts(texts: list[str], segmenter: Segmenter, suggest: SuggestFn | None, source: str) -> Analysis:
    """Segment articles and suggest on their sentences: the pure part of an import, the same
    locally and on a cluster's workers."""
    segmented = list(segmenter.segment_many(texts))
    suggestions: list[list[tuple[str, list[Span], list[Relation]]]] = [[] for _ in texts]
    if suggest is not None:
        flat = [(text[s.start : s.end], s) for text, sents in zip(texts, segmented) for s in sents]
        results = iter(suggest(flat))
        for i, sents in enumerate(segmented):
            suggestions[i] = [(source, *next(results)) for _ in sents]
    return segmented, suggestions


def sentence_inputs(flat: Iterable[tuple[str, SegmentedSentence]], with_model: bool) -> Iterator["SentenceInput"]:
    """What ``Preannotator.suggest`` needs of each segmented sentence.

    Without a model a sentence no pattern matched gets no suggestion, so its tokens (a tuple per
    token) are not built.
    """
    from .preannotate import SentenceInput

    for text, sentence in flat:
        matches = sentence.pattern_matches
        tokens = sentence.tokens if with_model or matches is None or matches else ()
        yield SentenceInput(text, tokens, matches)


# -- a whole `annotator import`: plain and annotated files, suggestions, skip-invalid --------------


@dataclass
class ImportResult:
    """What an import of several files did, for the summary line."""

    counts: ImportCounts = field(default_factory=ImportCounts)
    failed: list[str] = field(default_factory=list)
    """The message of each file skipped with ``skip_invalid``."""
    notice: str = ""
    """What the pre-annotator has to say (e.g. the model it fell back to)."""


@dataclass(frozen=True)
class SuggestOptions:
    """How plain articles get suggestions: ``model`` (None: labels.yaml's), or patterns only."""

    model: str | None = None
    use_model: bool = True
    batch_size: int = 256
    workers: int = 1


def import_files(
    store: Store,
    dataset: str,
    files: Sequence[Path],
    scheme,
    *,
    overlap: str | int | None = None,
    fmt: str | None = None,
    skip_invalid: bool = False,
    suggest: SuggestOptions | None = SuggestOptions(),
    annotator: str | None = None,
    add_labels: bool = False,
    label_map: Sequence[str] = (),
    snap: str | None = None,
    on_file: Callable[[Path], None] | None = None,
    on_file_done: Callable[[Path], None] | None = None,
    on_skipped: Callable[[str], None] | None = None,
    on_message: Callable[[str], None] | None = None,
    on_article: Callable[[int], None] | None = None,
    cluster: Any = None,
) -> ImportResult:
    """Import files into ``dataset``: plain articles (with suggestions unless ``suggest`` is None)
    and annotated files (``annotated_import``), each file one transaction.

    A file's format is ``fmt`` or detected. With ``skip_invalid`` a file that fails is reported to
    ``on_skipped`` and the others go on; without it the first error is raised. ``on_file`` and
    ``on_file_done`` frame each file (for a progress bar); ``on_message`` gets what annotated
    imports report; ``on_article`` counts plain articles. With ``cluster`` (an open
    ``annotator.cluster.Cluster``) plain articles are segmented and suggested on its workers and
    written here, exactly as a local run writes them. A new dataset is created by the first file's
    transaction (with ``overlap``, default ``all``), so a failed import leaves none behind; an
    existing one gets ``overlap`` when given.
    """
    settings = {"overlap": overlap} if overlap is not None else {"overlap": "all"}
    existing = store.find_dataset(dataset)
    if existing is not None and overlap is not None and existing.settings.get("overlap") != overlap:
        store.set_dataset_settings(dataset, {"overlap": overlap})

    undetected: dict[Path, AnnotatorError] | None = {} if skip_invalid else None  # skipped in the loop
    plain, annotated = split_by_format(files, fmt, undetected)
    suggest_fn: SuggestFn | None = None
    source = ""
    result = ImportResult()
    segmenter = None
    pre_scheme = scheme
    if plain and suggest is not None:
        # the labels the dataset accepted on import (--add-labels) are kept from a model that predicts them
        pre_scheme = scheme.for_dataset(existing.settings) if existing is not None else scheme
        segmenter, suggest_fn, source, result.notice = article_analysis(pre_scheme, suggest)

    importer = ArticleImporter(store, dataset, segmenter=segmenter, suggest=suggest_fn, suggestion_source=source,
                               dataset_settings=settings, on_article=on_article)
    if cluster is not None and plain:
        # the same importer, with segmentation and suggestions computed by the cluster's workers
        importer = cluster.article_importer(importer, plain, pre_scheme, suggest)
    for path in files:
        if on_file:
            on_file(path)
        try:
            if undetected and path in undetected:
                raise undetected[path]
            if path in annotated:
                from .annotated_import import import_annotated

                counts = import_annotated(
                    store, dataset, path, annotated[path], scheme,
                    annotator=annotator, add_labels=add_labels, label_map=label_map, on_message=on_message,
                    snap=snap, dataset_settings=settings,
                )
            else:
                counts = importer.import_file(path)
        except AnnotatorError as exc:
            if not skip_invalid:
                raise
            result.failed.append(exc.message)
            if on_skipped:
                on_skipped(exc.message)
        else:
            result.counts.add(counts)
        if on_file_done:
            on_file_done(path)
    return result


def article_analysis(scheme, suggest: SuggestOptions) -> tuple[Segmenter, SuggestFn, str, str]:
    """The segmenter and suggestion function of an import with suggestions, the suggestion
    source's name and what the pre-annotator has to say."""
    from .preannotate import Preannotator

    pre = Preannotator(scheme, model=suggest.model, use_model=suggest.use_model, explicit=suggest.model is not None)
    # Patterns are matched on the Docs segmentation makes anyway (no second tokenization).
    segmenter = Segmenter(patterns=pre.patterns)

    def suggest_with_model(flat):
        if pre.nlp is None:
            return suggest_patterns_only(pre, flat)
        return list(pre.suggest(sentence_inputs(flat, True), batch_size=suggest.batch_size,
                                n_process=suggest.workers))

    return segmenter, suggest_with_model, pre.source, pre.notice if suggest.use_model else ""


def suggest_patterns_only(pre, flat: list[tuple[str, SegmentedSentence]]) -> list[tuple[list[Span], list[Relation]]]:
    """``pre.suggest`` without a model, asked only about the sentences a pattern matched.

    Without a model a sentence no pattern matched (most of them) gets no spans and no relations,
    which is what ``Preannotator.suggest`` returns for it; this skips building its input.
    """
    results: list[tuple[list[Span], list[Relation]]] = [([], []) for _ in flat]
    wanted = [i for i, (_, sentence) in enumerate(flat) if sentence.pattern_matches is None or sentence.pattern_matches]
    if wanted:
        found = pre.suggest(sentence_inputs([flat[i] for i in wanted], False))
        for i, result in zip(wanted, found):
            results[i] = result
    return results


def split_by_format(
    files: Sequence[Path], fmt: str | None, undetected: dict[Path, AnnotatorError] | None = None
) -> tuple[list[Path], dict[Path, str]]:
    """Files of plain articles, and annotated files with their format (with ``undetected``: the
    error of each file whose format cannot be told is kept there instead of raised)."""
    from .formats import detect_format

    plain: list[Path] = []
    annotated: dict[Path, str] = {}
    for path in files:
        try:
            kind = fmt or detect_format(path)
        except AnnotatorError as exc:
            if undetected is None:
                raise
            undetected[path] = exc
            continue
        if kind in ("text", None):
            plain.append(path)
        else:
            annotated[path] = kind
    return plain, annotated
