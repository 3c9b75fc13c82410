"""One annotator version (a :class:`~annotator.review.VersionGroup`) of a sentence, for the review screen.

The sentence text with the version's spans as chips in their label colours (``Rustem Umerov PERSON``),
then its relations as ``head [LABEL] ──REL──▶ child [LABEL]``. Spans and relations that the screen
passes as differing (not in every accepting version) are marked with ``✱`` and underlined; the panel's border
title says who made the version (``1 · alice, carol (2) · ✔ accept``).
"""

from __future__ import annotations

from typing import Collection, Iterable, Sequence

from textual.content import Content
from textual.widgets import Static

from ...model import Relation, Span
from ...review import VersionGroup
from .sentence_view import entity_color, relation_color

DIFF_MARK = "✱"
"""Marks a span or relation that not every accepting version has."""
DIFF_STYLE = "bold #ffb000"
"""Style of the diff mark."""
ANSWER_TITLES = {"accept": "✔ accept", "reject": "✘ reject", "ignore": "– ignore"}

RelationKey = tuple[tuple[int, int], tuple[int, int], str]


def _clean(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def relation_key(relation: Relation, symmetric_labels: Collection[str] = ()) -> RelationKey:
    """What two relations must share to be the same (unordered for symmetric labels, as in review.py)."""
    head, child = relation.head, relation.child
    if relation.label in symmetric_labels and child < head:
        head, child = child, head
    return (head, child, relation.label)


def relations_not_shared(groups: Sequence[VersionGroup], symmetric_labels: Collection[str] = ()) -> dict[tuple[str, ...], set[RelationKey]]:
    """For each group (by its annotators): the keys of its relations that some other group lacks."""
    holders: dict[RelationKey, int] = {}
    for group in groups:
        for key in {relation_key(r, symmetric_labels) for r in group.relations}:
            holders[key] = holders.get(key, 0) + 1
    return {
        group.annotators: {k for k in (relation_key(r, symmetric_labels) for r in group.relations) if holders[k] < len(groups)}
        for group in groups
    }


def group_title(number: int, group: VersionGroup) -> str:
    """``1 · alice, carol (2) · ✔ accept``."""
    return f"{number} · {', '.join(group.annotators)} ({len(group.annotators)}) · {ANSWER_TITLES.get(group.answer, group.answer)}"


def _inline_spans(spans: Iterable[Span]) -> tuple[list[Span], list[Span]]:
    """Spans that can be drawn in the text (no overlaps; longer first), and the nested rest."""
    inline: list[Span] = []
    nested: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start), s.label)):
        if inline and span.start < inline[-1].end:
            nested.append(span)
        else:
            inline.append(span)
    return inline, nested


def span_chip(scheme, text: str, span: Span, marked: bool) -> list[tuple[str, str] | str]:
    """The span's text and label on the label colour; ``✱`` and underline when ``marked``."""
    color = entity_color(scheme, span.label)
    extra = " underline" if marked else ""
    parts: list[tuple[str, str] | str] = []
    if marked:
        parts.append((DIFF_MARK, DIFF_STYLE))
    parts.append((_clean(text[span.start : span.end]), f"#111111 on {color}{extra}"))
    parts.append((f" {span.label}", f"bold #111111 on {color}{extra}"))
    return parts


def describe_relation(scheme, text: str, relation: Relation, labels: dict[tuple[int, int], str]) -> list[tuple[str, str] | str]:
    """``Umerov [PERSON] ──SPEAKS_TO──▶ Alex Marquardt [PERSON]`` (``◀──`` when symmetric), as parts."""
    label = scheme.relation(relation.label)
    left = "◀──" if label is not None and label.symmetric else "──"

    def end(key: tuple[int, int]) -> list[tuple[str, str] | str]:
        name = labels.get(key, "?")
        return [_clean(text[key[0] : key[1]]), (f" [{name}]", entity_color(scheme, name))]

    return [*end(relation.head), " ", (f"{left}{relation.label}──▶", f"bold {relation_color(scheme, relation.label)}"), " ", *end(relation.child)]


def version_content(
    scheme,
    text: str,
    group: VersionGroup,
    marked_spans: Collection[tuple[int, int, str]] = (),
    marked_relations: Collection[RelationKey] = (),
    symmetric_labels: Collection[str] = (),
) -> Content:
    """The sentence with the group's spans, then its relations (differences marked)."""
    if group.answer != "accept":
        verb = {"reject": "rejected the sentence", "ignore": "ignored the sentence"}.get(group.answer, group.answer)
        return Content.from_markup("[dim i]$who $verb: no spans[/]", who=", ".join(group.annotators), verb=verb)
    return annotated_content(scheme, text, group.spans, group.relations, marked_spans, marked_relations, symmetric_labels)


def annotated_content(
    scheme,
    text: str,
    spans: Sequence[Span],
    relations: Sequence[Relation],
    marked_spans: Collection[tuple[int, int, str]] = (),
    marked_relations: Collection[RelationKey] = (),
    symmetric_labels: Collection[str] = (),
) -> Content:
    """Text with span chips, nested spans listed below, then one line per relation."""
    inline, nested = _inline_spans(spans)
    parts: list[tuple[str, str] | str] = []
    at = 0
    for span in inline:
        parts.append(_clean(text[at : span.start]))
        parts.extend(span_chip(scheme, text, span, (span.start, span.end, span.label) in marked_spans))
        at = span.end
    parts.append(_clean(text[at:]))
    if not spans:
        parts.append(("\n(no spans)", "dim italic"))
    for span in nested:
        parts.append("\n  nested: ")
        parts.extend(span_chip(scheme, text, span, (span.start, span.end, span.label) in marked_spans))
    labels = {span.key: span.label for span in spans}
    for relation in relations:
        marked = relation_key(relation, symmetric_labels) in marked_relations
        parts.append("\n")
        parts.append((f"{DIFF_MARK} ", DIFF_STYLE) if marked else "  ")
        line = Content.assemble(*describe_relation(scheme, text, relation, labels))
        parts.append(line.stylize("underline") if marked else line)  # type: ignore[arg-type]
    return Content.assemble(*parts)


class VersionPanel(Static):
    """A bordered panel showing one version; the screen updates it in place (a small fixed pool)."""

    DEFAULT_CSS = """
    VersionPanel {
        height: auto;
        border: round $panel-lighten-2;
        padding: 0 1;
        margin: 0 0 1 0;
    }
    VersionPanel.-selected {
        border: round $accent;
    }
    VersionPanel.-gold {
        border: double $success;
    }
    VersionPanel.-gold.-selected {
        border: double $accent;
    }
    """

    def show_version(self, title: str, subtitle: str, content: Content, *, selected: bool = False, gold: bool = False) -> None:
        self.border_title = title
        self.border_subtitle = subtitle
        self.set_class(selected, "-selected")
        self.set_class(gold, "-gold")
        self.update(content)
        self.display = True
