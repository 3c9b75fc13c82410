"""How many corrections an annotator needs to reach the reference annotation of the seed article.

The annotator goes sentence by sentence in document order, fixes every span that differs from
``tests/reference/seed.jsonl`` (a wrong label or wrong boundaries on a suggested span: one
correction; a missing span: one; an extra span: one), then every relation that differs (missing or
extra: one each), and accepts; with the memory on, each accepted decision updates the memory before
the next sentence is shown. What is shown is what the annotate screen shows: the stored suggestion
rows, filtered and joined with the memory's row by :meth:`MemoryMatch.filter`, merged by
``SentenceEditor.from_suggestions``.

Run with the real suggestions of the default scheme (the pipeline ``annotator import`` uses)::

    .venv/bin/python -m tests.seed_corrections

The tests use the same functions with pattern-only suggestions (tests/test_memory.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from annotator.editing import SentenceEditor
from annotator.memory import AnnotationMemory, suggested_keys
from annotator.model import Decision, Relation, Sentence, Span, Suggestion

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference" / "seed.jsonl"


def load_reference(path: Path = REFERENCE) -> dict[int, dict]:
    """Position -> the reference record (text, spans with offsets, relations)."""
    with path.open(encoding="utf-8") as handle:
        return {record["position"]: record for record in map(json.loads, handle)}


def reference_decision(sentence: Sentence, record: dict) -> Decision:
    """The reference of one sentence as an accepted decision on its tokens."""
    assert record["text"] == sentence.text, f"sentence {sentence.position} is not the reference's text"
    by_start = {t.start: i for i, t in enumerate(sentence.tokens)}
    by_end = {t.end: i for i, t in enumerate(sentence.tokens)}
    spans = tuple(
        Span(s["start"], s["end"], s["label"], by_start[s["start"]], by_end[s["end"]]) for s in record["spans"]
    )
    relations = tuple(Relation(tuple(r["head"]), tuple(r["child"]), r["label"]) for r in record["relations"])
    return Decision(None, f"reference-{sentence.position}", sentence.id, "reference", "", "accept", spans, relations, 0.0)


@dataclass
class Corrections:
    """Corrections counted over a run, by kind, and where."""

    relabel: int = 0
    """A suggested span on the right tokens with the wrong label."""
    bounds: int = 0
    """A suggested span overlapping a reference span, on other tokens."""
    add: int = 0
    """A reference span nothing suggested near."""
    delete: int = 0
    """A suggested span the reference does not have."""
    relations: int = 0
    """A relation to add or delete (after the spans are right)."""
    correct: int = 0
    """Reference spans shown exactly."""
    where: list[str] = field(default_factory=list)
    """One line per correction."""

    @property
    def spans(self) -> int:
        return self.relabel + self.bounds + self.add + self.delete


def count_sentence(sentence: Sentence, shown: SentenceEditor, reference: Decision, corrections: Corrections) -> None:
    """Add the corrections that turn what ``shown`` shows into ``reference``."""
    text = sentence.text
    wanted = {(s.start, s.end, s.label) for s in reference.spans}
    offered = {(s.span.start, s.span.end, s.label) for s in shown.spans}
    leftover = offered - wanted
    for start, end, label in sorted(wanted - offered):
        same_tokens = next((o for o in leftover if o[:2] == (start, end)), None)
        near = same_tokens or next((o for o in sorted(leftover) if o[0] < end and start < o[1]), None)
        if same_tokens is not None:
            corrections.relabel += 1
            what = f"relabel {text[start:end]!r} {same_tokens[2]} -> {label}"
        elif near is not None:
            corrections.bounds += 1
            what = f"fix {text[near[0]:near[1]]!r} {near[2]} -> {text[start:end]!r} {label}"
        else:
            corrections.add += 1
            what = f"add {text[start:end]!r} {label}"
        if near is not None:
            leftover.discard(near)
        corrections.where.append(f"{sentence.position}: {what}")
    for start, end, label in sorted(leftover):
        corrections.delete += 1
        corrections.where.append(f"{sentence.position}: delete {text[start:end]!r} {label}")
    corrections.correct += len(wanted & offered)
    wanted_relations = set(reference.relations)
    keys = {(s.start, s.end) for s in reference.spans}
    offered_relations = {r.relation for r in shown.relations if r.relation.head in keys and r.relation.child in keys}
    for relation in sorted(wanted_relations ^ offered_relations):
        corrections.relations += 1
        verb = "add" if relation in wanted_relations else "delete"
        corrections.where.append(
            f"{sentence.position}: {verb} relation {text[slice(*relation.head)]!r} {relation.label} {text[slice(*relation.child)]!r}"
        )


def simulate(scheme, sentences: list[Sentence], rows: dict[int, list[Suggestion]], reference: dict[int, dict], *, memory: bool) -> Corrections:
    """Annotate ``sentences`` in order up to the reference, with or without the memory."""
    corrections = Corrections()
    learnt = AnnotationMemory(scheme)
    for sentence in sorted(sentences, key=lambda s: s.position):
        stored = rows.get(sentence.id, [])
        shown_rows = learnt.match(sentence).filter(stored, scheme) if memory else stored
        editor = SentenceEditor.from_suggestions(sentence.text, sentence.tokens, scheme, shown_rows)
        decision = reference_decision(sentence, reference[sentence.position])
        count_sentence(sentence, editor, decision, corrections)
        if memory:
            learnt.add(sentence, decision, suggested_keys(stored))
    return corrections


def stored(db: Path, dataset: str = "demo") -> tuple[list[Sentence], dict[int, list[Suggestion]]]:
    """The dataset's sentences and their stored suggestion rows."""
    from annotator.store import Store

    with Store(db) as store:
        sentences = list(store.iter_sentences(dataset))
        return sentences, {s.id: store.suggestions(s.id) for s in sentences}


def import_seed(db: Path, labels: Path = ROOT / "labels.yaml") -> None:
    """``annotator import demo examples/`` into ``db`` with ``labels`` (as a user would)."""
    subprocess.run(
        [sys.executable, "-m", "annotator", "import", "demo", str(ROOT / "examples"), "--db", str(db), "--labels", str(labels)],
        check=True, capture_output=True, cwd=db.parent,
    )


def patterns_only_labels(folder: Path) -> Path:
    """The default scheme without a model (suggestions from its patterns and rules only)."""
    labels = folder / "labels.yaml"
    text = (ROOT / "labels.yaml").read_text(encoding="utf-8")
    labels.write_text(text.replace("\nmodel: en_core_web_sm\n", "\nmodel: null\n"), encoding="utf-8")
    return labels


def main() -> None:
    from annotator.labels import load_scheme

    scheme = load_scheme(ROOT / "labels.yaml")
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "seed.db"
        import_seed(db)
        sentences, rows = stored(db)
    sources = sorted({row.source for found in rows.values() for row in found})
    reference = load_reference()
    total = sum(len(r["spans"]) for r in reference.values())
    print(f"reference: {total} spans, {sum(len(r['relations']) for r in reference.values())} relations; suggestions from {', '.join(sources)}")
    for memory in (False, True):
        result = simulate(scheme, sentences, rows, reference, memory=memory)
        print(
            f"memory {'on ' if memory else 'off'}: {result.spans} span corrections (relabel {result.relabel}, bounds "
            f"{result.bounds}, add {result.add}, delete {result.delete}), {result.relations} relation corrections; "
            f"{result.correct}/{total} reference spans shown right"
        )
        if "-v" in sys.argv:
            for line in result.where:
                print("   ", line)


if __name__ == "__main__":
    main()
