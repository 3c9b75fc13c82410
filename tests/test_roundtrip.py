"""Issue #17's invariant: every export → import of the same format gives back the same decisions.

A hypothesis property over random small datasets (a few articles of distinct sentences; random
decisions by several annotators with spans on token boundaries, labels, relations, answers
accept/reject/ignore; gold decisions by a reviewer). For each of the six formats the dataset is
exported, imported into a fresh database, and the current decisions are compared.

What each format carries (the comparison leaves out exactly what a format cannot hold):

=========  =======  ==========  ===========  ==============  ==================================
format     answers  relations   annotator    gold flag       how it is exported / imported
=========  =======  ==========  ===========  ==============  ==================================
spacy      accept   yes         yes          yes             ``--source all``, then ``gold``
jsonl      all      yes         yes          yes (meta)      ``--answers accept,reject,ignore``
prodigy    all      yes         yes          yes (meta)      as jsonl
doccano    accept   yes         yes (meta)   yes (meta)      ``--source all``, then ``gold``
brat       accept   yes         sidecar      sidecar         one source at a time (one version
                                                             of each document)
conll      accept   **no**      **no**       **no**          one source at a time, imported
                                                             with ``--annotator NAME``
=========  =======  ==========  ===========  ==============  ==================================

Training formats hold accepted sentences only (``--answers`` other than accept is refused), so for
them only the accepted decisions are expected back. CoNLL rebuilds the text from its tokens, so
sentences and offsets are compared with whitespace removed (for every format, for simplicity).

Some spans cover part of a token ("U.S." of "U.S.-made", "16s" of "F-16s"): their decisions carry
their own split tokens, and every format must bring those spans back with the same offsets.

``ROUNDTRIP_EXAMPLES`` sets the number of examples per format (default 25).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.importer import ArticleImporter, ArticleInput
from annotator.annotated_import import import_annotated
from annotator.export import ExportPlan, choose_source, run_export
from annotator.labels import load_scheme
from annotator.model import Relation, Span, split_for_spans
from annotator.store import Store

from .conftest import ROOT

EXAMPLES = int(os.environ.get("ROUNDTRIP_EXAMPLES", "25"))
SCHEME = load_scheme(ROOT / "labels.yaml")
ENTITIES = list(SCHEME.entity_names)[:4]
RELATIONS = list(SCHEME.relation_names)[:2]
ANNOTATORS = ("alice", "bob", "carol")
REVIEWER = "rita"

POOL = [
    "Umerov met Austin in Washington on Tuesday.",
    "The Pentagon sent more ATACMS to Ukraine.",
    "Zelensky spoke to CNN about the new missiles.",
    "Russia said the strikes on Crimea were a provocation.",
    "Angela Merkel visited Kyiv with Olaf Scholz.",
    "NATO ministers gathered in Brussels last week.",
    "The European Union approved a loan of 50 billion euros.",
    "Officials in London and Paris welcomed the decision.",
    "General Syrskyi replaced Zaluzhny as commander.",
    "Biden told reporters that Congress must act.",
    "Alex Marquardt reported from Kharkiv for CNN.",
    "The Kremlin denied any talks with Washington.",
    "Ukraine received U.S.-made F-16s from Denmark.",
    "The U.N.-backed report named the S-400 battery.",
]


def _words(tokens, text):
    """Indices of tokens that are words (spans never start or end on punctuation or whitespace)."""
    return [i for i, t in enumerate(tokens) if text[t.start : t.end].isalnum()]


@st.composite
def datasets(draw):
    texts = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(texts) - 1)), max_size=2)))
    articles, last = [], 0
    for cut in [*cuts, len(texts)]:
        if cut > last:
            articles.append(texts[last:cut])
            last = cut
    seed = draw(st.integers(0, 2**32 - 1))
    return articles, seed


def _inner_pieces(sentence):
    """``(start, end)`` of the parts of tokens such as "U.S.-made" a span can cover ("U.S.", "made")."""
    pieces = []
    for token in sentence.tokens:
        word = sentence.text[token.start : token.end]
        for match in re.finditer(r"[A-Za-z0-9][A-Za-z0-9.]*", word):
            if match.group() != word:
                pieces.append((token.start + match.start(), token.start + match.end()))
    return pieces


def _random_annotation(rng, sentence):
    """Random spans (some inside a token), relations, and the decision's tokens (split where a span
    is inside a token, else None)."""
    tokens = sentence.tokens
    words = _words(tokens, sentence.text)
    pieces = _inner_pieces(sentence)
    spans: list[Span] = []
    for _ in range(rng.randint(0, 3)):
        if pieces and rng.random() < 0.5:
            start, end = rng.choice(pieces)
            candidate = Span(start, end, rng.choice(ENTITIES), -1, -1)
        else:
            first = rng.choice(words)
            last = rng.choice([w for w in words if first <= w <= first + 2])
            candidate = Span(tokens[first].start, tokens[last].end, rng.choice(ENTITIES), first, last)
        if not any(s.start < candidate.end and candidate.start < s.end for s in spans):
            spans.append(candidate)
    split, spans = split_for_spans(sentence.text, tokens, spans)
    relations = []
    if len(spans) >= 2 and rng.random() < 0.6:
        head, child = rng.sample(spans, 2)
        relations.append(Relation(head.key, child.key, rng.choice(RELATIONS)))
    return spans, relations, split


def _build(db: Path, articles, seed):
    import random

    rng = random.Random(seed)
    with Store(db) as store:
        store.ensure_dataset("d")
        ArticleImporter(store, "d").import_articles(
            ArticleInput("\n\n".join(sentences), f"article-{i}") for i, sentences in enumerate(articles)
        )
        for position in range(1, store.sentence_count("d") + 1):
            sentence = store.sentence_at("d", position).sentence
            for name in ANNOTATORS:
                if rng.random() < 0.6:
                    answer = rng.choice(["accept", "accept", "reject", "ignore"])
                    spans, relations, split = _random_annotation(rng, sentence) if answer == "accept" else ([], [], None)
                    store.add_decision(sentence, annotator=name, answer=answer, spans=spans, relations=relations, tokens=split)
                    if rng.random() < 0.2:  # a correction: the later decision is the current one
                        spans, relations, split = _random_annotation(rng, sentence)
                        store.add_decision(sentence, annotator=name, answer="accept", spans=spans, relations=relations,
                                           tokens=split)
            if rng.random() < 0.4:
                spans, relations, split = _random_annotation(rng, sentence)
                store.add_decision(sentence, annotator=REVIEWER, answer="accept", spans=spans, relations=relations, gold=True,
                                   tokens=split)


def _compact(text: str, offset: int) -> int:
    return sum(1 for c in text[:offset] if not c.isspace())


def _decisions(db: Path, dataset: str, *, gold: bool, answers, relations=True, annotator=True, gold_flag=True,
               who: str | None = None) -> Counter:
    """The current decisions as comparable tuples (whitespace-free texts and offsets)."""
    found: Counter = Counter()
    with Store(db) as store:
        if store.find_dataset(dataset) is None:
            return found
        for sentence, d in store.current_decisions(dataset, [who] if who else None, gold=gold):
            if d.answer not in answers:
                continue
            text = sentence.text
            key = lambda start, end: (_compact(text, start), _compact(text, end))  # noqa: E731
            found[(
                d.annotator if annotator else None,
                d.gold if gold_flag else None,
                "".join(text.split()),
                d.answer,
                tuple(sorted((*key(s.start, s.end), s.label) for s in d.spans)),
                tuple(sorted((key(*r.head), key(*r.child), r.label) for r in d.relations)) if relations else (),
            )] += 1
    return found


def _export_import(db: Path, fresh: Path, work: Path, fmt: str, source: str, answers, *, annotator=None, target="back"):
    with Store(db) as store:
        if not list(store.current_decisions("d", None, gold=source == "gold")):
            return False
        chosen, names, gold = choose_source(store, "d", source)
        plan = ExportPlan("d", fmt, chosen, names, gold, answers, work / f"out-{source}")
        try:
            run_export(store, SCHEME, plan, force=True)
        except Exception as error:  # nothing with these answers: nothing to compare
            if "nothing to export" in str(error):
                return False
            raise
    out = plan.out
    if fmt == "spacy":
        files = [(out / "d.spacy", "spacy")]
    elif fmt in ("jsonl", "prodigy"):
        files = [(out / "d.jsonl", "prodigy")]
    elif fmt == "doccano":
        files = [(p, "doccano") for p in sorted(out.glob("*.jsonl"))]
    elif fmt == "brat":
        files = [(out / "brat", "brat")]
    else:
        files = [(out / "d.conll", "conll")]
    with Store(fresh) as store:
        for path, kind in files:
            import_annotated(store, target, path, kind, SCHEME, annotator=annotator, add_labels=True)
        report = store.verify(target)
        assert report.ok, (fmt, report.counts, report.problems[:3])  # spans inside tokens are on their decision's tokens
    return True


def _run(fmt: str, articles, seed):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db, fresh = work / "a.db", work / "b.db"
        _build(db, articles, seed)
        all_answers = ("accept", "reject", "ignore")
        if fmt in ("jsonl", "prodigy", "spacy", "doccano"):
            answers = all_answers if fmt in ("jsonl", "prodigy") else ("accept",)
            # annotators (--source all), then gold, into the same fresh dataset
            _export_import(db, fresh, work, fmt, "all", answers)
            _export_import(db, fresh, work, fmt, "gold", answers)
            for gold in (False, True):
                expected = _decisions(db, "d", gold=gold, answers=answers)
                assert _decisions(fresh, "back", gold=gold, answers=answers) == expected, (fmt, gold)
            return
        # brat and CoNLL hold one version of each sentence: one source at a time
        carries = {"relations": fmt != "conll", "annotator": fmt != "conll", "gold_flag": fmt != "conll"}
        for source in (*ANNOTATORS, "gold"):
            target = f"back-{source}"
            with Store(db) as store:
                names = store.annotators("d")
            if source != "gold" and source not in names:
                continue
            # CoNLL names no annotator: import it as the source's name
            name = (REVIEWER if source == "gold" else source) if fmt == "conll" else None
            if not _export_import(db, fresh, work, fmt, source, ("accept",), annotator=name, target=target):
                continue
            gold = source == "gold"
            expected = _decisions(db, "d", gold=gold, answers=("accept",), who=None if gold else source, **carries)
            # CoNLL: gold comes back as the reviewer's ordinary decisions (no gold flag in the format)
            got = _decisions(fresh, target, gold=gold and fmt != "conll", answers=("accept",), **carries)
            assert got == expected, (fmt, source)


@pytest.mark.parametrize("fmt", ["spacy", "jsonl", "prodigy", "doccano", "brat", "conll"])
def test_export_import_gives_back_the_same_decisions(fmt):
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(datasets())
    def check(data):
        articles, seed = data
        _run(fmt, articles, seed)

    check()
