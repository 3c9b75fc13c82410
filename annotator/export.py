"""Exporting decisions as training data or for other tools (``annotator export``), and the
training-data problems an export would otherwise hide (``annotator check``).

An export is planned (:func:`validate_export_options`, :func:`plan_export`: which decisions —
gold, one annotator or all — and which answers), its examples are collected from the store in
position order, optionally split into train/dev by article, checked
(:func:`training_data_problems`), and written through the format's entry of :data:`LAYOUTS`:
which files each part becomes, each written by a ``formats`` writer of one signature
(``write(examples, path, options)``). Adding a format is one entry there. Every file is written
beside its target and moved into place, so a failed export leaves no half-written file.

Importing annotated files is ``annotator.annotated_import``; the readers' own input checks are
``annotator.formats.checks``.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from .errors import DatasetError, ExportError
from .model import ANSWERS, Article, Example, Relation, Sentence, Span, overlapping_pairs, span_problem
from .store import Store
from .wording import plural

if TYPE_CHECKING:
    from .formats import WriteOptions, Writer

@dataclass
class ExportPlan:
    """What an export will read and where it will write."""

    dataset: str
    fmt: str
    source: str
    annotators: list[str]
    gold: bool
    answers: tuple[str, ...]
    out: Path
    split: float | None = None
    seed: int = 0


@dataclass
class ExportSummary:
    files: list[Path] = field(default_factory=list)
    examples: int = 0
    train: int = 0
    dev: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    """``(kind, message)``, the first of each kind."""
    problem_counts: Counter = field(default_factory=Counter)
    command: str = ""


def validate_export_options(fmt: str, answers: str, split: float | None) -> tuple[str, ...]:
    """Check ``--format``, ``--answers`` and ``--split`` before anything is read; the answers as a tuple."""
    if fmt not in EXPORT_FORMATS:
        raise DatasetError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    wanted = tuple(a.strip() for a in answers.split(",") if a.strip())
    bad = [a for a in wanted if a not in ANSWERS]
    if bad or not wanted:
        raise DatasetError(f"--answers takes a comma-separated list of {', '.join(ANSWERS)}, not {answers!r}")
    if fmt not in ("jsonl", "prodigy") and wanted != ("accept",):
        raise DatasetError("--answers other than accept is only for --format jsonl/prodigy (training data holds accepted sentences)")
    if split is not None and not (0 < split < 1):
        raise DatasetError(f"--split must be between 0 and 1, not {split}")
    return wanted


def plan_export(
    store: Store, dataset: str, fmt: str, *, source: str | None, answers: tuple[str, ...], out: Path | None,
    split: float | None = None, seed: int = 0,
) -> ExportPlan:
    """The plan of an export: the chosen decisions (:func:`choose_source`) and the output folder
    (default ``exports/DATASET``)."""
    chosen, annotators, gold = choose_source(store, dataset, source)
    return ExportPlan(dataset=dataset, fmt=fmt, source=chosen, annotators=annotators, gold=gold, answers=answers,
                      out=out or Path("exports") / dataset, split=split, seed=seed)


def dataset_scheme(scheme, store: Store, dataset: str):
    """The scheme plus the labels the dataset accepted on import (the scheme itself for a dataset not there)."""
    info = store.find_dataset(dataset)
    return scheme.for_dataset(info.settings) if info is not None else scheme


@dataclass
class ExportCheck:
    """What an export of a source would hold and hide (``annotator check``)."""

    source: str
    sentences: int
    """Accepted sentences the export would hold."""
    problem_counts: Counter
    problems: list[tuple[str, str]]
    """``(kind, message)``, the first of each kind."""


def check_export(store: Store, dataset: str, source: str | None) -> ExportCheck | None:
    """The training-data problems of an export of ``source`` (accepted sentences, as for
    ``--format spacy``), and the sentences it would leave out; None when nobody decided anything
    and no source was named."""
    if source is None and not (store.annotators(dataset) or store.reviewers(dataset)):
        return None
    chosen, annotators, gold = choose_source(store, dataset, source)
    plan = ExportPlan(dataset, "spacy", chosen, annotators, gold, ("accept",), Path("."))
    pairs = list(collect_examples(store, plan))
    counts, problems = training_data_problems([e for e, _ in pairs], needs_ents=True)
    unannotated = store.sentence_count(dataset) - len({s.id for _, s in pairs})
    if unannotated:
        counts[UNACCEPTED] += unannotated
    return ExportCheck(chosen, len(pairs), counts, problems)


def choose_source(store: Store, dataset: str, source: str | None) -> tuple[str, list[str], bool]:
    """``(source, annotators, gold)`` from ``--source`` (default: gold, else the single annotator)."""
    annotators = store.annotators(dataset)
    has_gold = store.has_gold(dataset)
    if source is None:
        if has_gold:
            return "gold", [], True
        if len(annotators) == 1:
            return annotators[0], annotators, False
        if not annotators:
            raise ExportError(f"dataset {dataset!r} has no decisions yet: annotate first")
        raise ExportError(
            f"dataset {dataset!r} has several annotators ({', '.join(annotators)}): choose with --source NAME, "
            "--source all or --source gold (after review)"
        )
    if source == "gold":
        if not has_gold:
            raise ExportError(f"dataset {dataset!r} has no gold decisions yet (run `annotator review`)")
        return "gold", [], True
    if source == "all":
        return "all", annotators, False
    if source not in annotators:
        raise ExportError(f"no decisions by {source!r} in dataset {dataset!r} (annotators: {', '.join(annotators) or 'none'})")
    return source, [source], False


_OUR_META = {"article_id", "article_hash", "title", "sentence_index", "position", "kicker", "format", "document", "name",
             "annotator", "gold", "decided"}


ARTICLES_ONE_BY_ONE = 256
"""Articles an export reads one query each before it reads the rest of the dataset's at once."""


def collect_examples(store: Store, plan: ExportPlan, on_item=None) -> Iterator[tuple[Example, Sentence]]:
    """Examples (sentence-level) of the chosen decisions, in position order; each with the
    decision's tokens (the sentence's, split where the decision split them). Read as plain rows
    (``store.bulk.current_rows``: no ``Decision`` per row, tokens decoded in bulk)."""
    from .store.bulk import current_rows

    titles: dict[int, str] = {}
    hashes: dict[int, str] = {}
    article_meta: dict[int, dict[str, Any]] = {}
    for sentence, tokens, annotator, session, answer, spans, relations, created_at, gold, decision_meta in current_rows(
        store, plan.dataset, plan.annotators or None, gold=plan.gold
    ):
        if on_item:
            on_item()
        if answer not in plan.answers:
            continue
        if sentence.article_id not in titles:
            # the first articles one query each; past ARTICLES_ONE_BY_ONE, the dataset's articles in one
            # streamed query (an export of many short articles, e.g. one per imported record)
            if len(titles) < ARTICLES_ONE_BY_ONE:
                found: Iterable[Article] = [store.article(sentence.article_id)]  # type: ignore[arg-type]
            else:
                found = (a for a in store.articles(plan.dataset) if a.id not in titles)
            for article in found:
                titles[article.id] = article.title
                hashes[article.id] = article.content_hash
                article_meta[article.id] = {k: v for k, v in article.meta.items() if k not in _OUR_META}
        meta: dict[str, Any] = {
            **article_meta[sentence.article_id],
            "article_id": sentence.article_id,
            "article_hash": hashes[sentence.article_id],
            "title": titles[sentence.article_id],
            "sentence_index": sentence.index,
            "position": sentence.position,
            "annotator": annotator,
        }
        if gold:
            meta["gold"] = True
        if decision_meta.get("_prodigy"):
            meta["_prodigy"] = decision_meta["_prodigy"]
        example = Example(
            text=sentence.text,
            tokens=list(tokens),  # the decision's own split tokens when a span cuts one
            spans=list(spans),
            relations=list(relations),
            answer=answer,
            annotator=annotator,
            session=session or annotator,
            timestamp=created_at,
            meta=meta,
            gold=gold,
        )
        yield example, sentence


def split_articles(article_ids: Iterable[int], fraction: float, seed: int) -> set[int]:
    """Article ids that go to dev: a deterministic shuffle, ``round(n * fraction)`` of them (≥ 1)."""
    ids = sorted(set(article_ids))
    if fraction <= 0 or len(ids) < 2:
        return set()
    rng = random.Random(seed)
    rng.shuffle(ids)
    n_dev = min(len(ids) - 1, max(1, round(len(ids) * fraction)))
    return set(ids[:n_dev])


UNACCEPTED = "sentences without an accepted decision"
"""The one wording of the sentences an export leaves out (``export`` and ``check``)."""


def training_data_problems(examples: Sequence[Example], *, needs_ents: bool) -> tuple[Counter, list[tuple[str, str]]]:
    """Problems of the training data an export holds, that the export would otherwise hide
    (spans off token boundaries or around whitespace, overlaps a DocBin's ``doc.ents`` cannot
    hold, relations to missing spans, rare labels): counted per kind and listed as ``(kind,
    message)`` (the first 50 of each kind).
    Not to be confused with ``formats.checks``, which validates records as a reader reads them."""
    counts: Counter = Counter()
    problems: list[tuple[str, str]] = []
    label_counts: Counter = Counter()

    def note(kind: str, message: str) -> None:
        counts[kind] += 1
        if counts[kind] <= 50:
            problems.append((kind, message))

    for example in examples:
        where = f"sentence {example.meta.get('position', '?')}"
        tokens = example.tokens or []
        keys = {s.key for s in example.spans}
        for span in example.spans:
            label_counts[span.label] += 1
            problem = span_problem(span, example.text, tokens)
            if problem:
                note("off token boundaries", f"{where}: {problem}")
            piece = example.text[span.start : span.end]
            if piece.strip() == "":
                note("whitespace span", f"{where}: span {span.start}-{span.end} {span.label} is only whitespace")
            elif piece != piece.strip():
                note("span starts/ends with whitespace", f"{where}: span {span.start}-{span.end} {span.label} {piece!r}")
        if needs_ents:
            for a, b in overlapping_pairs(example.spans):
                note("overlapping spans (not in doc.ents)", f"{where}: {a.label} {a.start}-{a.end} overlaps {b.label} {b.start}-{b.end}")
        for relation in example.relations:
            if relation.head not in keys or relation.child not in keys:
                note("relation to a missing span", f"{where}: relation {relation.label} names a missing span")
    for label, n in sorted(label_counts.items()):
        if n < 10:
            note("label with fewer than 10 examples", f"label {label} has only {plural(n, 'example')}")
    return counts, problems


def run_export(
    store: Store,
    scheme,
    plan: ExportPlan,
    *,
    force: bool = False,
    strict: bool = False,
    spans_key: str = "sc",
    conll_scheme: str = "iob2",
    progress=None,
) -> ExportSummary:
    """Write the export described by ``plan``; refuses to overwrite without ``force``."""
    summary = ExportSummary()
    examples_with_sentences = list(collect_examples(store, plan, on_item=progress))
    examples = [e for e, _ in examples_with_sentences]
    summary.examples = len(examples)
    if not examples:
        raise ExportError(
            f"nothing to export: no {'/'.join(plan.answers)} decisions from {plan.source} in dataset {plan.dataset!r}"
        )
    counts, problems = training_data_problems(examples, needs_ents=plan.fmt == "spacy")
    unannotated = store.sentence_count(plan.dataset) - len({s.id for _, s in examples_with_sentences})
    if unannotated > 0:
        counts[UNACCEPTED] += unannotated
    summary.problem_counts = counts
    summary.problems = problems
    if strict and counts:
        raise ExportError(
            "problems found (--strict): " + "; ".join(f"{kind}: {n}" for kind, n in sorted(counts.items())), plan.out
        )
    if plan.split:
        n_articles = len({e.meta["article_id"] for e in examples})
        if n_articles < 2:
            raise ExportError(
                f"--split {plan.split} needs accepted sentences from at least 2 articles (train and dev never share an "
                f"article), but dataset {plan.dataset!r} has them from {plural(n_articles, 'article')}; "
                "export without --split, or annotate another article"
            )
    dev_articles = split_articles((e.meta["article_id"] for e in examples), plan.split or 0.0, plan.seed)
    train = [e for e in examples if e.meta["article_id"] not in dev_articles]
    dev = [e for e in examples if e.meta["article_id"] in dev_articles]
    summary.train, summary.dev = len(train), len(dev)
    parts: list[tuple[str, list[Example]]] = [("train", train), ("dev", dev)] if plan.split else [(plan.dataset, examples)]
    out = plan.out
    layout = LAYOUTS.get(plan.fmt)
    if layout is None:
        raise ExportError(f"unknown format {plan.fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    options = write_options(scheme, examples, spans_key=spans_key, conll_scheme=conll_scheme)
    if any(len(e.tokens or ()) != len(s.tokens) for e, s in examples_with_sentences):
        options = replace(options, split_tokens=True)  # a decision split tokens: see _write_config
    targets = layout(parts, plan, store)
    existing = [p for p, _, _ in targets if p.exists() and (p.is_file() or any(p.iterdir()))]
    if existing and not force:
        raise ExportError("exists already; pass --force to overwrite", existing[0])
    out.mkdir(parents=True, exist_ok=True)
    for target, write, items in targets:
        tmp = target.with_name(target.name + ".partial")
        _remove(tmp)
        try:
            more = write(items, tmp, options)
            if more:
                summary.problems.extend(("written with a problem", m) for m in more)
                summary.problem_counts["written with a problem"] += len(more)
            if target.is_dir():
                # an empty folder, or (checked above) --force: the new folder takes its place
                _remove(target)
            tmp.replace(target)
        except BaseException:
            _remove(tmp)
            raise
        summary.files.append(target)
    if plan.fmt == "spacy":
        model = Path("models") / plan.dataset
        if plan.split:
            summary.command = (
                f"python -m spacy train {out / 'config.cfg'} --paths.train {out / 'train.spacy'} --paths.dev {out / 'dev.spacy'} "
                f"--output {model}"
            )
        else:
            summary.command = (
                f"python -m spacy train {out / 'config.cfg'} --paths.train {out / (plan.dataset + '.spacy')} "
                f"--paths.dev {out / (plan.dataset + '.spacy')} --output {model}  (use --split 0.2 for a real dev set)"
            )
    return summary


def _remove(path: Path) -> None:
    """Delete a file or folder if it is there."""
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _brat_documents(store: Store, examples: Sequence[Example], plan: ExportPlan) -> list[Example]:
    """Article-level Examples (article text, spans and relations shifted by sentence offsets)."""
    by_article: dict[int, list[Example]] = defaultdict(list)
    for e in examples:
        by_article[e.meta["article_id"]].append(e)
    documents = []
    for article_id, items in by_article.items():
        article = store.article(article_id)
        sentences = {s.index: s for s in store.article_sentences(article_id)}
        spans: list[Span] = []
        relations: list[Relation] = []
        for e in items:
            base = sentences[e.meta["sentence_index"]].start
            spans.extend(replace(s, start=s.start + base, end=s.end + base, token_start=-1, token_end=-1) for s in e.spans)
            relations.extend(
                Relation((r.head[0] + base, r.head[1] + base), (r.child[0] + base, r.child[1] + base), r.label) for r in e.relations
            )
        spans.sort(key=lambda s: (s.start, s.end, s.label))
        name = article.meta.get("name") or article.title or f"article-{article_id}"
        meta: dict[str, Any] = {
            "name": name,
            "article_id": article_id,
            # the sentences that were decided (the sidecar file says so; brat itself cannot)
            "decided": sorted([sentences[e.meta["sentence_index"]].start, sentences[e.meta["sentence_index"]].end] for e in items),
        }
        who = {e.annotator for e in items}
        if len(who) == 1:
            meta["annotator"] = who.pop()
        if plan.gold:
            meta["gold"] = True
        documents.append(Example(text=article.text, spans=spans, relations=sorted(set(relations)), meta=meta))
    return documents


def _write_config(examples: Sequence[Example], path: Path, options: WriteOptions) -> list[str]:
    """A ready NER training config (spaCy's own ``init config``), with train/dev paths to fill in.

    When decisions split tokens (a span inside "U.S.-made"), the corpora read the DocBin's own
    tokens (``gold_preproc = true``): re-tokenising the text would put "U.S.-made" back into one
    token, which ``spacy debug data`` reports as misaligned and training cannot learn "U.S." from.
    """
    from spacy.cli.init_config import init_config  # deferred: only the spacy export writes a config

    config = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False, pretraining=False, silent=True)
    if options.split_tokens:
        for part in ("train", "dev"):
            config["corpora"][part]["gold_preproc"] = True
    config.to_disk(path)
    return []


# -- layouts: which files an export writes ----------------------------------------------------------

Target = tuple[Path, "Writer", Sequence[Example]]
"""A file (or brat folder) to write, the writer, and the examples it holds."""
Layout = Callable[[Sequence[tuple[str, Sequence[Example]]], ExportPlan, Store], list[Target]]
"""``layout(parts, plan, store)``: the targets of the parts (``train``/``dev``, or the dataset)."""


def write_options(scheme, examples: Sequence[Example], *, spans_key: str = "sc", conll_scheme: str = "iob2") -> WriteOptions:
    """What the writers need from the scheme and the command line."""
    from .formats import WriteOptions

    relation_labels = list(scheme.relation_names) + sorted({r.label for e in examples for r in e.relations} - set(scheme.relation_names))
    entity_names = list(scheme.entity_names)
    relation_constraints = {
        r.name: (tuple(r.head) if "*" not in r.head else tuple(entity_names), tuple(r.child) if "*" not in r.child else tuple(entity_names))
        for r in scheme.relations
    }
    return WriteOptions(spans_key=spans_key, relation_labels=relation_labels, conll_scheme=conll_scheme,
                        entity_names=entity_names, relation_constraints=relation_constraints)


def _file_per_part(suffix: str, fmt: str, extra: Sequence[tuple[str, Writer]] = ()) -> Layout:
    """One ``NAME{suffix}`` per part, written by ``fmt``'s writer; then ``extra`` files (name, writer)."""

    def layout(parts, plan: ExportPlan, store: Store) -> list[Target]:
        from .formats import writer_for

        targets: list[Target] = [(plan.out / f"{name}{suffix}", writer_for(fmt), items) for name, items in parts]
        targets.extend((plan.out / name, write, []) for name, write in extra)
        return targets

    return layout


def _doccano_files(parts, plan: ExportPlan, store: Store) -> list[Target]:
    """doccano has no annotator field: one file per annotator (``gold`` for gold), per part."""
    from .formats import writer_for
    from .formats.brat import safe_name

    targets: list[Target] = []
    for name, items in parts:
        by_annotator: dict[str, list[Example]] = defaultdict(list)
        for e in items:
            by_annotator["gold" if plan.gold else (e.annotator or "unknown")].append(e)
        for who, group in sorted(by_annotator.items()):
            stem = safe_name(who, 0) if not plan.split else f"{name}-{safe_name(who, 0)}"
            targets.append((plan.out / f"{stem}.jsonl", writer_for("doccano"), group))
    return targets


def _brat_folders(parts, plan: ExportPlan, store: Store) -> list[Target]:
    """A folder of article documents per part; brat holds one version of each document."""
    from .formats import writer_for

    several = sorted({e.annotator or "" for _, items in parts for e in items}) if not plan.gold else []
    if len(several) > 1:
        raise ExportError(
            f"brat holds one version of each document, but these decisions are by {', '.join(several)}: "
            "export one annotator (--source NAME) or gold (--source gold)"
        )
    return [
        (plan.out / ("brat" if not plan.split else f"brat-{name}"), writer_for("brat"), _brat_documents(store, items, plan))
        for name, items in parts
    ]


LAYOUTS: dict[str, Layout] = {  # in the order --help and messages list them
    "spacy": _file_per_part(".spacy", "spacy", extra=[("config.cfg", _write_config)]),
    "jsonl": _file_per_part(".jsonl", "jsonl"),
    "prodigy": _file_per_part(".jsonl", "prodigy"),
    "doccano": _doccano_files,
    "brat": _brat_folders,
    "conll": _file_per_part(".conll", "conll"),
}
"""Export format -> the files it writes. Adding a format is one entry (and its writer in ``formats``)."""

EXPORT_FORMATS = tuple(LAYOUTS)
"""The names ``annotator export --format`` takes."""
