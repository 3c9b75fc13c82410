"""Bodies of the CLI commands that need more than a few lines (kept out of cli.py so that
``annotator --help`` stays fast). Output goes through Rich; user errors raise ``AnnotatorError``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from .errors import AnnotatorError, DatasetError


def _console(stderr: bool = False):
    """A Rich console that never reads user text as markup or emoji codes (styles go through ``Text``)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False, emoji=False)


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``1 article``, ``2 articles``; ``plural(1, "entry", "entries")``."""
    return f"{n} {singular if n == 1 else (plural_form or singular + 's')}"


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
    no_suggest: bool = False,
    db: Optional[Path],
    skip_invalid: bool,
    workers: int,
    batch_size: int,
    fmt: Optional[str],
    annotator: Optional[str],
    overlap: Optional[str],
    add_labels: bool,
    label_map: Sequence[str],
    snap: Optional[str] = None,
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
        # a new dataset is created by the first file's transaction: a failed import leaves none behind
        if existing is not None and overlap_value is not None and existing.settings.get("overlap") != overlap_value:
            store.set_dataset_settings(dataset, {"overlap": overlap_value})

        undetected: Optional[dict] = {} if skip_invalid else None  # files whose format is unknown: skipped in the loop
        plain, annotated = _split_by_format(files, fmt, undetected)
        suggest = None
        source = ""
        notice = ""
        segmenter = None
        if plain and not no_suggest:
            from .preannotate import Preannotator, SentenceInput
            from .segment import Segmenter

            pre = Preannotator(scheme, model=model, use_model=not no_model, explicit=model is not None)
            notice = pre.notice if not no_model else ""
            source = pre.source
            # Patterns are matched on the Docs segmentation makes anyway (no second tokenization).
            segmenter = Segmenter(patterns=pre.patterns)

            def suggest(flat):
                inputs = (SentenceInput(text, tokens, matches) for text, tokens, matches in flat)
                return list(pre.suggest(inputs, batch_size=batch_size, n_process=workers))

        total = ImportCounts()
        failed: list[str] = []
        with Progress(
            TextColumn("{task.description}", style="progress.description", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("importing", total=len(files))
            importer = ArticleImporter(store, dataset, segmenter=segmenter, suggest=suggest, suggestion_source=source,
                                       dataset_settings=settings)
            for path in files:
                progress.update(task, description=f"importing {path.name}")
                try:
                    if undetected and path in undetected:
                        raise undetected[path]
                    if path in annotated:
                        from .interop import import_annotated

                        counts = import_annotated(
                            store, dataset, path, annotated[path], scheme,
                            annotator=annotator, add_labels=add_labels, label_map=label_map, console=err,
                            snap=snap, dataset_settings=settings,
                        )
                    else:
                        counts = importer.import_file(path)
                except AnnotatorError as exc:
                    if not skip_invalid:
                        raise
                    failed.append(exc.message)
                    from rich.text import Text

                    err.print(Text.assemble(("skipped", "red"), f" {exc.message}"))
                else:
                    total.add(counts)
                progress.advance(task)
        if notice:
            err.print(notice)
        out = _console()
        out.print(
            f"{dataset}: imported {plural(total.articles, 'article')}, {plural(total.sentences, 'sentence')}, "
            f"{plural(total.suggestions, 'suggestion')}, {plural(total.decisions, 'decision')}"
            + (f"; {plural(total.skipped_articles, 'article')} {'was' if total.skipped_articles == 1 else 'were'} already in the dataset"
               if total.skipped_articles else "")
            + (f"; {plural(total.duplicate_articles, 'duplicate article')} inside the same file skipped"
               if total.duplicate_articles else "")
            + (f"; {plural(len(failed), 'file')} skipped" if failed else "")
        )
    finally:
        store.close()


def _split_by_format(files: Sequence[Path], fmt: Optional[str], undetected: Optional[dict] = None) -> tuple[list[Path], dict[Path, str]]:
    """Files of plain articles, and annotated files with their format (with ``undetected``: the
    error of each file whose format cannot be told is kept there instead of raised)."""
    plain: list[Path] = []
    annotated: dict[Path, str] = {}
    for path in files:
        try:
            kind = fmt or _detect(path)
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


def _detect(path: Path) -> str:
    try:
        from .formats import detect_format
    except ImportError:  # pragma: no cover - formats package always ships
        return "text"
    return detect_format(path)


def show_sentences(
    *, dataset: str, db: Optional[Path], start: int, limit: int, annotator: Optional[str], gold: bool = False
) -> None:
    """A Rich table of sentences with their suggestions, an annotator's current decisions, or gold.

    ``annotator`` must have decided something in the dataset (as annotator or as reviewer);
    an unknown name is an error listing the known ones. A name that only wrote gold shows its
    gold decisions; ``gold`` shows the gold decisions of every reviewer (or of ``annotator``).
    """
    from rich.table import Table
    from rich.text import Text

    from .store import Store, default_db_path

    with Store(db or default_db_path(), create=False, readonly=True) as store:
        total = store.sentence_count(dataset)
        if total == 0:
            raise DatasetError(f"dataset {dataset!r} has no sentences")
        annotators = store.annotators(dataset)
        reviewers = store.reviewers(dataset)
        if annotator is not None and annotator not in annotators and annotator not in reviewers:
            raise DatasetError(
                f"no decisions by {annotator!r} in dataset {dataset!r} (annotators: {', '.join(annotators) or 'none'}; "
                f"reviewers, shown with --gold: {', '.join(reviewers) or 'none'})"
            )
        if gold and annotator is not None and annotator not in reviewers:
            raise DatasetError(
                f"{annotator!r} wrote no gold decisions in dataset {dataset!r} "
                f"(reviewers: {', '.join(reviewers) or 'none'}); leave out --gold to see their decisions"
            )
        if gold and not reviewers:
            raise DatasetError(f"dataset {dataset!r} has no gold decisions yet (run `annotator review`)")
        if annotator is not None and annotator not in annotators:
            gold = True  # only a reviewer: their decisions are gold
        if gold:
            who = [annotator] if annotator else reviewers
            what = f"gold decisions of {', '.join(who) or 'nobody'}"
        elif annotator:
            who = [annotator]
            what = f"decisions of {annotator}"
        else:
            who = []
            what = "suggestions"
        last = min(total, start + limit - 1)
        table = Table("#", "sentence", what, title=f"{dataset}: sentences {start}-{last} of {total}",
                      title_justify="left", show_lines=False, expand=True)
        for position in range(start, last + 1):
            row = store.sentence_at(dataset, position)
            if row is None:
                break
            sentence = row.sentence
            cell = Text()
            if who:
                decided = False
                for name in who:
                    decision = store.current_decision(sentence.id, name, gold=gold)
                    if decision is None or decision.answer is None:
                        continue
                    if decided:
                        cell.append("\n")
                    decided = True
                    cell.append(f"{name}: " if gold and len(who) > 1 else "")
                    cell.append(f"{decision.answer}: ")
                    _append_spans(cell, sentence.text, decision.spans)
                if not decided:
                    cell.append("undecided", style="dim")
            else:
                _append_spans(cell, sentence.text, tuple(s for g in store.suggestions(sentence.id) for s in g.spans))
            table.add_row(str(position), Text(sentence.text), cell)
        _console().print(table)


def _append_spans(cell, text: str, spans) -> None:
    for span in spans:
        cell.append(text[span.start:span.end], style="bold")
        cell.append(f" {span.label}  ", style="cyan")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def run_agreement(*, dataset: str, db: Optional[Path], annotators: Optional[str], as_json: bool, labels_path: Optional[Path]) -> None:
    import json

    from .agreement import compute_agreement
    from .gold import load_versions
    from .labels import find_scheme
    from .store import Store, default_db_path

    scheme = find_scheme(labels_path)
    with Store(db or default_db_path(), create=False, readonly=True) as store:
        chosen = [a.strip() for a in annotators.split(",") if a.strip()] if annotators else store.annotators(dataset)
        known = set(store.annotators(dataset))
        unknown = [a for a in chosen if a not in known]
        if unknown:
            raise DatasetError(f"no decisions by {', '.join(unknown)} in dataset {dataset!r} (annotators: {', '.join(sorted(known)) or 'none'})")
        if len(chosen) < 2:
            raise DatasetError(f"agreement needs at least two annotators (dataset {dataset!r} has {', '.join(chosen) or 'none'})")
        symmetric = {r.name for r in scheme.relations if r.symmetric}
        report = compute_agreement(load_versions(store, dataset, chosen), chosen, symmetric_labels=symmetric)
    data = report.to_dict()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    _print_agreement(data)


def _print_agreement(data: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    console = _console()
    console.print(Text.assemble(("agreement", "bold"), f" over {plural(data['n_sentences'], 'sentence')} decided by at least two of: "
                                f"{', '.join(data['annotators'])}"))
    if data["n_sentences"] == 0:
        return
    spans = Table("pair", "sentences", "exact P", "exact R", "exact F1", "overlap F1", "macro F1", title="spans (b scored against a)", title_justify="left")
    for pair in data["spans"]["pairs"]:
        exact = pair["exact"]["micro"]
        spans.add_row(f"{pair['a']} / {pair['b']}", str(pair["n_sentences"]), _fmt(exact["precision"]), _fmt(exact["recall"]),
                      _fmt(exact["f1"]), _fmt(pair["overlap"]["micro"]["f1"]), _fmt(pair["exact"]["macro"]["f1"]))
    console.print(spans)
    per_label: dict[str, list[float]] = {}
    for pair in data["spans"]["pairs"]:
        for label, scores in pair["exact"]["per_label"].items():
            if scores["f1"] is not None:
                per_label.setdefault(label, []).append(scores["f1"])
    if per_label:
        chart = Table("label", "exact F1 (mean over pairs)", "", title="per label", title_justify="left", box=None)
        for label, values in sorted(per_label.items()):
            mean = sum(values) / len(values)
            chart.add_row(label, Text("█" * round(mean * 30) + "░" * (30 - round(mean * 30)), style="green"), f"{mean:.3f}")
        console.print(chart)
    tokens = Table("pair", "tokens", "observed", "Cohen's κ", title="tokens (label per token, O included)", title_justify="left")
    for pair in data["tokens"]["pairs"]:
        tokens.add_row(f"{pair['a']} / {pair['b']}", str(pair["n_units"]), _fmt(pair["observed"]), _fmt(pair["kappa"]))
    console.print(tokens)
    fleiss = data["tokens"]["fleiss_kappa"]
    alpha = data["tokens"]["krippendorff_alpha"]
    console.print(f"Fleiss' κ (all annotators): {_fmt(fleiss['value'])} over {fleiss['n_units']} tokens   "
                  f"Krippendorff's α (nominal): {_fmt(alpha['value'])} over {alpha['n_units']} tokens")
    relations = Table("pair", "labelled P", "labelled R", "labelled F1", "unlabelled F1", title="relations", title_justify="left")
    for pair in data["relations"]["pairs"]:
        lab = pair["labelled"]["micro"] if "micro" in pair["labelled"] else pair["labelled"]
        unl = pair["unlabelled"]
        relations.add_row(f"{pair['a']} / {pair['b']}", _fmt(lab["precision"]), _fmt(lab["recall"]), _fmt(lab["f1"]), _fmt(unl["f1"]))
    console.print(relations)
    answers = Table("pair", "sentences", "observed", "Cohen's κ", title="answers (accept/reject/ignore)", title_justify="left")
    for pair in data["answers"]["pairs"]:
        answers.add_row(f"{pair['a']} / {pair['b']}", str(pair["n_units"]), _fmt(pair["observed"]), _fmt(pair["kappa"]))
    console.print(answers)


def run_auto_review(*, dataset: str, db: Optional[Path], reviewer: str, method: str) -> None:
    """Non-interactive review: sentences where all agree, and strict majorities, become gold."""
    from .gold import auto_review
    from .store import Store, default_db_path

    with Store(db or default_db_path(), create=False) as store:
        result = auto_review(store, dataset, reviewer, method)
    _console().print(
        f"{dataset}: {plural(result.agreed, 'sentence')} where all agreed and {plural(result.majority, 'majority decision')} "
        f"stored as gold by {reviewer}; {plural(result.ties, 'tie')} left for `annotator review`"
        + (f"; {result.already} {'was' if result.already == 1 else 'were'} gold already" if result.already else "")
    )

def run_export_command(
    *, dataset: str, fmt: str, out: Optional[Path], source: Optional[str], answers: str, split: Optional[float],
    seed: int, force: bool, strict: bool, db: Optional[Path], labels_path: Optional[Path], spans_key: str, conll_scheme: str,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .interop import EXPORT_FORMATS, ExportPlan, choose_source, run_export, scheme_for_dataset
    from .labels import find_scheme
    from .model import ANSWERS
    from .store import Store, default_db_path

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
    scheme = find_scheme(labels_path)
    err = _console(stderr=True)
    with Store(db or default_db_path(), create=False, readonly=True) as store:
        scheme = scheme_for_dataset(scheme, store, dataset)
        chosen, annotators, gold = choose_source(store, dataset, source)
        plan = ExportPlan(dataset=dataset, fmt=fmt, source=chosen, annotators=annotators, gold=gold, answers=wanted,
                          out=out or Path("exports") / dataset, split=split, seed=seed)
        with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), console=err, transient=True,
                      disable=not err.is_terminal) as progress:
            task = progress.add_task("export", total=None)
            summary = run_export(store, scheme, plan, force=force, strict=strict, spans_key=spans_key,
                                 conll_scheme=conll_scheme, progress=lambda: progress.advance(task))
    console = _console()
    split_note = f" ({summary.train} train / {summary.dev} dev, split by article)" if split else ""
    console.print(f"{dataset}: exported {plural(summary.examples, 'sentence')} from {chosen} as {fmt}{split_note}")
    for path in summary.files:
        console.print(f"  wrote {path}")
    for kind, n in sorted(summary.problem_counts.items()):
        err.print(f"  {kind}: {n}")
    for message in summary.problems[:10]:
        err.print(f"    {message}")
    if summary.command:
        console.print(f"train with: {summary.command}")


def run_check(*, dataset: str, db: Optional[Path], source: Optional[str], labels_path: Optional[Path], strict: bool) -> None:
    """The database itself (``Store.verify``), then what an export of ``source`` would hide."""
    from .interop import ExportPlan, check_examples, choose_source, collect_examples, scheme_for_dataset
    from .labels import find_scheme
    from .store import Store, default_db_path

    scheme = find_scheme(labels_path)
    console = _console()
    with Store(db or default_db_path(), create=False, readonly=True) as store:
        report = store.verify(dataset)
        _print_verify(console, report)
        has_decisions = bool(store.annotators(dataset) or store.reviewers(dataset))
        if source is None and not has_decisions:
            console.print(f"{dataset}: no decisions yet, nothing an export would hold")
            pairs: list = []
            counts: dict = {}
            problems: list[str] = []
        else:
            scheme = scheme_for_dataset(scheme, store, dataset)
            chosen, annotators, gold = choose_source(store, dataset, source)
            plan = ExportPlan(dataset, "spacy", chosen, annotators, gold, ("accept",), Path("."))
            pairs = list(collect_examples(store, plan))
            counts, problems = check_examples([e for e, _ in pairs], scheme, needs_ents=True)
            unannotated = store.sentence_count(dataset) - len({s.id for _, s in pairs})
            if unannotated:
                counts["sentences without an accepted decision"] += unannotated
            if not counts:
                console.print(f"export of {chosen}: no problems in {plural(len(pairs), 'accepted sentence')}")
            else:
                console.print(f"export of {chosen}: {plural(len(pairs), 'accepted sentence')}")
                for kind, n in sorted(counts.items()):
                    console.print(f"  {kind}: {n}")
                for message in problems[:50]:
                    console.print(f"    {message}")
    database_problems = sum(report.counts.values()) + (0 if report.integrity_ok else len(report.integrity))
    found = database_problems + sum(counts.values())
    if strict and found:
        raise DatasetError(f"{plural(found, 'problem')} found (--strict)")


def _print_verify(console, report) -> None:
    """``Store.verify``'s findings: what was checked, counts per kind, the first problems."""
    checked = (f"{plural(report.decisions, 'stored decision')} ({plural(report.spans, 'span')}, "
               f"{plural(report.relations, 'relation')}), {plural(report.current_rows, 'current row')}")
    if report.ok:
        console.print(f"database: ok (integrity check ok; {checked} checked: current names each latest decision, "
                      "spans on token boundaries, relations to existing spans)")
        return
    console.print(f"database: problems found ({checked} checked)")
    if not report.integrity_ok:
        console.print(f"  integrity check: {plural(len(report.integrity), 'problem')}")
        for line in report.integrity[:10]:
            console.print(f"    {line}")
    for kind, n in sorted(report.counts.items()):
        console.print(f"  {kind}: {n}")
    for problem in report.problems:
        where = f"sentence {problem.position}" if problem.position is not None else "unknown sentence"
        console.print(f"    {where}: {problem.message}")
