"""Deterministic benchmark inputs, generated into ``benchmarks/work/`` (gitignored).

Everything here is derived from the seed article (``examples/ukraine-long-range-weapons.txt``) and
the news articles in ``../shared/data/news`` (synthetic news-like articles when those are absent),
replicated to the sizes the measures need. Replica ``r > 0`` of an article differs only in its first
line (`` (edition r)`` is appended), so every replica has its own content hash (imports are
idempotent by hash) and exactly as many sentences as the original.

Generated files carry a manifest (the spec they were made from); a file whose manifest matches is
reused, so a second ``make bench`` does not pay for generating inputs again.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
SEED_ARTICLE = ROOT / "examples" / "ukraine-long-range-weapons.txt"
NEWS_DIR = ROOT.parent / "shared" / "data" / "news"
GENERATOR_VERSION = 4  # bump when the way inputs are generated changes (invalidates cached files)

_PARAGRAPH_BREAK = re.compile(r"\r?\n(?:[^\S\r\n]*\r?\n)+")


@dataclass(frozen=True)
class BaseArticle:
    """One source article and the sentences the annotator's segmenter finds in it."""

    name: str
    text: str
    sentences: int


# ------------------------------------------------------------------------------------- sources


def _synthetic_articles(count: int = 25, sentences: int = 30) -> list[tuple[str, str]]:
    """News-like articles from templates (used only when the shared news folder is absent)."""
    rng = random.Random(20240913)
    people = ["Rustem Umerov", "Lloyd Austin", "Olaf Scholz", "Mark Rutte", "Antony Blinken", "Emmanuel Macron"]
    roles = ["Defense Minister", "Secretary of State", "President", "Prime Minister", "spokesperson"]
    places = ["Kyiv", "Washington", "Berlin", "Brussels", "the Black Sea", "Kharkiv", "Crimea"]
    orgs = ["NATO", "the Pentagon", "the Kremlin", "the European Union", "Reuters"]
    things = ["ATACMS missiles", "F-16 jets", "Storm Shadow missiles", "air defense systems", "glide bombs"]
    days = ["on Friday", "on Monday", "last week", "earlier this month", "in September"]
    verbs = ["said", "told reporters", "announced", "warned", "confirmed"]
    articles = []
    for a in range(count):
        paragraphs = [f"{rng.choice(places)} weighs {rng.choice(things)} as talks resume"]
        body: list[str] = []
        for s in range(sentences - 1):
            body.append(
                f"{rng.choice(roles)} {rng.choice(people)} {rng.choice(verbs)} {rng.choice(days)} that "
                f"{rng.choice(orgs)} would send {rng.choice(things)} to {rng.choice(places)}."
            )
            if len(body) == 3 or s == sentences - 2:
                paragraphs.append(" ".join(body))
                body = []
        articles.append((f"synthetic_{a:02d}", "\n\n".join(paragraphs) + "\n"))
    return articles


def source_texts() -> list[tuple[str, str]]:
    """``(name, text)`` of the source articles: the seed first, then the news articles by name."""
    texts: list[tuple[str, str]] = []
    if SEED_ARTICLE.exists():
        texts.append((SEED_ARTICLE.name, SEED_ARTICLE.read_text(encoding="utf-8")))
    news = sorted(NEWS_DIR.glob("*.txt")) if NEWS_DIR.is_dir() else []
    texts += [(p.name, p.read_text(encoding="utf-8")) for p in news]
    if len(texts) < 2:
        texts += _synthetic_articles()
    return texts


def count_sentences(texts: Sequence[str]) -> list[int]:
    """Sentences per article as the annotator's segmenter finds them (a sentencizer when it fails)."""
    try:
        from annotator.segment import Segmenter

        return [len(sentences) for sentences in Segmenter().segment_many(texts)]
    except Exception:  # the segmenter is being edited: an estimate is enough to size the inputs
        import spacy

        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        counts = []
        for text in texts:
            paragraphs = [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
            counts.append(sum(len(list(doc.sents)) for doc in nlp.pipe(paragraphs)))
        return counts


_BASE: list[BaseArticle] | None = None


def base_articles() -> list[BaseArticle]:
    """The source articles with their sentence counts (segmented once per process)."""
    global _BASE
    if _BASE is None:
        texts = source_texts()
        counts = count_sentences([t for _, t in texts])
        _BASE = [BaseArticle(name, text, n) for (name, text), n in zip(texts, counts)]
    return _BASE


def corpus_fingerprint() -> str:
    """A hash of the source texts and the generator version (part of every manifest)."""
    digest = hashlib.sha256(str(GENERATOR_VERSION).encode())
    for article in base_articles():
        digest.update(article.name.encode())
        digest.update(article.text.encode())
    return digest.hexdigest()[:16]


def variant(text: str, replica: int) -> str:
    """Replica ``replica`` of an article: `` (edition N)`` appended to its first non-empty line."""
    if replica == 0:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            lines[i] = line.rstrip() + f" (edition {replica})"
            break
    return "\n".join(lines)


@dataclass(frozen=True)
class CorpusArticle:
    """An article of a generated corpus."""

    text: str
    source: str
    replica: int
    sentences: int


def articles(n_sentences: int) -> Iterator[CorpusArticle]:
    """Articles (replicas of the sources, in order) until at least ``n_sentences`` sentences."""
    base = base_articles()
    total = 0
    replica = 0
    while total < n_sentences:
        for article in base:
            if total >= n_sentences:
                return
            yield CorpusArticle(variant(article.text, replica), article.name, replica, article.sentences)
            total += article.sentences
        replica += 1


def paragraphs(text: str) -> list[str]:
    """The article's paragraphs (blank-line separated, stripped): what a bare pipeline is given."""
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


# ------------------------------------------------------------------------------------ manifests


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def cached(path: Path, spec: dict) -> bool:
    """True when ``path`` exists and was generated from ``spec`` (and the same sources)."""
    manifest = _manifest_path(path)
    if not path.exists() or not manifest.exists():
        return False
    try:
        return json.loads(manifest.read_text())["spec"] == {**spec, "fingerprint": corpus_fingerprint()}
    except (ValueError, KeyError):
        return False


def write_manifest(path: Path, spec: dict, **facts) -> None:
    manifest = {"spec": {**spec, "fingerprint": corpus_fingerprint()}, **facts}
    _manifest_path(path).write_text(json.dumps(manifest, indent=1))


def manifest_facts(path: Path) -> dict:
    return json.loads(_manifest_path(path).read_text())


# ------------------------------------------------------------------------------- article corpora


def jsonl_corpus(n_sentences: int, files: int = 1, name: str | None = None) -> tuple[list[Path], int, int]:
    """JSONL files of articles (``{"text", "meta"}`` per line) holding ``n_sentences`` sentences in all.

    Returns the files, the number of sentences and the number of articles.
    """
    WORK.mkdir(parents=True, exist_ok=True)
    folder = WORK / (name or f"corpus-{n_sentences}")
    folder.mkdir(exist_ok=True)
    spec = {"kind": "jsonl", "sentences": n_sentences, "files": files}
    paths = [folder / f"articles-{i + 1:02d}.jsonl" for i in range(files)]
    index = folder / "index"
    if cached(index, spec):
        facts = manifest_facts(index)
        return paths, facts["sentences"], facts["articles"]
    all_articles = list(articles(n_sentences))
    total = sum(a.sentences for a in all_articles)
    per_file = total / files
    handles = [p.open("w", encoding="utf-8") for p in paths]
    try:
        done = 0
        for article in all_articles:
            which = min(files - 1, int(done / per_file))
            record = {"text": article.text, "meta": {"source": article.source, "edition": article.replica}}
            handles[which].write(json.dumps(record, ensure_ascii=False) + "\n")
            done += article.sentences
    finally:
        for handle in handles:
            handle.close()
    index.write_text("\n".join(str(p) for p in paths))
    write_manifest(index, spec, sentences=total, articles=len(all_articles))
    return paths, total, len(all_articles)


# ----------------------------------------------------------------------- annotated (Prodigy) data

# The default scheme's relations: name -> (allowed head labels, allowed child labels).
RELATIONS = {
    "HAS_ROLE": (("PERSON",), ("ROLE",)),
    "MEMBER_OF": (("PERSON",), ("ORG", "GPE", "NORP")),
    "LOCATED_IN": (("PERSON", "ORG", "FAC", "EVENT", "LOC", "GPE"), ("GPE", "LOC", "FAC")),
    "SUPPLIES": (("GPE", "ORG", "PERSON"), ("WEAPON", "GPE", "ORG")),
    "ATTACKS": (("GPE", "ORG", "NORP", "PERSON", "WEAPON"), ("GPE", "LOC", "FAC", "ORG", "PERSON")),
}
ENTITY_WEIGHTS = {"PERSON": 5, "ORG": 4, "GPE": 5, "LOC": 1, "NORP": 2, "FAC": 1, "EVENT": 1, "DATE": 3, "WEAPON": 2, "ROLE": 3}


def sentence_pool(n_sentences: int) -> list[tuple[str, list[tuple[int, int, bool]]]]:
    """``n_sentences`` distinct news sentences with spaCy tokens ``(start, end, ws)``.

    Distinct sentences of the source articles in order; from the second pass on each is prefixed with
    ``Update N:`` so that no two texts are the same.
    """
    import spacy

    from annotator.segment import Segmenter

    base_texts = [a.text for a in base_articles()]
    originals: list[str] = []
    for text, sentences in zip(base_texts, Segmenter().segment_many(base_texts)):
        originals += [text[s.start : s.end] for s in sentences]
    originals = list(dict.fromkeys(originals))  # a few lines recur across articles; texts must be unique
    texts: list[str] = []
    round_number = 0
    while len(texts) < n_sentences:
        for sentence in originals:
            if len(texts) >= n_sentences:
                break
            texts.append(sentence if round_number == 0 else f"Update {round_number}: {sentence}")
        round_number += 1
    tokenizer = spacy.blank("en").tokenizer
    pool = []
    for text, doc in zip(texts, tokenizer.pipe(texts, batch_size=512)):
        pool.append((text, [(t.idx, t.idx + len(t.text), bool(t.whitespace_)) for t in doc if not t.is_space]))
    return pool


def _candidate_spans(text: str, tokens: list[tuple[int, int, bool]], rng: random.Random) -> list[tuple[int, int]]:
    """Token ranges (inclusive) that look like entities: runs of capitalised words, then other words."""
    words = [text[a:b] for a, b, _ in tokens]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        if words[i][:1].isupper() and words[i].replace("-", "").isalnum() and i > 0:
            j = i
            while j + 1 < len(words) and j - i < 3 and words[j + 1][:1].isupper():
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    others = [(i, i) for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) > 3]
    rng.shuffle(others)
    return runs + others


def prodigy_records(n_sentences: int, spans_total: int, relations_total: int, seed: int = 7) -> Iterator[dict]:
    """Prodigy ``relations``/``ner_manual`` records with tokens, ~``spans_total`` spans and
    ~``relations_total`` relations spread evenly (deterministic: ``random.Random(seed)``)."""
    rng = random.Random(seed)
    labels = list(ENTITY_WEIGHTS)
    weights = list(ENTITY_WEIGHTS.values())
    pool = sentence_pool(n_sentences)
    span_budget = relation_budget = 0.0
    for number, (text, tokens) in enumerate(pool):
        span_budget += spans_total / n_sentences
        relation_budget += relations_total / n_sentences
        want = int(span_budget)
        taken: set[int] = set()
        chosen: list[dict] = []
        for first, last in _candidate_spans(text, tokens, rng):
            if len(chosen) >= want:
                break
            if any(k in taken for k in range(first, last + 1)):
                continue
            taken.update(range(first, last + 1))
            chosen.append({"start": tokens[first][0], "end": tokens[last][1], "token_start": first, "token_end": last,
                           "label": rng.choices(labels, weights)[0]})
        span_budget -= len(chosen)
        chosen.sort(key=lambda s: s["start"])
        relations: list[dict] = []
        pairs = [(h, c) for h in chosen for c in chosen if h is not c]
        rng.shuffle(pairs)
        for head, child in pairs:
            if len(relations) >= int(relation_budget):
                break
            fitting = [name for name, (heads, children) in RELATIONS.items() if head["label"] in heads and child["label"] in children]
            if not fitting:
                continue
            if any((r["head"], r["child"]) == (head["token_end"], child["token_end"]) for r in relations):
                continue
            relations.append({"head": head["token_end"], "child": child["token_end"], "head_span": head,
                              "child_span": child, "label": rng.choice(fitting)})
        relation_budget -= len(relations)
        annotator = ("alice", "bob")[number % 2]
        yield {
            "text": text,
            "tokens": [{"text": text[a:b], "start": a, "end": b, "id": i, "ws": ws} for i, (a, b, ws) in enumerate(tokens)],
            "spans": chosen,
            "relations": relations,
            "answer": "accept",
            "_view_id": "relations",
            "_annotator_id": f"peers-{annotator}",
            "_session_id": f"peers-{annotator}",
            "_timestamp": 1_726_000_000 + number,
            "meta": {"source": "benchmark", "n": number},
        }


def prodigy_file(n_sentences: int = 10_000, spans_total: int = 28_000, relations_total: int = 11_700) -> tuple[Path, dict]:
    """The peers workload file; returns it with its counts (sentences, spans, relations)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"peers-{n_sentences}.jsonl"
    spec = {"kind": "prodigy", "sentences": n_sentences, "spans": spans_total, "relations": relations_total}
    if cached(path, spec):
        return path, manifest_facts(path)["counts"]
    counts = {"sentences": 0, "spans": 0, "relations": 0}
    with path.open("w", encoding="utf-8") as handle:
        for record in prodigy_records(n_sentences, spans_total, relations_total):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            counts["sentences"] += 1
            counts["spans"] += len(record["spans"])
            counts["relations"] += len(record["relations"])
    write_manifest(path, spec, counts=counts)
    return path, counts
