"""The ``cluster`` row: ``import --cluster local:2`` against ``--workers 2`` and one process, and
the client's peak memory on the 1M-sentence import corpus.

On a machine with two cores a 2-worker LocalCluster is not expected to beat one process: what the
row measures is its overhead (starting the cluster, loading the pipeline in each worker, pickling
batches to and results from the workers). The memory figure is the client's own ``ru_maxrss``
(``RUSAGE_SELF`` at its exit, written by this script's ``client`` mode), because the
process tree's peak would be that of a worker.

usage (what ``run.py --only cluster`` does), or as the measured child:
    python benchmarks/cluster.py client REPORT.json -- ANNOTATOR ARGS...
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent


def client(report: str, argv: list[str]) -> int:
    """Run ``annotator ARGV`` in this process and write its own peak memory to ``report``."""
    import resource

    from annotator.cli import main

    sys.argv = ["annotator", *argv]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        Path(report).write_text(json.dumps({"client_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    return code


def same_rows(a: Path, b: Path) -> bool:
    """Both databases hold the same rows (times aside)."""
    def rows(path: Path) -> dict[str, list]:
        conn = sqlite3.connect(path)
        try:
            out = {}
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE TABLE%'"):
                cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")') if r[1] not in ("created_at", "completed_at")]
                out[name] = sorted(conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{name}"'), key=repr)
            return out
        finally:
            conn.close()

    return rows(a) == rows(b)


def row(ctx, Line, run_process: Callable, annotator_argv: Callable[[], list[str]]) -> list[Any]:
    """The lines of the ``cluster`` row (``run.py`` passes its helpers)."""
    import corpus
    import databases

    sentences = 1_000 if ctx.quick else 5_000
    files, n, _ = corpus.jsonl_corpus(sentences, files=1, name=f"cluster-{sentences}")
    walls: dict[str, float] = {}
    dbs: dict[str, Path] = {}
    for tag, extra in (("one process", []), ("--workers 2", ["--workers", "2"]),
                       ("--cluster local:2", ["--cluster", "local:2"])):
        db = corpus.WORK / f"cluster-{re.sub(r'[^a-z0-9]+', '-', tag).strip('-')}.db"
        databases.remove_db(db)
        run = run_process(annotator_argv() + ["import", "c", *map(str, files), "--model", "en_core_web_sm", "--db", str(db), *extra],
                          cwd=corpus.WORK, timeout=3600)
        if run.returncode != 0:
            raise RuntimeError(f"import {' '.join(extra) or '(one process)'} failed: {run.last_error}")
        walls[tag], dbs[tag] = run.wall_s, db
    same = same_rows(dbs["one process"], dbs["--cluster local:2"])
    for db in dbs.values():
        databases.remove_db(db)
    one, workers, cluster = walls["one process"], walls["--workers 2"], walls["--cluster local:2"]
    lines = [
        Line("cluster", f"import --model en_core_web_sm, {n:,} sentences: --cluster local:2 vs one process (whole CLI)",
             f"{cluster:.1f} s", f"{one:.1f} s", cluster / one, "measured (2 cores: overhead)", None,
             note=f"--workers 2 {workers:.1f} s ({workers / one:.2f}× one process; cluster {cluster / workers:.2f}× --workers 2); "
                  f"rows {'identical' if same else 'DIFFER'} to the one-process run",
             values={"sentences": n, "walls_s": walls, "same_rows": same}),
    ]
    if ctx.quick:
        lines.append(Line("cluster", "import 1M sentences --cluster local:2: client peak memory", status="skip",
                          note="skipped under --quick"))
        return lines
    files, n, _ = corpus.jsonl_corpus(ctx.sizes.import_sentences, files=ctx.sizes.import_files)
    db = corpus.WORK / "cluster-big.db"
    databases.remove_db(db)
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        run = run_process([sys.executable, str(HERE / "cluster.py"), "client", report.name, "--",
                           "import", "big", *map(str, files), "--no-suggest", "--db", str(db), "--cluster", "local:2"],
                          cwd=corpus.WORK, timeout=7200)
        facts = json.loads(Path(report.name).read_text() or "{}")
    databases.remove_db(db)
    if run.returncode != 0:
        raise RuntimeError(f"import --cluster local:2 of the 1M corpus failed: {run.last_error}")
    match = re.search(r"imported ([\d,]+) articles, ([\d,]+) sentences", run.stdout)
    imported = int(match.group(2).replace(",", "")) if match else n
    client_mib = facts.get("client_maxrss_kib", 0) / 1024
    lines.append(Line("cluster", f"import {imported:,} sentences --no-suggest --cluster local:2: client peak memory",
                      f"{client_mib:,.0f} MiB", f"{run.maxrss_mib:,.0f} MiB (largest process)", None, "< 1024 MiB",
                      client_mib < 1024, note=f"{run.wall_s:.0f} s, {imported / run.wall_s:,.0f} sent/s",
                      values={"sentences": imported, "client_mib": client_mib, "tree_max_mib": run.maxrss_mib,
                              "wall_s": run.wall_s}))
    return lines


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "client" and sys.argv[3] == "--":
        sys.exit(client(sys.argv[2], sys.argv[4:]))
    sys.exit(__doc__)
