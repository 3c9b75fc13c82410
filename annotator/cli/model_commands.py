"""The model-in-the-loop commands: ``train``, ``suggest``, ``evaluate`` and ``suggestions`` (the
sources of a dataset). Each parses its arguments, calls the core module that owns the work
(``train``, ``resuggest``, ``evaluate``) and renders the result with Rich; spaCy is imported by the
core, inside the command, never when the CLI starts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from . import DbOption, LabelsOption, _scheme, _store, app
from ..errors import DatasetError


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def scores_table(title: str, columns: list[tuple[str, dict[str, Any]]]):
    """Per-label P/R/F1 of one or more suggesters side by side (``LabelScores.to_dict()`` each),
    with micro and macro rows. Labels are user text: plain cells, never markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, box=None, title_justify="left")
    table.add_column("label", no_wrap=True)
    for name, _ in columns:
        for metric in ("P", "R", "F1"):
            header = f"{name if metric == 'P' else ''}\n{metric}" if len(columns) > 1 else metric
            table.add_column(Text(header), justify="right", no_wrap=True, min_width=5)
    table.add_column("decided", justify="right", no_wrap=True, min_width=7)
    labels = sorted({label for _, data in columns for label in data["per_label"]})
    first = columns[0][1]
    for label in labels:
        cells = []
        for _, data in columns:
            row = data["per_label"].get(label, {})
            cells += [_fmt(row.get("precision")), _fmt(row.get("recall")), _fmt(row.get("f1"))]
        decided = first["per_label"].get(label, {})
        table.add_row(Text(label), *cells, str(decided.get("tp", 0) + decided.get("fn", 0)))
    for kind in ("micro", "macro"):
        cells = []
        for _, data in columns:
            row = data[kind]
            cells += [_fmt(row.get("precision")), _fmt(row.get("recall")), _fmt(row.get("f1"))]
        micro = first["micro"]
        table.add_row(Text(kind, style="bold"), *cells, str(micro["tp"] + micro["fn"]) if kind == "micro" else "")
    return table


def confusions_table(confusions: list[dict[str, Any]]):
    """The most frequent errors: text, suggested label -> decided label, count."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="most frequent confusions (suggested -> decided)", box=None, title_justify="left")
    table.add_column("text")
    table.add_column("suggested", no_wrap=True)
    table.add_column("decided")
    table.add_column("times", justify="right", no_wrap=True)
    for c in confusions:
        decided = c["decided"] + (f" {c['decided_text']!r}" if c.get("decided_text") else "")
        table.add_row(Text(repr(c["text"])), Text(c["suggested"]), Text(decided), f"x{c['count']}")
    return table


@app.command("evaluate")
def evaluate_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    suggestions: Optional[str] = typer.Option(None, "--suggestions", help="Suggestion source [default: the active one, else the only one]."),
    against: Optional[str] = typer.Option(None, "--against", help="'gold' or an annotator [default: gold if any, else the single annotator]."),
    confusions: int = typer.Option(15, "--confusions", min=0, help="How many of the most frequent confusions to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: Optional[Path] = DbOption,
) -> None:
    """Per-label precision/recall/F1 of a suggestion source against the human decisions (accepted
    sentences), micro and macro, and the most frequent confusions."""
    from ..evaluate import evaluate_source
    from ..resuggest import default_source, resolve_source
    from . import render

    with _store(db, readonly=True) as store:
        store.dataset(dataset)
        source = resolve_source(store, dataset, suggestions) if suggestions else default_source(store, dataset)
        result = evaluate_source(store, dataset, source, against, confusions=confusions)
    data = result.to_dict()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    out = render.console()
    out.print(f"{dataset}: suggestions {source} against {result.against}, {result.sentences} accepted sentences"
              + (f" ({result.without_suggestions} more have no suggestions of this source)" if result.without_suggestions else ""))
    out.print(scores_table("", [(source, data)]))
    if data["confusions"]:
        out.print(confusions_table(data["confusions"]))


@app.command("train")
def train_command(
    dataset: str = typer.Argument(..., help="Dataset whose decisions to train on."),
    source: Optional[str] = typer.Option(None, "--source", help="An annotator, 'all' or 'gold' [default: gold if any, else the single annotator]."),
    dev: float = typer.Option(0.2, "--dev", help="Fraction of ARTICLES held out for dev scores."),
    dev_dataset: Optional[str] = typer.Option(None, "--dev-dataset", help="Score on this dataset instead of a split."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split and of training (same seed, same model)."),
    base: str = typer.Option("model", "--base", help="'model' (fine-tune labels.yaml's model), 'blank', or a pipeline NAME|PATH."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Training steps [default: 600]."),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", min=1, help="Steps between dev evaluations [default: 100]."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder of the versions [default: models/DATASET]."),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Train a spaCy pipeline (NER; spancat too when labels.yaml allows overlaps) from the decisions,
    with spaCy's config system and training loop; writes models/DATASET/NNN (model-best, config.cfg,
    metrics.json) and prints dev P/R/F1 per label beside the base suggester's."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from ..export import dataset_scheme
    from ..train import DEFAULT_EVAL_FREQUENCY, DEFAULT_MAX_STEPS, models_root, resolve_base, train, training_data
    from ..wording import plural
    from . import render

    if base not in ("model", "blank") and not base.strip():
        raise DatasetError("--base must be 'model', 'blank' or a pipeline name or path")
    scheme = _scheme(labels)
    err = render.console(stderr=True)
    with _store(db, readonly=True) as store:
        scheme = dataset_scheme(scheme, store, dataset)
        data = training_data(store, dataset, source=source, dev=dev, seed=seed, dev_dataset=dev_dataset)
    resolve_base(base, scheme)  # a base that cannot be fine-tuned is refused before anything is printed
    steps = max_steps or DEFAULT_MAX_STEPS
    trained_labels = set(data.labels)
    err.print(f"{dataset}: training on {plural(len(data.train), 'sentence')} from {data.source}, "
              f"dev {plural(len(data.dev), 'sentence')}" + (f" of {data.dev_dataset}" if data.dev_dataset else "")
              + f"; labels {', '.join(data.labels)}; base {base}; {steps} steps, seed {seed}")
    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}", markup=False),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("train", total=steps, status="")

        def on_progress(p) -> None:
            if p.score is None:
                progress.update(task, completed=p.step)
                return
            status = f"loss {p.loss:.1f}  dev score {p.score:.3f}"
            progress.update(task, completed=p.step, status=status)
            per_label = "  ".join(f"{label} {f:.3f}" for label, f in sorted(p.per_label.items()) if label in trained_labels)
            err.print(Text(f"step {p.step:>5}  {status}  {per_label}"))

        result = train(data, scheme, out or models_root(dataset),
                       base=base, max_steps=steps, eval_frequency=eval_frequency or DEFAULT_EVAL_FREQUENCY, seed=seed,
                       on_progress=on_progress)
    out_console = render.console()
    columns = [("trained", result.metrics["dev"]["trained"])]
    if result.metrics["dev"]["base"] is not None:
        columns.append(("base", result.metrics["dev"]["base"]))
    out_console.print(scores_table(f"dev ({plural(len(data.dev), 'sentence')}): trained vs base suggester {result.base_name}", columns))
    out_console.print(f"{dataset}: {result.model_path} in {result.seconds:.0f} s; "
                      f"next: annotator suggest {dataset} --model {result.model_path}")


@app.command("suggest")
def suggest_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    model: str = typer.Option(..., "--model", help="An installed spaCy pipeline or a pipeline folder (e.g. models/DATASET/001/model-best)."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the new suggestion source [default: from the model, e.g. DATASET/001]."),
    include_decided: bool = typer.Option(False, "--all", help="Suggest on every sentence, not only the undecided ones."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes for spaCy (nlp.pipe n_process)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Sentences per nlp.pipe batch and per transaction."),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Run the pipeline on a Dask cluster: a scheduler address (tcp://HOST:8786) or local:N; needs pip install 'annotator[cluster]'."),
) -> None:
    """Run a spaCy pipeline over the dataset's sentences and store its spans as a new suggestion
    source (nothing overwritten; rerun after an interruption to continue)."""
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..export import dataset_scheme
    from ..resuggest import suggest_dataset
    from ..wording import plural
    from . import render

    if name is not None:
        from . import validate_name

        validate_name("suggestion source", name)
    scheme = _scheme(labels)
    err = render.console(stderr=True)
    if cluster is not None:
        from ..cluster import connect, parse_address, require_dask

        parse_address(cluster)  # a bad address, or no Dask, is refused before anything starts
        require_dask()
        if workers > 1:
            raise DatasetError("--workers and --cluster do not go together: the cluster's workers run the pipeline")
    with _store(db) as store, (connect(cluster) if cluster else nullcontext()) as on_cluster:
        scheme = dataset_scheme(scheme, store, dataset)
        with Progress(TextColumn("suggesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task("suggest", total=None)
            result = suggest_dataset(
                store, dataset, scheme, model, name=name, include_decided=include_decided, workers=workers,
                batch_size=batch_size, on_start=lambda total: progress.update(task, total=total),
                on_advance=lambda n: progress.advance(task, n), cluster=on_cluster,
            )
    render.console().print(
        f"{dataset}: suggestion source {result.source}: {plural(result.processed, 'sentence')} suggested "
        f"({plural(result.spans, 'span')})" + (f", {result.before} from an earlier run" if result.before else "")
        + f"; make it active with `annotator dataset set {dataset} suggestions={result.source}`"
    )


@app.command("suggestions")
def suggestions_command(
    dataset: str = typer.Argument(..., help="Dataset."),
    db: Optional[Path] = DbOption,
) -> None:
    """List the dataset's suggestion sources (which is active, which are incomplete)."""
    from rich.table import Table
    from rich.text import Text

    from ..resuggest import active_source
    from . import render

    with _store(db, readonly=True) as store:
        active = active_source(store, dataset)
        sources = store.suggestion_sources(dataset)
    table = Table("source", "kind", "model", "sentences", "state", box=None)
    table.columns[2].overflow = "fold"
    for s in sources:
        state = ("complete" if s.complete else "incomplete (rerun suggest)") + (", active" if s.name == active else "")
        table.add_row(Text(s.name), s.kind, Text(s.model or "-"), str(s.sentences), state)
    render.console().print(table)
