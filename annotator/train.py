"""Training a spaCy pipeline from the decisions (``annotator train``).

The training data is what ``annotator export --format spacy`` would write: the same source choice
(``export.choose_source``: gold when there is any, else the single annotator, or ``--source``), the
same examples (``export.collect_examples``, accepted sentences), the same split by article
(``export.split_articles``) and the same DocBin writer (``formats.writer_for("spacy")``). The
pipeline is configured with spaCy's own ``init config`` (``spacy.cli.init_config.init_config``)
and trained by spaCy's own loop (``spacy.training.initialize.init_nlp`` and
``spacy.training.loop.train``); a logger registered in spaCy's registry reports each step.

Pipelines: ``ner`` for the spans that do not overlap (``doc.ents``), plus ``spancat`` on
``doc.spans["sc"]`` when the scheme allows overlaps. ``base="model"`` fine-tunes the NER of the
scheme's suggestion model (``source``d from the installed package; labels the model does not know
are added during training, the model's own labels stay), ``base="blank"`` starts from nothing, any
other value names a pipeline (package or path) whose ``ner`` is fine-tuned.

Everything is written to a hidden folder beside the versions and renamed to ``models/DATASET/NNN``
only when complete (``model-best``, ``config.cfg``, ``metrics.json``, the DocBins), so a run killed
at any moment leaves no version behind. ``metrics.json`` holds the dev scores of the trained
pipeline and of the base suggester (the scheme's model with its label map and patterns, as on
import) on the same dev sentences, both scored by ``evaluate.SpanTally``.

spaCy is imported inside the functions that need it; the module itself imports nothing heavy.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .errors import ModelError, TrainingError
from .evaluate import SpanTally
from .model import Example
from .wording import plural

if TYPE_CHECKING:  # pragma: no cover
    from .agreement import LabelScores
    from .labels import LabelScheme
    from .store import Store

DEFAULT_MAX_STEPS = 600
DEFAULT_EVAL_FREQUENCY = 100
DEFAULT_PATIENCE = 300
BASES = ("model", "blank")
LOGGER_NAME = "annotator.TrainingProgress.v1"
_PARTIAL_PREFIX = ".training-"


@dataclass
class TrainingData:
    """The examples a run trains and evaluates on, and where they came from."""

    dataset: str
    source: str
    train: list[Example]
    dev: list[Example]
    dev_dataset: str | None = None
    dev_source: str | None = None

    @property
    def labels(self) -> list[str]:
        return sorted({s.label for e in self.train + self.dev for s in e.spans})


@dataclass(frozen=True)
class Progress:
    """What the logger reports after each step (``score`` and ``per_label`` at evaluations only)."""

    step: int
    max_steps: int
    loss: float
    """Summed loss of the components at this step."""
    score: float | None = None
    """spaCy's weighted dev score (ents F1, with spancat F1 when there is one)."""
    per_label: dict[str, float] = field(default_factory=dict)
    """Dev F1 per label from spaCy's scorer."""


@dataclass
class TrainResult:
    folder: Path
    """``models/DATASET/NNN``"""
    model_path: Path
    """``folder / "model-best"``"""
    metrics: dict[str, Any]
    trained: "LabelScores"
    base: "LabelScores | None"
    """The base suggester's dev scores (None when no suggester could run)."""
    base_name: str
    seconds: float


def training_data(
    store: "Store", dataset: str, *, source: str | None = None, dev: float = 0.2, seed: int = 0,
    dev_dataset: str | None = None, dev_source: str | None = None,
) -> TrainingData:
    """The train and dev examples: accepted decisions of the chosen source, split by article (or
    all of ``dataset`` for training and ``dev_dataset`` for dev). ``TrainingError`` when there is
    nothing to learn from or not enough for a dev part."""
    from .export import ExportPlan, collect_examples, split_articles

    if not dev_dataset and not (0 < dev < 1):
        raise TrainingError(f"--dev must be between 0 and 1, not {dev}")

    def accepted(name: str, wanted: str | None) -> tuple[str, list[Example]]:
        from .export import choose_source

        store.dataset(name)
        try:
            chosen, annotators, gold = choose_source(store, name, wanted)
        except TrainingError:
            raise
        except Exception as exc:  # ExportError: no decisions, several annotators...
            raise TrainingError(str(exc)) from None
        plan = ExportPlan(name, "spacy", chosen, annotators, gold, ("accept",), Path("."))
        examples = [e for e, _ in collect_examples(store, plan)]
        if not examples:
            raise TrainingError(f"dataset {name!r} has no accepted decisions from {chosen}: nothing to train on")
        return chosen, examples

    chosen, examples = accepted(dataset, source)
    n_spans = sum(len(e.spans) for e in examples)
    if n_spans < 2:
        raise TrainingError(
            f"the {plural(len(examples), 'accepted sentence')} from {chosen} in dataset {dataset!r} hold "
            f"{plural(n_spans, 'span')}: nothing to learn from (annotate more)"
        )
    if dev_dataset:
        dev_chosen, dev_examples = accepted(dev_dataset, dev_source)
        data = TrainingData(dataset, chosen, examples, dev_examples, dev_dataset, dev_chosen)
    else:
        articles = {e.meta["article_id"] for e in examples}
        if len(articles) < 2:
            raise TrainingError(
                f"a dev split needs accepted sentences from at least 2 articles (train and dev never share an article), "
                f"but {chosen}'s in dataset {dataset!r} come from {plural(len(articles), 'article')}: annotate another "
                "article or pass --dev-dataset NAME"
            )
        dev_articles = split_articles(articles, dev, seed)
        data = TrainingData(dataset, chosen,
                            [e for e in examples if e.meta["article_id"] not in dev_articles],
                            [e for e in examples if e.meta["article_id"] in dev_articles])
    if not any(e.spans for e in data.train):
        raise TrainingError(f"the train part ({plural(len(data.train), 'sentence')}) holds no span: nothing to learn from")
    if not any(e.spans for e in data.dev):
        raise TrainingError(
            f"the dev part ({plural(len(data.dev), 'sentence')}) holds no span, so no score could be measured: "
            "annotate more, use a larger --dev or pass --dev-dataset NAME"
        )
    return data


def resolve_base(base: str, scheme: "LabelScheme") -> str | None:
    """The pipeline whose ``ner`` is fine-tuned (a loadable package name or a path), or None for blank."""
    if base == "blank":
        return None
    from .preannotate import MODEL_ALIASES

    wanted = scheme.model if base == "model" else base
    if not wanted:
        raise TrainingError("labels.yaml names no model to fine-tune: pass --base blank or --base NAME|PATH")
    import spacy.util

    for candidate in (wanted, *MODEL_ALIASES.get(wanted, ())):
        path = Path(candidate)
        if spacy.util.is_package(candidate) or (path.is_dir() and (path / "config.cfg").is_file()):
            return str(path.resolve()) if path.is_dir() else candidate
    raise ModelError(f"cannot fine-tune {wanted!r}: no such installed pipeline or pipeline folder (use --base blank)")


def build_config(scheme: "LabelScheme", base_pipeline: str | None, *, max_steps: int, eval_frequency: int,
                 patience: int, seed: int):
    """The full training config: spaCy's ``init config`` for ``ner`` (+ ``spancat`` when the scheme
    allows overlaps), the NER sourced from ``base_pipeline`` when given."""
    from spacy.cli.init_config import init_config

    pipeline = ["ner", "spancat"] if scheme.allow_overlaps else ["ner"]
    config = init_config(lang="en", pipeline=pipeline, optimize="efficiency", gpu=False, pretraining=False, silent=True)
    if base_pipeline is not None:
        import spacy

        source_nlp = spacy.load(base_pipeline)  # only to check that it has an ner to fine-tune
        if "ner" not in source_nlp.pipe_names:
            raise ModelError(f"cannot fine-tune {base_pipeline!r}: it has no 'ner' component ({', '.join(source_nlp.pipe_names)})")
        listens = [name for name, pipe in source_nlp.pipeline if "ner" in (getattr(pipe, "listening_components", None) or [])]
        config["components"]["ner"] = {"source": base_pipeline}
        if listens:  # the NER shares a tok2vec: take its own copy along
            config["components"]["ner"]["replace_listeners"] = ["model.tok2vec"]
        if not scheme.allow_overlaps:  # the sourced NER has its own tok2vec: the new one would be unused
            del config["components"]["tok2vec"]
            config["nlp"]["pipeline"] = ["ner"]
    config["system"]["seed"] = seed
    training = config["training"]
    training["seed"] = seed
    training["max_steps"] = max_steps
    training["eval_frequency"] = max(1, min(eval_frequency, max_steps))
    training["patience"] = patience
    training["max_epochs"] = 0
    return config


_progress_callbacks: list[Callable[[Progress], None]] = []


def _register_logger() -> None:
    """Register the logger that hands each step to the current run's callback (spaCy's registry)."""
    from spacy.util import registry

    if LOGGER_NAME in registry.loggers:
        return

    @registry.loggers(LOGGER_NAME)
    def training_progress(max_steps: int):
        def setup(nlp, stdout, stderr):
            step = 0

            def log_step(info):
                nonlocal step
                callback = _progress_callbacks[-1] if _progress_callbacks else None
                if info is None:
                    step += 1
                    if callback:
                        callback(Progress(step, max_steps, 0.0))
                    return
                step = info["step"]
                losses = info.get("losses") or {}
                other = info.get("other_scores") or {}
                per_type = other.get("ents_per_type") or {}
                if callback:
                    callback(Progress(step, max_steps, float(sum(losses.values())), float(info.get("score") or 0.0),
                                      {label: float(v.get("f") or 0.0) for label, v in per_type.items()}))

            return log_step, lambda: None

        return setup


def train(
    data: TrainingData, scheme: "LabelScheme", out_root: Path, *, base: str = "model", max_steps: int = DEFAULT_MAX_STEPS,
    eval_frequency: int = DEFAULT_EVAL_FREQUENCY, patience: int = DEFAULT_PATIENCE, seed: int = 0,
    on_progress: Callable[[Progress], None] | None = None, compare_base: bool = True,
) -> TrainResult:
    """Train on ``data`` with spaCy's loop and write ``out_root/NNN`` (see the module docstring).

    ``compare_base`` scores the base suggester on the dev sentences too (it loads the scheme's model).
    """
    import io

    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as spacy_train

    from .export import write_options
    from .formats import writer_for

    started = time.monotonic()
    if max_steps < 1:
        raise TrainingError(f"--max-steps must be at least 1, not {max_steps}")
    base_pipeline = resolve_base(base, scheme)
    out_root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(out_root)
    work = out_root / f"{_PARTIAL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        options = write_options(scheme, data.train + data.dev)
        write = writer_for("spacy")
        write(data.train, work / "train.spacy", options)
        write(data.dev, work / "dev.spacy", options)
        config = build_config(scheme, base_pipeline, max_steps=max_steps, eval_frequency=eval_frequency,
                              patience=patience, seed=seed)
        config["paths"]["train"] = str(work / "train.spacy")
        config["paths"]["dev"] = str(work / "dev.spacy")
        # Train on the stored tokens (``gold_preproc``), as `annotator suggest` and import run the
        # model on them: re-tokenising would merge a decision's split "U.S.|-made" back into one
        # token, which spaCy counts as misaligned and cannot learn "U.S." from.
        for part in ("train", "dev"):
            config["corpora"][part]["gold_preproc"] = True
        # the config kept with the model runs with `python -m spacy train` too (spaCy's console logger)
        config.to_disk(work / "config.cfg")
        _register_logger()
        config["training"]["logger"] = {"@loggers": LOGGER_NAME, "max_steps": max_steps}
        quiet = io.StringIO()
        _progress_callbacks.append(on_progress or (lambda progress: None))
        try:
            nlp = init_nlp(config)
            spacy_train(nlp, work, stdout=quiet, stderr=quiet)
        finally:
            _progress_callbacks.pop()
        _restore_console_logger(work / "model-best" / "config.cfg")
        _remove(work / "model-last")
        trained, base_scores, base_name = score_on_dev(work / "model-best", data.dev, scheme, compare_base=compare_base)
        seconds = time.monotonic() - started
        metrics = {
            "dataset": data.dataset,
            "source": data.source,
            "dev_dataset": data.dev_dataset,
            "dev_source": data.dev_source,
            "base": base,
            "base_pipeline": base_pipeline,
            "pipeline": config["nlp"]["pipeline"],
            "seed": seed,
            "max_steps": max_steps,
            "eval_frequency": config["training"]["eval_frequency"],
            "train_sentences": len(data.train),
            "dev_sentences": len(data.dev),
            "train_articles": len({e.meta.get("article_id") for e in data.train}),
            "dev_articles": len({e.meta.get("article_id") for e in data.dev}),
            "labels": data.labels,
            "seconds": round(seconds, 1),
            "spacy_performance": _performance(work / "model-best"),
            "dev": {"trained": trained.to_dict(), "base": base_scores.to_dict() if base_scores else None, "base_suggester": base_name},
        }
        (work / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        folder = _publish(work, out_root)
    except BaseException:
        _remove(work)
        raise
    return TrainResult(folder, folder / "model-best", metrics, trained, base_scores, base_name, seconds)


def score_on_dev(model_path: Path, dev: Sequence[Example], scheme: "LabelScheme", *, compare_base: bool = True):
    """``(trained, base, base_name)``: the trained pipeline's and the base suggester's dev scores,
    both through ``evaluate.SpanTally`` on the same sentences and tokens."""
    from .preannotate import Preannotator, SentenceInput
    from .resuggest import load_model, model_spans

    labels = sorted({s.label for e in dev for s in e.spans})
    nlp = load_model(str(model_path))
    tally = SpanTally()
    for example, spans in zip(dev, model_spans(nlp, ((e.text, e.tokens or []) for e in dev), scheme, "trained")):
        tally.add(example.text, example.spans, spans)
    trained = tally.scores(labels)
    if not compare_base:
        return trained, None, ""
    suggester = Preannotator(scheme)
    base_tally = SpanTally()
    inputs = [SentenceInput(e.text, e.tokens or []) for e in dev]
    for example, (spans, _relations) in zip(dev, suggester.suggest(inputs)):
        base_tally.add(example.text, example.spans, spans)
    return trained, base_tally.scores(labels), suggester.source


def _performance(model_path: Path) -> dict[str, Any]:
    """spaCy's own scores of the best checkpoint (``meta.json`` ``performance``)."""
    try:
        meta = json.loads((model_path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta.get("performance") or {}


def _restore_console_logger(config_path: Path) -> None:
    """The saved pipeline's config names spaCy's console logger, not ours (so `spacy train` runs it)."""
    from spacy.util import load_config

    config = load_config(config_path, interpolate=False)
    config["training"]["logger"] = {"@loggers": "spacy.ConsoleLogger.v1", "progress_bar": False}
    config.to_disk(config_path)


def _publish(work: Path, out_root: Path) -> Path:
    """Rename the finished folder to the next free ``NNN`` (atomic: a version is there whole or not at all)."""
    numbers = [int(p.name) for p in out_root.iterdir() if p.name.isdigit()]
    number = max(numbers, default=0) + 1
    while True:
        target = out_root / f"{number:03d}"
        if not target.exists():
            try:
                os.rename(work, target)
                return target
            except OSError:
                if not target.exists():
                    raise
        number += 1


def _remove_abandoned(out_root: Path) -> None:
    """Delete the hidden work folders of runs that were killed (their process is gone)."""
    for path in out_root.glob(f"{_PARTIAL_PREFIX}*"):
        pid_text = path.name[len(_PARTIAL_PREFIX):].split("-")[0]
        if pid_text.isdigit() and _alive(int(pid_text)):
            continue
        _remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def models_root(dataset: str, root: Path | None = None) -> Path:
    """``models/DATASET`` (the dataset name made safe for a folder)."""
    from .formats.brat import safe_name

    return (root or Path("models")) / safe_name(dataset, 0)
