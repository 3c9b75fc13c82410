"""What the CLI prints: one console factory, and the tables and summary lines of each command.

Every function here renders a result the core computed (``Store.stats``, ``Store.verify``, an
agreement report, an import or export result); none decides anything. Rich is imported inside
the functions so ``annotator --help`` does not pay for it.
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import DatasetError
from ..wording import plural


def console(stderr: bool = False):
    """A Rich console that never reads user text as markup or emoji codes (styles go through ``Text``)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False, emoji=False)


def import_progress(err):
    """The progress bar of ``annotator import`` (one step per file; hidden when not a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def skipped(err, message: str) -> None:
    from rich.text import Text

    err.print(Text.assemble(("skipped", "red"), f" {message}"))


def import_summary(dataset: str, result) -> None:
    total, failed = result.counts, result.failed
    console().print(
        f"{dataset}: imported {plural(total.articles, 'article')}, {plural(total.sentences, 'sentence')}, "
        f"{plural(total.suggestions, 'suggestion')}, {plural(total.decisions, 'decision')}"
        + (f"; {plural(total.skipped_articles, 'article')} {'was' if total.skipped_articles == 1 else 'were'} already in the dataset"
           if total.skipped_articles else "")
        + (f"; {plural(total.duplicate_articles, 'duplicate article')} inside the same file skipped"
           if total.duplicate_articles else "")
        + (f"; {plural(len(failed), 'file')} skipped" if failed else "")
    )


def datasets_table(store) -> None:
    from rich.table import Table

    table = Table("dataset", "articles", "sentences", "annotators", "reviewers (gold)", "settings", box=None)
    for info in store.datasets():
        stats = store.stats(info.name)
        table.add_row(
            info.name,
            str(stats["articles"]),
            str(stats["sentences"]),
            ", ".join(store.annotators(info.name)) or "-",
            ", ".join(store.reviewers(info.name)) or "-",
            ", ".join(f"{k}={v}" for k, v in info.settings.items()) or "-",
        )
    console().print(table)


def stats_tables(dataset: str, stats: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
    out.print(Text.assemble(
        (dataset, "bold"),
        f": {plural(stats['articles'], 'article')}, {plural(stats['sentences'], 'sentence')} "
        f"({stats['sentences_with_suggestions']} with suggestions), {plural(stats['history_rows'], 'history row')}",
    ))
    if stats["suggestions_per_label"]:
        table = Table("label", "count", title="suggestions per label", title_justify="left", box=None)
        for label, n in stats["suggestions_per_label"].items():
            table.add_row(str(label), str(n))
        out.print(table)
    annotators = list(stats["decisions_per_annotator"])
    has_gold = bool(stats["gold_decisions_per_reviewer"])
    columns = annotators + (["gold"] if has_gold else [])
    for title, what in (("accepted spans per label", "spans"), ("accepted relations per label", "relations")):
        per_annotator = stats[f"{what}_per_label_per_annotator"]
        gold = stats[f"gold_{what}_per_label"]
        labels = sorted({label for counts in per_annotator.values() for label in counts} | set(gold))
        if not labels:
            continue
        table = Table("label", *columns, title=title, title_justify="left", box=None)
        for label in labels:
            cells = [str(per_annotator.get(name, {}).get(label, 0)) for name in annotators]
            if has_gold:
                cells.append(str(gold.get(label, 0)))
            table.add_row(str(label), *cells)
        out.print(table)
    for title, key, who in (("decisions", "decisions_per_annotator", "annotator"),
                            ("gold decisions", "gold_decisions_per_reviewer", "reviewer")):
        if stats[key]:
            table = Table(who, "accept", "reject", "ignore", title=title, title_justify="left", box=None)
            for name, answers in stats[key].items():
                table.add_row(name, *(str(answers.get(a, 0)) for a in ("accept", "reject", "ignore")))
            out.print(table)
    if has_gold:
        out.print(f"gold: {plural(stats['gold_sentences'], 'sentence')} decided by "
                  f"{', '.join(stats['gold_decisions_per_reviewer'])}")


def sentences_table(store, *, dataset: str, start: int, limit: int, annotator: Optional[str], gold: bool = False) -> None:
    """A Rich table of sentences with their suggestions, an annotator's current decisions, or gold.

    ``annotator`` must have decided something in the dataset (as annotator or as reviewer);
    an unknown name is an error listing the known ones. A name that only wrote gold shows its
    gold decisions; ``gold`` shows the gold decisions of every reviewer (or of ``annotator``).
    """
    from rich.table import Table
    from rich.text import Text

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
    console().print(table)


def _append_spans(cell, text: str, spans) -> None:
    for span in spans:
        cell.append(text[span.start:span.end], style="bold")
        cell.append(f" {span.label}  ", style="cyan")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"



def agreement_tables(data: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
    out.print(Text.assemble(("agreement", "bold"), f" over {plural(data['n_sentences'], 'sentence')} decided by at least two of: "
                                f"{', '.join(data['annotators'])}"))
    if data["n_sentences"] == 0:
        return
    spans = Table("pair", "sentences", "exact P", "exact R", "exact F1", "overlap F1", "macro F1", title="spans (b scored against a)", title_justify="left")
    for pair in data["spans"]["pairs"]:
        exact = pair["exact"]["micro"]
        spans.add_row(f"{pair['a']} / {pair['b']}", str(pair["n_sentences"]), _fmt(exact["precision"]), _fmt(exact["recall"]),
                      _fmt(exact["f1"]), _fmt(pair["overlap"]["micro"]["f1"]), _fmt(pair["exact"]["macro"]["f1"]))
    out.print(spans)
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
        out.print(chart)
    tokens = Table("pair", "tokens", "observed", "Cohen's κ", title="tokens (label per token, O included)", title_justify="left")
    for pair in data["tokens"]["pairs"]:
        tokens.add_row(f"{pair['a']} / {pair['b']}", str(pair["n_units"]), _fmt(pair["observed"]), _fmt(pair["kappa"]))
    out.print(tokens)
    fleiss = data["tokens"]["fleiss_kappa"]
    alpha = data["tokens"]["krippendorff_alpha"]
    out.print(f"Fleiss' κ (all annotators): {_fmt(fleiss['value'])} over {fleiss['n_units']} tokens   "
                  f"Krippendorff's α (nominal): {_fmt(alpha['value'])} over {alpha['n_units']} tokens")
    relations = Table("pair", "labelled P", "labelled R", "labelled F1", "unlabelled F1", title="relations", title_justify="left")
    for pair in data["relations"]["pairs"]:
        lab = pair["labelled"]["micro"] if "micro" in pair["labelled"] else pair["labelled"]
        unl = pair["unlabelled"]
        relations.add_row(f"{pair['a']} / {pair['b']}", _fmt(lab["precision"]), _fmt(lab["recall"]), _fmt(lab["f1"]), _fmt(unl["f1"]))
    out.print(relations)
    answers = Table("pair", "sentences", "observed", "Cohen's κ", title="answers (accept/reject/ignore)", title_justify="left")
    for pair in data["answers"]["pairs"]:
        answers.add_row(f"{pair['a']} / {pair['b']}", str(pair["n_units"]), _fmt(pair["observed"]), _fmt(pair["kappa"]))
    out.print(answers)


def _grouped(out, counts, problems, *, per_kind: int, stream=None) -> None:
    """Each kind's count as a heading with its first ``per_kind`` messages (and how many more) under it."""
    stream = stream or out
    for kind, n in sorted(counts.items()):
        stream.print(f"  {kind}: {n}")
        messages = [message for k, message in problems if k == kind][:per_kind]
        for message in messages:
            stream.print(f"    {message}")
        if messages and n > len(messages):
            stream.print(f"    and {n - len(messages)} more")


def verify_report(out, report) -> None:
    """``Store.verify``'s findings: what was checked, counts per kind, the first problems."""
    if report.damaged:
        lines = report.integrity
        out.print(f"database: DAMAGED ({plural(len(lines), 'problem')} found by SQLite's integrity check; "
                  "the decisions and the export were not checked)")
        for line in lines[:10]:
            out.print(f"  {line}")
        if len(lines) > 10:
            out.print(f"  and {len(lines) - 10} more")
        return
    checked = (f"{plural(report.decisions, 'stored decision')} ({plural(report.spans, 'span')}, "
               f"{plural(report.relations, 'relation')}), {plural(report.current_rows, 'current row')}")
    if report.ok:
        out.print(f"database: ok (integrity check ok; {checked} checked: current names each latest decision, "
                      "spans on token boundaries, relations to existing spans)")
        return
    out.print(f"database: problems found ({checked} checked)")
    problems = [(p.kind, f"{f'sentence {p.position}' if p.position is not None else 'unknown sentence'}: {p.message}")
                for p in report.problems]
    _grouped(out, report.counts, problems, per_kind=20)


def export_check(out, check) -> None:
    """``annotator check``'s part about what an export of ``check.source`` would hold."""
    if not check.problem_counts:
        out.print(f"export of {check.source}: no problems in {plural(check.sentences, 'accepted sentence')}")
        return
    out.print(f"export of {check.source}: {plural(check.sentences, 'accepted sentence')}")
    _grouped(out, check.problem_counts, check.problems, per_kind=20)


def export_summary(err, *, dataset: str, fmt: str, source: str, split: Optional[float], summary) -> None:
    out = console()
    split_note = f" ({summary.train} train / {summary.dev} dev, split by article)" if split else ""
    out.print(f"{dataset}: exported {plural(summary.examples, 'sentence')} from {source} as {fmt}{split_note}")
    for path in summary.files:
        out.print(f"  wrote {path}")
    _grouped(err, summary.problem_counts, summary.problems, per_kind=5)
    if summary.command:
        out.print(f"train with: {summary.command}")
