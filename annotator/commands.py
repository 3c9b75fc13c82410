"""Bodies of the CLI commands that need more than a few lines (kept out of cli.py so that
``annotator --help`` stays fast). Output goes through Rich; user errors raise ``AnnotatorError``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from .errors import AnnotatorError, DatasetError, InputError


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def parse_overlap(value: str | None) -> str | int | None:
    """``all`` or a positive number of annotators per sentence."""
    if value is None:
        return None
    if value == "all":
        return "all"
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise DatasetError(f"--overlap must be 'all' or a positive number, not {value!r}")


def run_import(
    *,
    dataset: str,
    paths: Sequence[Path],
    model: Optional[str],
    no_model: bool,
    labels: Optional[Path],
    db: Optional[Path],
    skip_invalid: bool,
    workers: int,
    batch_size: int,
    fmt: Optional[str],
    annotator: Optional[str],
    overlap: Optional[str],
    add_labels: bool,
    label_map: Sequence[str],
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .importer import ArticleImporter, expand_paths
    from .labels import find_scheme
    from .store import ImportCounts, Store, default_db_path

    scheme = find_scheme(labels)
    overlap_value = parse_overlap(overlap)
    files = expand_paths(paths)
    err = _console(stderr=True)
    store = Store(db or default_db_path())
    try:
        settings = {"overlap": overlap_value} if overlap_value is not None else {"overlap": "all"}
        existing = store.find_dataset(dataset)
        if existing is None:
            store.ensure_dataset(dataset, settings)
        elif overlap_value is not None and existing.settings.get("overlap") != overlap_value:
            store.set_dataset_settings(dataset, {"overlap": overlap_value})

        plain, annotated = _split_by_format(files, fmt)
        suggest = None
        source = ""
        notice = ""
        if plain:
            from .preannotate import Preannotator, SentenceInput

            pre = Preannotator(scheme, model=model, use_model=not no_model, explicit=model is not None)
            notice = pre.notice if not no_model else ""
            source = pre.source

            def suggest(flat):
                return list(
                    pre.suggest((SentenceInput(text, tokens) for text, tokens in flat), batch_size=batch_size, n_process=workers)
                )

        total = ImportCounts()
        failed: list[str] = []
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("importing", total=len(files))
            importer = ArticleImporter(store, dataset, suggest=suggest, suggestion_source=source)
            for path in files:
                progress.update(task, description=f"importing {path.name}")
                try:
                    if path in annotated:
                        from .interop import import_annotated

                        counts = import_annotated(
                            store, dataset, path, annotated[path], scheme,
                            annotator=annotator, add_labels=add_labels, label_map=label_map, console=err,
                        )
                    else:
                        counts = importer.import_file(path)
                except AnnotatorError as exc:
                    if not skip_invalid:
                        raise
                    failed.append(exc.message)
                    err.print(f"[red]skipped[/] {exc.message}", markup=True, highlight=False)
                else:
                    total.add(counts)
                progress.advance(task)
        if notice:
            err.print(notice)
        out = _console()
        out.print(
            f"{dataset}: imported {total.articles} articles, {total.sentences} sentences, "
            f"{total.suggestions} suggestions, {total.decisions} decisions"
            + (f"; {total.skipped_articles} articles were already there" if total.skipped_articles else "")
            + (f"; {len(failed)} files skipped" if failed else "")
        )
    finally:
        store.close()


def _split_by_format(files: Sequence[Path], fmt: Optional[str]) -> tuple[list[Path], dict[Path, str]]:
    """Files of plain articles, and annotated files with their format."""
    plain: list[Path] = []
    annotated: dict[Path, str] = {}
    for path in files:
        kind = fmt or _detect(path)
        if kind in ("text", None):
            plain.append(path)
        else:
            annotated[path] = kind
    return plain, annotated


def _detect(path: Path) -> str:
    try:
        from .formats import detect_format
    except ImportError:  # pragma: no cover - formats package always ships
        return "text"
    return detect_format(path)


def show_sentences(*, dataset: str, db: Optional[Path], start: int, limit: int, annotator: Optional[str]) -> None:
    """A Rich table of sentences with their suggestions or an annotator's current decisions."""
    from rich.table import Table
    from rich.text import Text

    from .store import Store, default_db_path

    with Store(db or default_db_path(), create=False, readonly=True) as store:
        total = store.sentence_count(dataset)
        if total == 0:
            raise DatasetError(f"dataset {dataset!r} has no sentences")
        what = f"decisions of {annotator}" if annotator else "suggestions"
        table = Table("#", "sentence", what, title=f"{dataset}: sentences {start}-{min(total, start + limit - 1)} of {total}",
                      title_justify="left", show_lines=False, expand=True)
        for position in range(start, min(total, start + limit - 1) + 1):
            row = store.sentence_at(dataset, position)
            if row is None:
                break
            sentence = row.sentence
            if annotator:
                decision = store.current_decision(sentence.id, annotator)
                spans = decision.spans if decision and decision.answer else ()
                prefix = f"{decision.answer}: " if decision and decision.answer else "undecided"
            else:
                spans = tuple(s for g in store.suggestions(sentence.id) for s in g.spans)
                prefix = ""
            labels = Text(prefix)
            for span in spans:
                labels.append(f"{sentence.text[span.start:span.end]}", style="bold")
                labels.append(f" {span.label}  ", style="cyan")
            table.add_row(str(position), sentence.text, labels)
        _console().print(table)
