"""The ``annotator`` command line (Typer + Rich): each command parses its arguments, calls the
core module that owns the work (``importer``, ``export``, ``gold``, ``agreement``, ``store``) and
renders the result through :mod:`annotator.cli.render`.

Each command imports what it needs inside its function: ``annotator --help``, ``datasets`` and
``stats`` load neither spaCy (~0.6 s) nor Textual (~0.2 s). Every ``AnnotatorError`` becomes one
line on stderr and exit code 2; nothing a user types produces a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import AnnotatorError, DatasetError

app = typer.Typer(
    name="annotator",
    help="Label entities and relations in news articles, in the terminal. Data lives in a SQLite file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DbOption = typer.Option(None, "--db", help="Database file [default: $ANNOTATOR_DB or ./annotator.db].")
LabelsOption = typer.Option(None, "--labels", help="Label scheme [default: ./labels.yaml, else the packaged one].")


def _err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def _store(db: Optional[Path], *, create: bool = False, readonly: bool = False):
    from ..store import Store, default_db_path

    return Store(db or default_db_path(), create=create, readonly=readonly)


def _scheme(labels: Optional[Path]):
    from ..labels import find_scheme

    return find_scheme(labels)


def parse_overlap(value: str | None) -> str | int | None:
    """``all`` or a positive number of annotators per sentence."""
    if value is None:
        return None
    if value == "all":
        return "all"
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise DatasetError(f"--overlap must be 'all' or a positive number, not {value!r}")


def validate_name(kind: str, name: str) -> str:
    """Dataset and annotator names: 1-64 printable characters, no path separators or control chars."""
    if not name or len(name) > 64 or any(ch in name for ch in "/\\\x00") or not name.isprintable() or name != name.strip():
        raise DatasetError(
            f"invalid {kind} name {name!r}: use 1-64 printable characters without '/', '\\' or surrounding spaces"
        )
    return name


@app.command("import")
def import_command(
    dataset: str = typer.Argument(..., help="Dataset to import into (created when missing)."),
    paths: List[Path] = typer.Argument(..., help="Files or folders: .txt articles, .jsonl articles, annotated files."),
    model: Optional[str] = typer.Option(None, "--model", help="spaCy pipeline for suggestions [default: labels.yaml's model]."),
    no_model: bool = typer.Option(False, "--no-model", help="Suggest from labels.yaml patterns only."),
    no_suggest: bool = typer.Option(False, "--no-suggest", help="Store no suggestions (the annotation screen makes them on the fly)."),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Report bad files and go on with the others."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes for the spaCy model (nlp.pipe n_process)."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Sentences per nlp.pipe batch."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Force the input format (text, prodigy, doccano, brat, conll, spacy)."),
    annotator: Optional[str] = typer.Option(None, "--annotator", help="Annotator for annotated files that name none."),
    overlap: Optional[str] = typer.Option(None, "--overlap", help="Dataset routing: 'all' or a number of annotators per sentence."),
    add_labels: bool = typer.Option(False, "--add-labels", help="Accept labels that are not in the scheme."),
    label_map: List[str] = typer.Option([], "--map", help="Rename a label on import: OLD=NEW (repeatable)."),
    snap: Optional[str] = typer.Option(None, "--snap", help="Spans that cut a word: 'expand' or 'contract' them to whole tokens, or 'split' the word for their decision (reported) [default: refuse]."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Segment and suggest on a Dask cluster: a scheduler address (tcp://HOST:8786) or local:N (N local worker processes); needs pip install 'annotator[cluster]'."),
    cluster_batch: int = typer.Option(32, "--cluster-batch", min=1, help="Articles per task sent to a cluster worker."),
) -> None:
    """Import articles (with spaCy suggestions) or annotated data into DATASET."""
    from contextlib import nullcontext

    from rich.text import Text

    from ..importer import SuggestOptions, expand_paths, import_files
    from . import render

    validate_name("dataset", dataset)
    annotator = validate_name("annotator", annotator) if annotator else None
    scheme = _scheme(labels)
    overlap_value = parse_overlap(overlap)
    files = expand_paths(paths)
    err = render.console(stderr=True)
    if cluster is not None:
        from ..cluster import connect, parse_address, require_dask

        parse_address(cluster)  # a bad address, or no Dask, is refused before anything starts
        require_dask()
        if workers > 1:
            raise DatasetError("--workers and --cluster do not go together: the cluster's workers run the pipeline")
    with _store(db, create=True) as store, render.import_progress(err) as progress, \
            (connect(cluster, batch_articles=cluster_batch) if cluster else nullcontext()) as on_cluster:
        task = progress.add_task("importing", total=len(files))
        articles = progress.add_task("articles", total=None) if cluster else None
        result = import_files(
            store, dataset, files, scheme,
            overlap=overlap_value, fmt=fmt, skip_invalid=skip_invalid,
            suggest=None if no_suggest else SuggestOptions(model, not no_model, batch_size, workers),
            annotator=annotator, add_labels=add_labels, label_map=label_map, snap=snap,
            on_file=lambda path: progress.update(task, description=f"importing {path.name}"),
            on_file_done=lambda path: progress.advance(task),
            on_skipped=lambda message: render.skipped(err, message),
            on_message=lambda line: err.print(Text(line)),
            on_article=(lambda n: progress.advance(articles, n)) if cluster else None,
            cluster=on_cluster,
        )
    if result.notice:
        err.print(result.notice)
    render.import_summary(dataset, result)


@app.command("datasets")
def datasets_command(db: Optional[Path] = DbOption) -> None:
    """List the datasets with their sizes, annotators and reviewers (who wrote gold)."""
    from . import render

    with _store(db, readonly=True) as store:
        render.datasets_table(store)


@app.command("stats")
def stats_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    db: Optional[Path] = DbOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Articles, sentences, suggestions per label; decisions and accepted spans/relations per label,
    per annotator and for gold separately."""
    import json

    from . import render

    with _store(db, readonly=True) as store:
        stats = store.stats(dataset)
    if as_json:
        sys.stdout.write(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
        return
    render.stats_tables(dataset, stats)


@app.command("show")
def show_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    db: Optional[Path] = DbOption,
    start: int = typer.Option(1, "--from", min=1, help="First sentence position."),
    limit: int = typer.Option(50, "--limit", min=1, help="Sentences to show."),
    annotator: Optional[str] = typer.Option(None, "--annotator", help="Show this annotator's decisions instead of suggestions."),
    gold: bool = typer.Option(False, "--gold", help="Show gold decisions (of every reviewer, or of --annotator NAME)."),
) -> None:
    """Print sentences with their suggestions (or an annotator's, or gold, decisions) as a table."""
    from . import render

    with _store(db, readonly=True) as store:
        render.sentences_table(store, dataset=dataset, start=start, limit=limit, annotator=annotator, gold=gold)


@app.command("search")
def search_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    query: str = typer.Argument(..., help="Text to find (ASCII letters match either case), as `/` does in annotate."),
    db: Optional[Path] = DbOption,
    start: int = typer.Option(1, "--from", min=1, help="First sentence position to look at."),
    limit: int = typer.Option(20, "--limit", min=1, help="Most sentences to print."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line: position, text."),
) -> None:
    """Print the sentences whose text contains QUERY, in position order (position and text)."""
    import json

    from rich.text import Text

    from ..wording import plural
    from . import render

    if not query:
        raise DatasetError("the query is empty: give the text to find")
    found = []
    with _store(db, readonly=True) as store:
        position = start - 1
        while len(found) < limit:
            hit = store.search(dataset, query, after_position=position)
            if hit is None or hit <= position:  # no more matches after `position` (search wraps around)
                break
            found.append(store.sentence_at(dataset, hit).sentence)
            position = hit
    out = render.console()
    for sentence in found:
        if as_json:
            sys.stdout.write(json.dumps({"position": sentence.position, "text": sentence.text}, ensure_ascii=False) + "\n")
        else:
            out.print(Text(f"{sentence.position:>7}  ") + Text(sentence.text))
    more = " (the first; --limit for more)" if len(found) == limit else ""
    _err(f"{dataset}: {plural(len(found), 'sentence')}{more} contain {query!r}" if found
         else f"{dataset}: no sentence from position {start} on contains {query!r}")


@app.command("export")
def export_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    fmt: str = typer.Option("spacy", "--format", help="spacy | jsonl | prodigy | doccano | brat | conll."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder [default: exports/DATASET]."),
    source: Optional[str] = typer.Option(None, "--source", help="An annotator, 'all', or 'gold' [default: gold if any, else the single annotator]."),
    answers: str = typer.Option("accept", "--answers", help="Answers to include (jsonl/prodigy only): e.g. accept,reject,ignore."),
    split: Optional[float] = typer.Option(None, "--split", help="Fraction of ARTICLES for dev (train/dev files)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the deterministic train/dev split."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    strict: bool = typer.Option(False, "--strict", help="Refuse to write when checks find problems."),
    spans_key: str = typer.Option("sc", "--spans-key", help="doc.spans key for all spans (spacy)."),
    conll_scheme: str = typer.Option("iob2", "--tags", help="CoNLL tags: iob2 or biluo."),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Export decisions as training data (spaCy DocBin + config) or for other tools."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..export import dataset_scheme, plan_export, run_export, validate_export_options
    from . import render

    if conll_scheme not in ("iob2", "biluo"):
        raise DatasetError(f"--tags must be iob2 or biluo, not {conll_scheme!r}")
    wanted = validate_export_options(fmt, answers, split)
    scheme = _scheme(labels)
    err = render.console(stderr=True)
    with _store(db, readonly=True) as store:
        scheme = dataset_scheme(scheme, store, dataset)
        plan = plan_export(store, dataset, fmt, source=source, answers=wanted, out=out, split=split, seed=seed)
        with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), console=err, transient=True,
                      disable=not err.is_terminal) as progress:
            task = progress.add_task("export", total=None)
            summary = run_export(store, scheme, plan, force=force, strict=strict, spans_key=spans_key,
                                 conll_scheme=conll_scheme, progress=lambda: progress.advance(task))
    render.export_summary(err, dataset=dataset, fmt=fmt, source=plan.source, split=split, summary=summary)


@app.command("check")
def check_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    source: Optional[str] = typer.Option(None, "--source", help="An annotator, 'all' or 'gold'."),
    strict: bool = typer.Option(False, "--strict", help="Exit with code 2 when there are problems."),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Verify the database (SQLite's integrity check, the current index against the history, spans on
    token boundaries, relations to existing spans), then find what an export would otherwise hide:
    off-token spans, whitespace, overlaps, dangling relations, rare labels. A damaged database exits 2."""
    from ..errors import StoreError
    from ..export import check_export
    from ..wording import plural
    from . import render

    _scheme(labels)  # a bad --labels file is an error here too
    out = render.console()
    with _store(db, readonly=True) as store:
        report = store.verify(dataset)
        render.verify_report(out, report)
        if report.damaged:  # not a warning: nothing read from it can be trusted, --strict or not
            raise StoreError(f"the database is damaged ({plural(len(report.integrity), 'problem')}); "
                             "restore it from a backup (or try `sqlite3 FILE .recover`)", store.path)
        check = check_export(store, dataset, source)
        if check is None:
            out.print(f"{dataset}: no decisions yet, nothing an export would hold")
        else:
            render.export_check(out, check)
    found = sum(report.counts.values()) + (sum(check.problem_counts.values()) if check is not None else 0)
    if strict and found:
        raise DatasetError(f"{plural(found, 'problem')} found (--strict)")


@app.command("agreement")
def agreement_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    annotators: Optional[str] = typer.Option(None, "--annotators", help="Comma-separated annotators [default: all]."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Processes counting in parallel (1: in this process) [default: one per core, at most 4, from 20,000 sentences]."
    ),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Inter-annotator agreement: span P/R/F1, token kappa and alpha, relation F1, answers."""
    import json

    from ..gold import dataset_agreement
    from . import render

    scheme = _scheme(labels)
    with _store(db, readonly=True) as store:
        chosen = [a.strip() for a in annotators.split(",") if a.strip()] if annotators else store.annotators(dataset)
        known = set(store.annotators(dataset))
        unknown = [a for a in chosen if a not in known]
        if unknown:
            raise DatasetError(f"no decisions by {', '.join(unknown)} in dataset {dataset!r} (annotators: {', '.join(sorted(known)) or 'none'})")
        if len(chosen) < 2:
            raise DatasetError(f"agreement needs at least two annotators (dataset {dataset!r} has {', '.join(chosen) or 'none'})")
        symmetric = {r.name for r in scheme.relations if r.symmetric}
        report = dataset_agreement(store, dataset, chosen, symmetric_labels=symmetric, workers=workers)
    data = report.to_dict()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    render.agreement_tables(data)


@app.command("review")
def review_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    reviewer: str = typer.Option("reviewer", "--reviewer", help="Who settles the disagreements (stored as gold decisions)."),
    auto: Optional[str] = typer.Option(None, "--auto", help="'majority': settle strict majorities without the UI (ties stay)."),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Review disagreements between annotators into gold decisions."""
    validate_name("reviewer", reviewer)
    if auto is not None:
        run_auto_review(dataset=dataset, db=db, reviewer=reviewer, method=auto)
        return
    from ..tui.review_app import run_review  # Textual is only imported here

    run_review(dataset=dataset, reviewer=reviewer, db=db, labels=labels)


def run_auto_review(*, dataset: str, db: Optional[Path], reviewer: str, method: str) -> None:
    """``review --auto``: sentences where all agree, and strict majorities, become gold (``gold.auto_review``)."""
    from ..gold import auto_review
    from ..wording import plural
    from .render import console

    with _store(db) as store:
        result = auto_review(store, dataset, reviewer, method)
    console().print(
        f"{dataset}: {plural(result.agreed, 'sentence')} where all agreed and {plural(result.majority, 'majority decision')} "
        f"stored as gold by {reviewer}; {plural(result.ties, 'tie')} left for `annotator review`"
        + (f"; {result.already} {'was' if result.already == 1 else 'were'} gold already" if result.already else "")
    )


dataset_app = typer.Typer(help="Dataset settings.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("set")
def dataset_set_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    settings: List[str] = typer.Argument(..., help="KEY=VALUE pairs; known: overlap=all|N, suggestions=SOURCE (empty: every source), memory=own|shared|off."),
    db: Optional[Path] = DbOption,
) -> None:
    """Change a dataset's settings (e.g. `overlap=2`: a sentence leaves new annotators' queues once 2 decided it)."""
    from .render import console

    values: dict = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise DatasetError(f"expected KEY=VALUE, not {item!r}")
        if key not in ("overlap", "suggestions", "memory"):
            raise DatasetError(f"unknown dataset setting {key!r} (known: overlap, suggestions, memory)")
        if key == "memory":
            from ..memory import memory_mode

            if memory_mode(value) is None:
                raise DatasetError(f"memory={value!r}: use own (your decisions and gold), shared (everyone's) or off")
            values[key] = memory_mode(value)
            continue
        values[key] = parse_overlap(value) if key == "overlap" else (value or None)
    with _store(db) as store:
        if values.get("suggestions"):
            from ..resuggest import resolve_source

            resolve_source(store, dataset, values["suggestions"])
        info = store.set_dataset_settings(dataset, values)
    console().print(f"{dataset}: " + ", ".join(f"{k}={v}" for k, v in info.settings.items()))


@app.command("merge")
def merge_command(
    target: Path = typer.Argument(..., help="Database to merge into (created when missing)."),
    sources: List[Path] = typer.Argument(..., help="Databases of annotators who worked elsewhere."),
) -> None:
    """Bring datasets, articles, suggestions and decisions of other databases into TARGET (idempotent)."""
    from ..store import Store, merge_into
    from ..wording import plural
    from .render import console

    err = console(stderr=True)
    with Store(target) as store:
        for source in sources:
            if source.resolve() == target.resolve():
                raise DatasetError("cannot merge a database into itself", source)
            report = merge_into(store, source)
            for conflict in report.conflicts:
                err.print(f"conflict: {conflict}")
            console().print(
                f"{source}: {plural(report.datasets, 'dataset')}, {plural(report.articles, 'article')}, "
                f"{plural(report.sentences, 'sentence')}, {plural(report.suggestions, 'suggestion')}, "
                f"{plural(report.decisions, 'decision')} merged"
            )


@app.command("annotate")
def annotate_command(
    dataset: str = typer.Argument(..., help="Dataset to annotate."),
    annotator: str = typer.Option(..., "--annotator", help="Your name: decisions are stored under it."),
    db: Optional[Path] = DbOption,
    labels: Optional[Path] = LabelsOption,
    start: Optional[int] = typer.Option(None, "--start", min=1, help="Open sentence N [default: your first undecided one]."),
    suggestions: Optional[str] = typer.Option(None, "--suggestions", help="Suggestion source to show [default: the dataset's active one]."),
    order: str = typer.Option("document", "--order", help="document: in stored order; uncertain: where the stored suggestion sources disagree most first (within windows of 1000 undecided sentences)."),
) -> None:
    """Annotate DATASET in the terminal (keyboard first; ? lists the keys)."""
    from ..queue_order import ORDERS

    if order not in ORDERS:
        raise typer.BadParameter(f"{order!r} is not one of {', '.join(ORDERS)}", param_hint="--order")
    validate_name("annotator", annotator)
    scheme = _scheme(labels)
    with _store(db) as store:
        path = store.path
        count = store.sentence_count(store.dataset(dataset).name)
        if suggestions is not None:
            from ..resuggest import resolve_source

            resolve_source(store, dataset, suggestions)
    if count == 0:
        raise DatasetError(f"dataset {dataset!r} has no sentences yet (import some articles first)")
    if start is not None and start > count:
        raise DatasetError(f"--start {start}: dataset {dataset!r} has {count} sentences")
    from ..tui.app import run  # Textual (~0.2 s) is imported only for this command; spaCy never at start

    run(path, dataset, annotator, scheme, start=start, suggestions=suggestions, order=order)


class _PipeGuard:
    """sys.stdout/sys.stderr for every command: when the reader goes away (``annotator ... | head``),
    the rest of the output goes to /dev/null and the command finishes with its own exit code, quietly."""

    def __init__(self, stream):
        self._stream = stream

    def _gone(self) -> None:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main() -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 2; a closed
    pipe is never an error (:class:`_PipeGuard`); SQLite errors that escaped the store become one line."""
    import sqlite3

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _PipeGuard):
            setattr(sys, name, _PipeGuard(stream))
    try:
        returned = app(standalone_mode=False)
        if returned == 130:  # Typer turns ctrl+c into Exit(130), which it returns in this mode
            raise KeyboardInterrupt
    except sqlite3.DatabaseError as exc:
        from ..store.connection import translate

        _err(f"annotator: {translate(exc, '').problem}")
        sys.exit(2)
    except AnnotatorError as exc:
        _err(f"annotator: {exc.message}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err("annotator: interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors from Typer's click (typer vendors its own copy)
        if type(exc).__name__ == "Abort":
            _err("annotator: aborted")
            sys.exit(1)
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(2)
        raise


from . import serve_commands  # noqa: E402,F401  (registers `serve` and `user`; their modules load only when run)
from . import model_commands  # noqa: E402,F401  (registers `train`, `suggest`, `evaluate`, `suggestions`)
