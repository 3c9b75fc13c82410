"""Pattern suggestions: PatternMatcher finds what spaCy's SpanRuler finds, more cheaply."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from annotator.labels import find_scheme
from annotator.preannotate import PatternMatcher, expand_token_pattern
from annotator.segment import Segmenter, paragraphs

from .conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]

# The default labels.yaml's patterns before they were rewritten for speed (a REGEX token pattern
# for the fighter jets), kept here to show the rewrite finds the same on the news sample.
OLD_DEFAULT_PATTERNS = [
    {"label": "ORG", "pattern": p} for p in ("Pentagon", "Kremlin", "NATO")
] + [
    {"label": "WEAPON", "pattern": p}
    for p in ("ATACMS", "Army Tactical Missile Systems", "Army Tactical Missile System", "HIMARS", "Storm Shadow", "F-16")
] + [
    {"label": "WEAPON", "pattern": p}
    for p in (
        [{"TEXT": {"REGEX": "^F-(15|16|18|22|35)s?$"}}],
        [{"LOWER": "glide"}, {"LOWER": {"IN": ["bomb", "bombs"]}}],
        [{"LOWER": {"IN": ["long", "short", "medium"]}}, {"TEXT": "-"}, {"LOWER": "range"}, {"LOWER": {"IN": ["missile", "missiles"]}}],
        [{"LOWER": {"IN": ["cruise", "ballistic", "hypersonic"]}, "OP": "?"}, {"LOWER": {"IN": ["missile", "missiles"]}}],
        [{"LOWER": {"IN": ["drone", "drones"]}}],
        [{"TEXT": "Patriot"}, {"LOWER": {"IN": ["missile", "missiles", "system", "systems", "battery", "batteries"]}}],
    )
] + [
    {"label": "ROLE", "pattern": p}
    for p in (
        [{"LOWER": {"IN": ["defense", "defence", "foreign", "prime", "finance", "interior"]}}, {"LOWER": {"IN": ["minister", "secretary"]}}],
        [{"LOWER": "vice", "OP": "?"}, {"LOWER": {"IN": ["president", "chancellor"]}}],
        [{"LOWER": "air"}, {"LOWER": "force"}, {"LOWER": "commander"}],
        [{"LOWER": {"IN": ["army", "military", "navy"]}}, {"LOWER": {"IN": ["chief", "commander"]}}],
        [{"LOWER": {"IN": ["senior", "defense", "defence", "military", "government", "administration"]}, "OP": "?"},
         {"LOWER": {"IN": ["official", "officials"]}}],
        [{"LOWER": {"IN": ["spokesperson", "spokesman", "spokeswoman", "pilot"]}}],
    )
]


def ruler_matches(patterns, texts):
    """What spaCy's SpanRuler finds: (text number, start, end, label)."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("span_ruler", config={"spans_key": "k", "annotate_ents": False})
    ruler.add_patterns(patterns)
    return [sorted((s.start_char, s.end_char, s.label_) for s in doc.spans["k"]) for doc in nlp.pipe(texts)]


def matcher_matches(patterns, texts):
    nlp = spacy.blank("en")
    matcher = PatternMatcher(nlp, patterns)
    return [matcher(doc) for doc in nlp.pipe(texts)]


def news_paragraphs() -> list[str]:
    folder = shared_data("news")
    texts = []
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        texts += [text[a:b] for a, b in paragraphs(text)]
    texts.append((ROOT / "examples" / "ukraine-long-range-weapons.txt").read_text(encoding="utf-8"))
    return texts


def test_default_patterns_find_the_same_as_before_on_the_news_sample():
    texts = news_paragraphs()
    scheme = find_scheme(ROOT / "labels.yaml")
    old = ruler_matches(OLD_DEFAULT_PATTERNS, texts)
    new_by_ruler = ruler_matches(scheme.patterns_for_spacy(), texts)
    new = matcher_matches(scheme.patterns_for_spacy(), texts)
    assert sum(map(len, old)) > 20  # the sample has matches to compare
    assert new == old
    assert new_by_ruler == old


def test_default_patterns_need_no_token_matcher():
    """None of the default patterns runs a per-token predicate: all are look-ups in one PhraseMatcher."""
    matcher = PatternMatcher(spacy.blank("en"), find_scheme(ROOT / "labels.yaml").patterns_for_spacy())
    assert len(matcher.matcher) == 0
    assert len(matcher.phrases) == 0 and len(matcher.lowered) > 0


MIXED = [
    {"label": "A", "pattern": "New York"},
    {"label": "A", "pattern": "new york"},
    {"label": "B", "pattern": [{"LOWER": {"IN": ["cruise", "ballistic"]}, "OP": "?"}, {"LOWER": {"IN": ["missile", "missiles"]}}]},
    {"label": "C", "pattern": [{"TEXT": "Patriot"}, {"LOWER": "battery"}]},
    {"label": "D", "pattern": [{"ORTH": "patriot"}, {"LOWER": "battery"}]},
    {"label": "E", "pattern": [{"LOWER": "Capital"}]},  # never matches: LOWER values are compared lower-cased tokens
    {"label": "F", "pattern": [{"TEXT": {"REGEX": "^F-\\d+s?$"}}]},
    {"label": "G", "pattern": [{"IS_DIGIT": True}, {"LOWER": "drones"}]},
    {"label": "H", "pattern": [{"LOWER": "air"}, {"LOWER": "force", "OP": "+"}]},
    {"label": "B", "pattern": [{"LOWER": "missile"}]},  # the same match twice under one label: once
    {"label": "I", "pattern": "U.S.-made Storm  Shadow"},  # a phrase of several tokens, one of them whitespace
    {"label": "I", "pattern": ""},
]
TEXTS = [
    "New York and new york and NEW YORK; Cruise missiles, a missile, BALLISTIC MISSILE.",
    "Patriot battery, patriot Battery, PATRIOT battery; Capital capital; F-16s and F-35 and F-x.",
    "Twelve 40 drones, air force force, Air Force.",
    "U.S.-made Storm  Shadow, u.s.-made storm  shadow, U.S.-made Storm Shadow, U.S.-MADE Storm  Shadow.",
    "",
]


def test_pattern_matcher_agrees_with_span_ruler():
    assert matcher_matches(MIXED, TEXTS) == ruler_matches(MIXED, TEXTS)
    matcher = PatternMatcher(spacy.blank("en"), MIXED)
    assert len(matcher.matcher) == 3  # REGEX, IS_DIGIT and OP "+" need the token Matcher; the rest are phrases


def test_pattern_matcher_refuses_what_spacy_refuses():
    with pytest.raises(Exception):
        PatternMatcher(spacy.blank("en"), [{"label": "X", "pattern": [{"NO_SUCH_ATTR": "x"}]}])


def test_expansion_limit_leaves_the_pattern_to_the_matcher():
    pattern = [{"LOWER": {"IN": [f"w{i}" for i in range(40)]}} for _ in range(3)]
    assert expand_token_pattern(pattern, 1000) is None
    assert len(expand_token_pattern(pattern[:1], 1000)) == 40


def test_segmenter_reports_the_matches_of_its_sentences():
    patterns = [{"label": "WEAPON", "pattern": "ATACMS"}, {"label": "ROLE", "pattern": [{"LOWER": "defense"}, {"LOWER": "minister"}]}]
    text = "Title\n\nThe Defense Minister asked for ATACMS. They came later.\n\nATACMS again."
    sentences = Segmenter(patterns=patterns).segment(text)
    found = [(text[s.start + a : s.start + b], label) for s in sentences for a, b, label in s.pattern_matches]
    assert found == [("Defense Minister", "ROLE"), ("ATACMS", "WEAPON"), ("ATACMS", "WEAPON")]
    assert all(s.pattern_matches is None for s in Segmenter().segment(text))


@pytest.mark.parametrize("which", ["default", "mixed"])
def test_segmenter_matches_are_the_matchers_on_every_paragraph(which):
    """The matches the segmenter reports with its sentences are those of every paragraph."""
    patterns = find_scheme(ROOT / "labels.yaml").patterns_for_spacy() if which == "default" else MIXED
    seed = (ROOT / "examples" / "ukraine-long-range-weapons.txt").read_text(encoding="utf-8")
    text = "Headline\n\n" + "\n\n".join(t for t in TEXTS if t) + "\n\n" + seed
    segmenter = Segmenter(patterns=patterns)
    found = sorted((s.start + a, s.start + b, label) for s in segmenter.segment(text) for a, b, label in s.pattern_matches)
    nlp = spacy.blank("en")
    matcher = PatternMatcher(nlp, patterns)
    every = sorted(m for a, b in paragraphs(text) for m in matcher(nlp.make_doc(text[a:b]), a))
    assert len(found) > 10 and found == every
