"""suggest: any spaCy pipeline as a new suggestion source, the registry, resuming, the active source."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.errors import DatasetError, ModelError
from annotator.resuggest import default_source_name, load_model, resolve_source, suggest_dataset

from .conftest import run_cli


@pytest.fixture(scope="module")
def ruler_model(tmp_path_factory) -> Path:
    """A pipeline folder: spacy.blank("en") + an entity ruler (Kyiv GPE, Umerov PERSON, F-16 PRODUCT)."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "GPE", "pattern": "Kyiv"},
        {"label": "PERSON", "pattern": "Umerov"},
        {"label": "PRODUCT", "pattern": "F-16"},
        {"label": "CARDINAL", "pattern": "two"},
    ])
    path = tmp_path_factory.mktemp("model") / "ruler"
    nlp.to_disk(path)
    return path


def _rows(store, source):
    return {s.id: store.suggestion(s.id, source) for s in store.iter_sentences("demo")}


def test_suggest_adds_a_complete_source_on_undecided_sentences_token_aligned(seeded_store, scheme, ruler_model):
    store = seeded_store
    sentences = list(store.iter_sentences("demo"))
    before = {s.id: store.suggestions(s.id) for s in sentences}
    decided = sentences[3]
    store.add_decision(decided, annotator="ann", answer="accept")
    result = suggest_dataset(store, "demo", scheme, str(ruler_model), name="ruler", batch_size=4)
    assert result.complete and result.processed == len(sentences) - 1 and result.source == "ruler"
    rows = _rows(store, "ruler")
    assert rows[decided.id] is None and all(rows[s.id] is not None for s in sentences if s.id != decided.id)
    for sentence in sentences:
        row = rows[sentence.id]
        for span in row.spans if row else ():
            # on the stored tokens, label-mapped (PRODUCT -> WEAPON; CARDINAL dropped)
            assert sentence.tokens[span.token_start].start == span.start and sentence.tokens[span.token_end].end == span.end
            assert span.label in ("GPE", "PERSON", "WEAPON")
    labels = {(sentence.text[sp.start:sp.end], sp.label) for s in sentences if rows[s.id] for sp in rows[s.id].spans for sentence in [s]}
    assert ("Kyiv", "GPE") in labels and ("F-16", "WEAPON") in labels
    # the old sources are untouched
    for sentence in sentences:
        assert [r for r in store.suggestions(sentence.id) if r.source != "ruler"] == before[sentence.id]
    sources = {s.name: s for s in store.suggestion_sources("demo")}
    assert sources["ruler"].complete and sources["ruler"].kind == "model" and sources["ruler"].sentences == len(sentences) - 1
    assert resolve_source(store, "demo", "ruler") == "ruler"
    # --all then fills in the decided sentence only
    again = suggest_dataset(store, "demo", scheme, str(ruler_model), name="ruler", include_decided=True)
    assert again.processed == 1 and again.before == len(sentences) - 1


def test_a_killed_run_leaves_an_incomplete_source_that_a_rerun_finishes(seeded_store, scheme, ruler_model):
    store = seeded_store
    total = store.sentence_count("demo")

    class Killed(Exception):
        pass

    def kill(n):
        raise Killed

    with pytest.raises(Killed):
        suggest_dataset(store, "demo", scheme, str(ruler_model), name="ruler", batch_size=3, on_advance=kill)
    source = next(s for s in store.suggestion_sources("demo") if s.name == "ruler")
    assert not source.complete and source.sentences == 3
    with pytest.raises(DatasetError, match="incomplete"):
        resolve_source(store, "demo", "ruler")
    result = suggest_dataset(store, "demo", scheme, str(ruler_model), name="ruler", batch_size=3)
    assert result.before == 3 and result.processed == total - 3 and result.complete
    assert resolve_source(store, "demo", "ruler") == "ruler"
    assert all(store.suggestion(s.id, "ruler") is not None for s in store.iter_sentences("demo"))


def test_a_source_name_made_by_another_model_is_refused(seeded_store, scheme, ruler_model, tmp_path):
    import spacy

    from annotator.model import Suggestion

    first = next(seeded_store.iter_sentences("demo"))
    seeded_store.add_suggestions([Suggestion(first.id, "patterns", ())])  # as an import stores them
    suggest_dataset(seeded_store, "demo", scheme, str(ruler_model), name="ruler")
    other = tmp_path / "other"
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler")
    nlp.to_disk(other)
    with pytest.raises(DatasetError, match="exists already"):
        suggest_dataset(seeded_store, "demo", scheme, str(other), name="ruler")
    with pytest.raises(DatasetError, match="exists already"):  # an import source is never written into
        suggest_dataset(seeded_store, "demo", scheme, str(other), name="patterns")


def test_not_a_pipeline(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("hello")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.cfg").write_text("this is [not a config")
    for path in (tmp_path / "empty", tmp_path / "file.txt", broken, tmp_path / "missing"):
        with pytest.raises(ModelError, match="not a"):
            load_model(str(path))
    with pytest.raises(ModelError):
        load_model("no_such_package_xyz")


def test_a_pipeline_without_span_components_is_refused(tmp_path):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "senter")
    with pytest.raises(ModelError, match="no component that makes spans"):
        load_model(str(tmp_path / "senter"))


def test_default_source_names(tmp_path):
    best = tmp_path / "models" / "fashion" / "003" / "model-best"
    best.mkdir(parents=True)
    assert default_source_name(str(best)) == "fashion/003"
    assert default_source_name(str(best.parent)) == "003"
    assert default_source_name("en_core_web_sm") == "en_core_web_sm"


def test_cli_suggest_set_active_and_errors(tmp_path, ruler_model):
    from annotator.importer import ArticleImporter, ArticleInput
    from annotator.store import Store

    from .conftest import SEED

    db = tmp_path / "a.db"
    with Store(db) as store:
        store.ensure_dataset("demo")
        ArticleImporter(store, "demo").import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))])
    done = run_cli("suggest", "demo", "--db", str(db), "--model", str(ruler_model), "--name", "ruler")
    assert done.returncode == 0, done.stderr
    assert "suggestion source ruler" in done.stdout
    done = run_cli("suggestions", "demo", "--db", str(db))
    assert done.returncode == 0 and "ruler" in done.stdout and "complete" in done.stdout
    done = run_cli("dataset", "set", "demo", "suggestions=ruler", "--db", str(db))
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        assert store.dataset("demo").settings["suggestions"] == "ruler"
    for args in (("dataset", "set", "demo", "suggestions=nope"), ("annotate", "demo", "--annotator", "a", "--suggestions", "nope")):
        done = run_cli(*args, "--db", str(db))
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown suggestion source 'nope'" in done.stderr
    done = run_cli("suggest", "demo", "--db", str(db), "--model", str(tmp_path))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not a spaCy pipeline" in done.stderr
    with Store(db) as store:  # the refused model registered nothing
        assert [s.name for s in store.suggestion_sources("demo") if s.kind == "model"] == ["ruler"]


def test_import_with_a_model_keeps_labels_the_dataset_added(tmp_path):
    """A pipeline trained on a label the dataset accepted with --add-labels suggests it on import."""
    import json

    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "FASHION_BRAND", "pattern": "Uniqlo"}])
    nlp.to_disk(tmp_path / "brands")
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps({"text": "Nike shoes .", "spans": [{"start": 0, "end": 4, "label": "FASHION_BRAND"}]}) + "\n")
    article = tmp_path / "a.txt"
    article.write_text("A Uniqlo shirt.\n", encoding="utf-8")
    db = tmp_path / "a.db"
    assert run_cli("import", "shop", str(records), "--db", str(db), "--add-labels").returncode == 0
    done = run_cli("import", "shop", str(article), "--db", str(db), "--model", str(tmp_path / "brands"))
    assert done.returncode == 0, done.stderr
    assert "1 suggestion" in done.stdout
