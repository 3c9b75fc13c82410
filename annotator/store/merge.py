"""Merging another annotator database into this one, through the public ``Store`` methods only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..model import Sentence, Suggestion, refinement_problem
from .queries import DecisionRecord, Store


@dataclass
class MergeReport:
    """What ``merge_into`` brought in from one source database."""

    source: str
    datasets: int = 0
    articles: int = 0
    sentences: int = 0
    suggestions: int = 0
    decisions: int = 0
    conflicts: list[str] = field(default_factory=list)


def merge_into(target: Store, source_path: str | Path) -> MergeReport:
    """Bring datasets, articles, sentences, suggestions and decisions of another database in.

    Articles are matched by content hash, sentences by (article, index), decisions by their uid,
    suggestion sources registered by ``annotator suggest`` by name (kept as registered there:
    model, settings, complete or not, unless the target registered that name already),
    so merging the same source twice adds nothing. One transaction per source: a failure leaves
    the target as it was. Dataset settings that differ are reported and the target's are kept.
    """
    report = MergeReport(str(source_path))
    with Store(source_path, create=False, readonly=True) as source:
        with target.transaction():
            for info in source.datasets():
                existing = target.find_dataset(info.name)
                if existing is None:
                    target.ensure_dataset(info.name, info.settings)
                    report.datasets += 1
                elif existing.settings != info.settings:
                    report.conflicts.append(
                        f"dataset {info.name!r}: settings differ ({source_path}: {info.settings}, kept {existing.settings})"
                    )
                _merge_dataset(target, source, info.name, report)
    return report


def _merge_dataset(target: Store, source: Store, dataset: str, report: MergeReport) -> None:
    target_sentence: dict[int, Sentence] = {}  # source sentence id -> the same sentence in the target
    for article in source.articles(dataset):
        article_id = target.article_id_by_hash(dataset, article.content_hash)
        source_sentences = source.article_sentences(article.id)  # type: ignore[arg-type]
        if article_id is None:
            article_id, counts = target.add_article(
                dataset,
                title=article.title,
                text=article.text,
                content_hash=article.content_hash,
                source=article.source,
                meta=article.meta,
                sentences=[(s.start, s.end, s.tokens) for s in source_sentences],
            )
            report.articles += counts.articles
            report.sentences += counts.sentences
        by_index = {s.index: s for s in target.article_sentences(article_id)}
        for sentence in source_sentences:
            match = by_index.get(sentence.index)
            if match is None or (match.start, match.end) != (sentence.start, sentence.end):
                report.conflicts.append(
                    f"dataset {dataset!r}: article {article.title!r} sentence {sentence.index} is segmented differently; "
                    "its decisions were not merged"
                )
                continue
            target_sentence[sentence.id] = match  # type: ignore[index]
    for registered in source.suggestion_sources(dataset):
        target.adopt_suggestion_source(dataset, registered)
    report.suggestions += target.add_suggestions(
        (
            Suggestion(match.id, suggestion.source, suggestion.spans, suggestion.relations)  # type: ignore[arg-type]
            for source_id, match in target_sentence.items()
            for suggestion in source.suggestions(source_id)
        ),
        replace=False,
    )
    uid_of_source_id: dict[int, str] = {}

    def records():
        for decision in source.decisions(dataset):
            uid_of_source_id[decision.id] = decision.uid  # type: ignore[index]
            match = target_sentence.get(decision.sentence_id)
            if match is None:
                continue
            if decision.tokens is not None and refinement_problem(match.text, match.tokens, decision.tokens):
                report.conflicts.append(
                    f"dataset {dataset!r}: decision {decision.uid} splits tokens the sentence here does not have; not merged"
                )
                continue
            yield DecisionRecord(
                match, decision.annotator, decision.answer, decision.uid, decision.created_at,
                spans=decision.spans, relations=decision.relations, session=decision.session,
                seconds=decision.seconds, kind=decision.kind, gold=decision.gold, meta=decision.meta,
                supersedes_uid=uid_of_source_id.get(decision.supersedes),  # type: ignore[arg-type]
                tokens=decision.tokens,
            )

    report.decisions += target.add_imported_decisions(records(), verbatim=True)
