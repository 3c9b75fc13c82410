"""Suggestion sources: running any spaCy pipeline over a dataset (``annotator suggest``), the
registry of sources, and the dataset's active source.

``suggest_dataset`` runs an installed or trained pipeline over the dataset's sentences (those
nobody decided, or all) and stores its spans as a new suggestion source beside the others; nothing
is overwritten. Each sentence's Doc is built from its stored tokens (``formats.align``), so every
suggested span is on the tokens the screen shows. Rows are written in batches, one transaction
each; the source is registered (incomplete) before the first batch and marked complete after the
last, so a killed run leaves an incomplete source that a rerun continues (it goes through the
sentences that still lack a row of that source). An incomplete source cannot be made active.

Model labels go through the scheme's label map (``PRODUCT`` -> ``WEAPON``); a trained pipeline
predicts the scheme's labels, which map to themselves. spaCy is imported when a pipeline is loaded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from .errors import DatasetError, ModelError
from .model import Example, Relation, Sentence, Span, Suggestion, Token

if TYPE_CHECKING:  # pragma: no cover
    from .labels import LabelScheme
    from .store import Store

ACTIVE_KEY = "suggestions"
"""The dataset setting that names the active suggestion source."""

SPAN_FACTORIES = ("ner", "beam_ner", "spancat", "spancat_singlelabel", "entity_ruler", "span_ruler")
"""Components whose output becomes suggestions (and the tok2vec they listen to is kept too)."""


def load_model(model: str):
    """A spaCy pipeline by package name or path, with only the components that make spans enabled.

    ``ModelError`` (one line) when it cannot be loaded, is not a spaCy pipeline or makes no spans.
    """
    from .preannotate import load_pipeline

    path = Path(model)
    looks_like_path = path.exists() or "/" in model or model.startswith(".")
    if looks_like_path and not (path.is_dir() and (path / "config.cfg").is_file()):
        raise ModelError(f"{model}: not a spaCy pipeline (a pipeline is a folder with config.cfg, e.g. models/DATASET/001/model-best)")
    try:
        nlp = load_pipeline(model)
    except ModelError as exc:
        if looks_like_path:
            raise ModelError(f"{model}: not a spaCy pipeline ({exc.problem.split(': ', 1)[-1]})") from None
        raise
    except Exception as exc:  # a broken config or weights: spaCy raises many kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{model}: not a usable spaCy pipeline ({first})") from None
    wanted = span_components(nlp)
    if not any(nlp.get_pipe_meta(name).factory in SPAN_FACTORIES for name in wanted):
        raise ModelError(f"{model}: the pipeline has no component that makes spans (ner, spancat, rulers); it has {', '.join(nlp.pipe_names) or 'none'}")
    nlp.select_pipes(disable=[name for name in nlp.pipe_names if name not in wanted])
    return nlp


def span_components(nlp) -> list[str]:
    """The components that make spans, and those they listen to."""
    needed = {name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in SPAN_FACTORIES}
    for name, component in nlp.pipeline:
        listeners = getattr(component, "listening_components", None) or []
        if any(listener in needed for listener in listeners):
            needed.add(name)
    return [name for name in nlp.pipe_names if name in needed]


def spans_keys(nlp) -> list[str]:
    """The ``doc.spans`` keys the pipeline's spancat components write."""
    keys = []
    for name in nlp.pipe_names:
        if nlp.get_pipe_meta(name).factory.startswith("spancat"):
            keys.append(getattr(nlp.get_pipe(name), "key", "sc"))
    return keys


def model_spans(
    nlp, sentences: Iterable[tuple[str, Sequence[Token]]], scheme: "LabelScheme", source: str, *,
    batch_size: int = 64, n_process: int = 1,
) -> Iterator[list[Span]]:
    """The pipeline's spans (entities and spancat groups) for each ``(text, tokens)``, in order:
    labels through the scheme's label map, snapped to the stored tokens, overlaps resolved as the
    scheme says."""
    from .formats.align import doc_from_example
    from .preannotate import TokenIndex, resolve_suggestions

    keys = spans_keys(nlp)
    pending: deque[Sequence[Token]] = deque()

    def docs():
        for text, tokens in sentences:
            pending.append(tokens)
            doc, _ = doc_from_example(nlp.vocab, Example(text=text, tokens=list(tokens)))
            yield doc

    for doc in nlp.pipe(docs(), batch_size=batch_size, n_process=n_process):
        tokens = pending.popleft()
        found = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        for key in keys:
            found.extend((s.start_char, s.end_char, s.label_) for s in doc.spans.get(key, []))
        token_index = TokenIndex(tokens)
        spans = []
        for start, end, model_label in found:
            label = scheme.map_model_label(model_label)
            if label is None:
                continue
            span = token_index.span(start, end, label, source)
            if span is not None:
                spans.append(span)
        yield resolve_suggestions(spans, scheme.allow_overlaps)


def suggest_rows(
    nlp, sentences: Iterable[tuple[str, Sequence[Token]]], scheme: "LabelScheme", source: str, *,
    batch_size: int = 64, n_process: int = 1,
) -> Iterator[tuple[list[Span], list[Relation]]]:
    """:func:`model_spans` and the relations the scheme's rules draw between them, per sentence."""
    from .preannotate import suggest_relations

    pending: deque[Sequence[Token]] = deque()

    def remembered() -> Iterator[tuple[str, Sequence[Token]]]:
        for text, tokens in sentences:
            pending.append(tokens)
            yield text, tokens

    for spans in model_spans(nlp, remembered(), scheme, source, batch_size=batch_size, n_process=n_process):
        yield spans, suggest_relations(spans, pending.popleft(), scheme.relation_rules)


def default_source_name(model: str) -> str:
    """``fashion/003`` for ``models/fashion/003/model-best``; the folder name for another path;
    the package name for an installed pipeline."""
    path = Path(model)
    if path.exists():
        path = path.resolve()
        if path.name in ("model-best", "model-last") and path.parent.parent.parent.name == "models":
            version = path.parent
            suffix = "" if path.name == "model-best" else "-last"
            return f"{version.parent.name}/{version.name}{suffix}"
        return path.name
    return model


@dataclass
class SuggestResult:
    source: str
    model: str
    processed: int
    """Sentences this run suggested on."""
    before: int
    """Sentences that had a row of this source already (an earlier, killed run)."""
    spans: int
    complete: bool


def suggest_dataset(
    store: "Store", dataset: str, scheme: "LabelScheme", model: str, *, name: str | None = None,
    include_decided: bool = False, workers: int = 1, batch_size: int = 64,
    on_start: Callable[[int], None] | None = None, on_advance: Callable[[int], None] | None = None,
    cluster=None,
) -> SuggestResult:
    """Run ``model`` over the dataset's sentences that lack its source and store the rows (with
    ``cluster``, an open ``annotator.cluster.Cluster``, the model runs on its workers; the rows and
    transactions are the same)."""
    store.dataset(dataset)
    source = name or default_source_name(model)
    model_id = str(Path(model).resolve()) if Path(model).exists() else model
    existing = {s.name: s for s in store.suggestion_sources(dataset)}
    known = existing.get(source)
    if known is not None and (known.kind != "model" or known.model != model_id):
        made_by = known.model or "import"
        raise DatasetError(f"suggestion source {source!r} exists already (made by {made_by}): choose another --name")
    nlp = load_model(model)
    settings = {"all": include_decided}
    undecided_only = not include_decided
    before = known.sentences if known is not None else 0
    total = store.count_sentences_lacking_source(dataset, source, undecided_only=undecided_only)
    store.register_suggestion_source(dataset, source, kind="model", model=model_id, settings=settings)
    if on_start:
        on_start(total)
    processed = spans_written = 0
    page = max(batch_size * max(workers, 1), 256)
    queue: deque[Sentence] = deque()

    def pages() -> Iterator[tuple[str, Sequence[Token]]]:
        """The sentences that lack the source, page by page (no read cursor stays open across writes)."""
        position = 0
        while True:
            batch = store.sentences_lacking_source(dataset, source, after_position=position, limit=page,
                                                   undecided_only=undecided_only)
            if not batch:
                return
            position = batch[-1].position
            for sentence in batch:
                queue.append(sentence)
                yield sentence.text, sentence.tokens

    rows: list[Suggestion] = []

    def flush() -> None:
        nonlocal processed
        store.add_suggestions(rows, replace=False)
        processed += len(rows)
        if on_advance:
            on_advance(len(rows))
        rows.clear()

    if cluster is not None:  # the same rows, computed by the cluster's workers, in order
        results = cluster.suggest_rows(pages(), scheme, model_id, source, batch_size)
    else:
        results = suggest_rows(nlp, pages(), scheme, source, batch_size=batch_size, n_process=workers)
    for spans, relations in results:
        sentence = queue.popleft()
        rows.append(Suggestion(sentence.id, source, tuple(spans), tuple(relations)))
        spans_written += len(spans)
        if len(rows) >= batch_size:
            flush()
    if rows:
        flush()
    store.complete_suggestion_source(dataset, source, settings)
    return SuggestResult(source, model_id, processed, before, spans_written, True)


def resolve_source(store: "Store", dataset: str, name: str) -> str:
    """``name`` when it is a complete suggestion source of the dataset; else one-line ``DatasetError``."""
    sources = store.suggestion_sources(dataset)
    found = next((s for s in sources if s.name == name), None)
    if found is None:
        known = ", ".join(s.name for s in sources) or "none yet (run `annotator suggest`)"
        raise DatasetError(f"unknown suggestion source {name!r} in dataset {dataset!r} (sources: {known})")
    if not found.complete:
        raise DatasetError(
            f"suggestion source {name!r} is incomplete ({found.sentences} sentences): rerun "
            f"`annotator suggest {dataset} --model {found.model} --name {name}{' --all' if found.settings.get('all') else ''}` to finish it"
        )
    return name


def active_source(store: "Store", dataset: str) -> str | None:
    """The dataset's active suggestion source (``dataset set suggestions=NAME``), or None."""
    return store.dataset(dataset).settings.get(ACTIVE_KEY)


def default_source(store: "Store", dataset: str) -> str:
    """The source ``evaluate`` scores when none is named: the active one, else the only one."""
    active = active_source(store, dataset)
    if active:
        return resolve_source(store, dataset, active)
    complete = [s.name for s in store.suggestion_sources(dataset) if s.complete]
    if len(complete) == 1:
        return complete[0]
    if not complete:
        raise DatasetError(f"dataset {dataset!r} has no suggestions yet: run `annotator suggest {dataset} --model MODEL`")
    raise DatasetError(f"dataset {dataset!r} has several suggestion sources ({', '.join(complete)}): choose with --suggestions NAME")


def sentence_inputs(sentences: Iterable[Sentence]) -> Iterator[tuple[str, Sequence[Token]]]:
    """``(text, tokens)`` of stored sentences, for :func:`model_spans`."""
    for sentence in sentences:
        yield sentence.text, sentence.tokens
