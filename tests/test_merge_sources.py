"""``merge`` carries the registry of suggestion sources (``annotator suggest``), not only their rows."""

from __future__ import annotations

import pytest

from annotator.errors import DatasetError
from annotator.model import Span, Suggestion
from annotator.resuggest import resolve_source
from annotator.store import Store, merge_into


def registry(store: Store) -> list[tuple]:
    return [(s.name, s.kind, s.model, s.settings, s.complete, s.sentences) for s in store.suggestion_sources("demo")]


def test_merge_keeps_each_sources_model_settings_and_completeness(seeded_store, tmp_path):
    source = seeded_store
    first = source.sentence_at("demo", 1).sentence
    second = source.sentence_at("demo", 2).sentence
    source.register_suggestion_source("demo", "trained-001", kind="model", model="models/demo/001/model-best", settings={"all": False})
    source.add_suggestions([Suggestion(first.id, "trained-001", (Span(0, 3, "ORG", 0, 0),), ())])
    source.complete_suggestion_source("demo", "trained-001", {"all": False, "sentences": 1})
    source.register_suggestion_source("demo", "half", kind="model", model="en_core_web_sm", settings={"all": True})
    source.add_suggestions([Suggestion(second.id, "half", (), ())])  # killed: never completed
    target_path = tmp_path / "target.db"
    with Store(target_path) as target:
        merge_into(target, source.path)
        assert registry(target) == registry(source)
        assert resolve_source(target, "demo", "trained-001") == "trained-001"
        with pytest.raises(DatasetError, match="incomplete"):
            resolve_source(target, "demo", "half")
        merge_into(target, source.path)  # twice: nothing more
        assert registry(target) == registry(source)
