"""train: training data as export makes it, spaCy's config and loop, versioned folders renamed into place."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from annotator.errors import TrainingError
from annotator.train import _PARTIAL_PREFIX, build_config, train, training_data

from .conftest import run_cli, shared_data

NAMES = ["Anna Berg", "Olaf Scholz", "Maria Lopez", "Ivan Petrov", "John Smith", "Li Wei", "Sara Khan", "Tom Hardy"]
CITIES = ["Kyiv", "Berlin", "Paris", "Madrid", "Warsaw", "Lisbon", "Vienna", "Prague"]
TEMPLATES = ["{p} arrived in {c} on Monday .", "In {c} , {p} met the mayor .", "{p} left {c} after the talks ."]


def write_records(path: Path, n: int) -> Path:
    """``n`` Prodigy records (one article each) with PERSON and GPE spans."""
    lines = []
    for i in range(n):
        person, city = NAMES[i % len(NAMES)], CITIES[(i * 3) % len(CITIES)]
        text = TEMPLATES[i % len(TEMPLATES)].format(p=person, c=city) + f" Report {i} ."
        spans = []
        for piece, label in ((person, "PERSON"), (city, "GPE")):
            start = text.index(piece)
            spans.append({"start": start, "end": start + len(piece), "label": label})
        lines.append(json.dumps({"text": text, "spans": spans, "answer": "accept"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def import_records(store, scheme, path: Path, dataset: str = "d") -> None:
    from annotator.importer import import_files

    import_files(store, dataset, [path], scheme, suggest=None, annotator="ann")


@pytest.fixture
def tiny(store, scheme, tmp_path):
    import_records(store, scheme, write_records(tmp_path / "tiny.jsonl", 24))
    return store


def test_training_data_is_the_export_split_by_article(tiny):
    data = training_data(tiny, "d", dev=0.25, seed=3)
    assert data.source == "ann" and len(data.train) + len(data.dev) == 24 and len(data.dev) == 6
    assert not {e.meta["article_id"] for e in data.train} & {e.meta["article_id"] for e in data.dev}
    assert data.labels == ["GPE", "PERSON"]
    again = training_data(tiny, "d", dev=0.25, seed=3)
    assert [e.text for e in again.dev] == [e.text for e in data.dev]
    assert [e.text for e in training_data(tiny, "d", dev=0.25, seed=4).dev] != [e.text for e in data.dev]


def test_dev_dataset_scores_on_another_dataset(tiny, scheme, tmp_path):
    import_records(tiny, scheme, write_records(tmp_path / "dev.jsonl", 5), "held-out")
    data = training_data(tiny, "d", dev_dataset="held-out")
    assert len(data.train) == 24 and len(data.dev) == 5 and data.dev_dataset == "held-out" and data.dev_source == "ann"
    with pytest.raises(Exception, match="no dataset 'nope'"):
        training_data(tiny, "d", dev_dataset="nope")


def test_training_data_refuses_what_cannot_train(store, scheme, tmp_path):
    store.ensure_dataset("empty")
    with pytest.raises(TrainingError, match="no decisions"):
        training_data(store, "empty")
    # one labelled span in all
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"text": "Kyiv is big .", "spans": [{"start": 0, "end": 4, "label": "GPE"}]}) + "\n"
                   + json.dumps({"text": "It rains .", "spans": []}) + "\n", encoding="utf-8")
    import_records(store, scheme, one, "one")
    with pytest.raises(TrainingError, match="1 span: nothing to learn"):
        training_data(store, "one")
    # one article: no dev split
    from annotator.importer import ArticleImporter, ArticleInput

    store.ensure_dataset("single")
    ArticleImporter(store, "single").import_articles([ArticleInput("Anna Berg lives in Kyiv.\n\nShe likes Paris.", "a.txt")])
    first, second = list(store.iter_sentences("single"))
    from annotator.model import Span

    store.add_decision(first, annotator="ann", answer="accept", spans=[Span(0, 9, "PERSON", 0, 1), Span(19, 23, "GPE", 4, 4)])
    store.add_decision(second, annotator="ann", answer="accept")
    with pytest.raises(TrainingError, match="at least 2 articles"):
        training_data(store, "single")
    with pytest.raises(TrainingError, match="--dev must be between"):
        training_data(store, "single", dev=1.5)


def test_dev_part_without_spans_is_refused(store, scheme, tmp_path):
    path = write_records(tmp_path / "r.jsonl", 4)
    extra = [json.dumps({"text": f"Nothing here {i} .", "spans": []}) for i in range(2)]
    path.write_text(path.read_text() + "\n".join(extra) + "\n")
    import_records(store, scheme, path)
    # some seed puts only span-less articles in dev: say so instead of a meaningless score
    refused = 0
    for seed in range(20):
        try:
            training_data(store, "d", dev=0.2, seed=seed)
        except TrainingError as exc:
            assert "dev part" in str(exc)
            refused += 1
    assert refused > 0


def test_config_is_spacys_own_with_sourced_ner_or_blank(scheme):
    blank = build_config(scheme, None, max_steps=7, eval_frequency=50, patience=10, seed=5)
    assert blank["nlp"]["pipeline"] == ["tok2vec", "ner"]
    assert blank["training"]["max_steps"] == 7 and blank["training"]["eval_frequency"] == 7
    assert blank["training"]["seed"] == 5 and blank["system"]["seed"] == 5
    overlapping = build_config(dataclasses.replace(scheme, allow_overlaps=True), None, max_steps=7, eval_frequency=5,
                               patience=10, seed=0)
    assert overlapping["nlp"]["pipeline"] == ["tok2vec", "ner", "spancat"]
    assert overlapping["components"]["spancat"]["spans_key"] == "sc"


@pytest.mark.model
def test_config_sources_the_models_ner(scheme):
    from annotator.train import resolve_base

    try:
        base = resolve_base("model", scheme)
    except Exception as exc:  # pragma: no cover - depends on the installed model
        pytest.skip(f"no English model installed: {exc}")
    config = build_config(scheme, base, max_steps=7, eval_frequency=5, patience=10, seed=0)
    assert config["nlp"]["pipeline"] == ["ner"] and config["components"]["ner"] == {"source": base}


def test_train_blank_writes_a_loadable_versioned_model_deterministically(tiny, scheme, tmp_path):
    import spacy

    data = training_data(tiny, "d", dev=0.25, seed=0)
    root = tmp_path / "models" / "d"
    steps = []
    first = train(data, scheme, root, base="blank", max_steps=12, eval_frequency=6, seed=1, compare_base=False,
                  on_progress=steps.append)
    assert first.folder == root / "001"
    assert {p.name for p in first.folder.iterdir()} >= {"model-best", "config.cfg", "metrics.json", "train.spacy", "dev.spacy"}
    assert [p.name for p in root.iterdir()] == ["001"]  # no work folder left
    assert [p.step for p in steps if p.score is not None] == [0, 6, 12]
    assert max(p.step for p in steps) == 12
    metrics = json.loads((first.folder / "metrics.json").read_text())
    assert metrics["train_sentences"] == 18 and metrics["dev_sentences"] == 6 and metrics["labels"] == ["GPE", "PERSON"]
    assert metrics["dev"]["trained"]["micro"] == first.trained.micro.to_dict()
    # our scoring of the best checkpoint agrees with spaCy's own scorer
    assert (metrics["dev"]["trained"]["micro"]["f1"] or 0.0) == pytest.approx(metrics["spacy_performance"]["ents_f"])
    nlp = spacy.load(first.model_path)
    assert "ner" in nlp.pipe_names and set(nlp.get_pipe("ner").labels) == {"GPE", "PERSON"}
    second = train(data, scheme, root, base="blank", max_steps=12, eval_frequency=6, seed=1, compare_base=False)
    assert second.folder == root / "002"
    again = json.loads((second.folder / "metrics.json").read_text())
    assert again["dev"] == metrics["dev"] and again["spacy_performance"] == metrics["spacy_performance"]
    assert (first.model_path / "ner" / "model").read_bytes() == (second.model_path / "ner" / "model").read_bytes()


def test_a_killed_training_leaves_no_version_and_old_work_folders_are_cleared(tiny, scheme, tmp_path):
    data = training_data(tiny, "d", dev=0.25, seed=0)
    root = tmp_path / "models" / "d"

    def kill(progress):
        if progress.step >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, scheme, root, base="blank", max_steps=12, eval_frequency=6, seed=1, compare_base=False, on_progress=kill)
    assert list(root.iterdir()) == []
    # a folder left by a process that is gone (SIGKILL) is removed by the next run; a live one's is kept
    dead = root / f"{_PARTIAL_PREFIX}999999999-abc"
    live = root / f"{_PARTIAL_PREFIX}{os.getpid()}-other"
    dead.mkdir()
    live.mkdir()
    result = train(data, scheme, root, base="blank", max_steps=2, eval_frequency=2, seed=1, compare_base=False)
    assert not dead.exists() and live.exists() and result.folder.name == "001"


def test_trained_model_suggests_and_imports_and_is_compared_with_the_base(tiny, scheme, tmp_path):
    from annotator.resuggest import suggest_dataset

    data = training_data(tiny, "d", dev=0.25, seed=0)
    result = train(data, scheme, tmp_path / "models" / "d", base="blank", max_steps=10, eval_frequency=5, seed=0)
    assert result.base is not None and set(result.base.per_label) >= {"GPE", "PERSON"}
    assert result.metrics["dev"]["base_suggester"] == result.base_name
    done = suggest_dataset(tiny, "d", scheme, str(result.model_path), include_decided=True)
    assert done.source == "d/001" and done.processed == 24
    article = tmp_path / "news.txt"
    article.write_text("Anna Berg arrived in Kyiv on Monday.\n", encoding="utf-8")
    db = tmp_path / "cli.db"
    imported = run_cli("import", "news", str(article), "--db", str(db), "--model", str(result.model_path))
    assert imported.returncode == 0, imported.stderr


def test_cli_train_bad_input_is_one_line(tmp_path, scheme):
    from annotator.store import Store

    db = tmp_path / "a.db"
    with Store(db) as store:
        store.ensure_dataset("empty")
    done = run_cli("train", "empty", "--db", str(db), "--base", "blank", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no decisions" in done.stderr
    done = run_cli("train", "empty", "--db", str(db), "--dev", "2", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert not (tmp_path / "models").exists()


def test_cli_train_refuses_a_base_that_is_no_pipeline_in_one_line(tiny, tmp_db, tmp_path):
    done = run_cli("train", "d", "--db", str(tmp_db), "--base", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot fine-tune" in done.stderr
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_fashion_brands_sample_trains_through_the_cli(tmp_path):
    sample = shared_data("prodigy", "prodigy_ner_fashion_brands_eval.jsonl")
    db = tmp_path / "f.db"
    done = run_cli("import", "fashion", str(sample), "--db", str(db), "--add-labels", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = run_cli("train", "fashion", "--db", str(db), "--base", "blank", "--max-steps", "20", "--eval-frequency", "10",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "FASHION_BRAND" in done.stdout and "models/fashion/001/model-best" in done.stdout
    metrics = json.loads((tmp_path / "models" / "fashion" / "001" / "metrics.json").read_text())
    assert metrics["labels"] == ["FASHION_BRAND"] and metrics["dev_sentences"] == 100 and metrics["train_sentences"] == 400
    assert metrics["dev"]["base"] is not None
