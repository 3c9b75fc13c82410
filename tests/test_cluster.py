"""--cluster: import and suggest on a Dask LocalCluster write exactly what a local run writes; a
worker or the client killed mid-run; addresses; Dask not installed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotator.cluster import FAULT_ENV, Address, ClusterError, parse_address

from .conftest import ROOT, SEED, run_cli, shared_data

NEWS_PATTERNS = [
    {"label": "PERSON", "pattern": [{"IS_TITLE": True}, {"IS_TITLE": True}]},
    {"label": "GPE", "pattern": "Washington"},
    {"label": "ORG", "pattern": [{"IS_UPPER": True, "LENGTH": {">=": 2}}]},
]


def rows(db: Path) -> dict[str, list]:
    """Every row of every real table (the search index's shadow tables too), without the times."""
    conn = sqlite3.connect(db)
    try:
        out = {}
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE TABLE%'").fetchall()
        for (name,) in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")') if r[1] not in ("created_at", "completed_at")]
            selected = ", ".join(f'"{c}"' for c in columns)
            out[name] = sorted(conn.execute(f'SELECT {selected} FROM "{name}"').fetchall(), key=repr)
        return out
    finally:
        conn.close()


def articles(tmp_path: Path, copies: int = 1) -> list[Path]:
    """The news sample and the seed article; ``copies`` > 1 adds editions (own hashes) of each."""
    sources = [SEED, *sorted(shared_data("news").glob("*.txt"))]
    if copies == 1:
        return sources
    folder = tmp_path / "articles"
    folder.mkdir()
    for edition in range(copies):
        for path in sources:
            lines = path.read_text(encoding="utf-8").split("\n", 1)
            text = lines[0] + (f" (edition {edition})" if edition else "") + "\n" + (lines[1] if len(lines) > 1 else "")
            (folder / f"{edition:02d}-{path.name}").write_text(text, encoding="utf-8")
    return [folder]


# -- addresses and a missing Dask: no cluster needed -------------------------------------------------


def test_addresses():
    assert parse_address("local:2") == Address(local_workers=2)
    assert parse_address(" local:16 ") == Address(local_workers=16)
    assert parse_address("tcp://10.0.0.5:8786") == Address(scheduler="tcp://10.0.0.5:8786")
    assert parse_address("scheduler.lan:8786") == Address(scheduler="scheduler.lan:8786")
    for bad in ("local:0", "local:", "local:x", "local", "tcp://host", "http://host:8786/path", "nowhere", ""):
        with pytest.raises(ClusterError):
            parse_address(bad)


@pytest.mark.parametrize("address", ["local:0", "nowhere"])
def test_a_bad_address_is_one_line_and_exit_2(tmp_path, address):
    db = tmp_path / "x.db"
    result = run_cli("import", "news", str(SEED), "--db", str(db), "--no-model", "--cluster", address)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "--cluster" in result.stderr and not db.exists()


def test_without_dask_the_flag_says_how_to_install_it(tmp_path):
    db = tmp_path / "x.db"
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['dask.distributed'] = None\n"
        "from annotator.cli import main\n"
        f"sys.argv = ['annotator', 'import', 'news', {str(SEED)!r}, '--db', {str(db)!r}, '--no-model', '--cluster', 'local:2']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["annotator: --cluster needs Dask, which is not installed: pip install 'annotator[cluster]'"]
    assert not db.exists()
    # the same interpreter without Dask imports the core and runs a local import
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['dask.distributed'] = None\n"
        "import annotator.cluster, annotator.importer\n"
        "from annotator.cli import main\n"
        f"sys.argv = ['annotator', 'import', 'news', {str(SEED)!r}, '--db', {str(db)!r}, '--no-model']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "imported 1 article" in result.stdout


# -- on a LocalCluster of two worker processes ------------------------------------------------------


@pytest.fixture(scope="module")
def fault_marker(tmp_path_factory) -> Path:
    """While this file exists the workers' fault hook is disarmed; delete it to kill one worker."""
    marker = tmp_path_factory.mktemp("fault") / "killed"
    marker.touch()
    return marker


@pytest.fixture(scope="module")
def client(fault_marker):
    distributed = pytest.importorskip("dask.distributed")
    import logging

    before = os.environ.get(FAULT_ENV)
    os.environ[FAULT_ENV] = f"exit-once:{fault_marker}"  # inherited by the worker processes
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                      silence_logs=logging.ERROR) as local, distributed.Client(local) as c:
            yield c
    finally:
        if before is None:
            os.environ.pop(FAULT_ENV, None)
        else:
            os.environ[FAULT_ENV] = before


@pytest.fixture(scope="module")
def news_scheme(tmp_path_factory):
    """The default scheme (its patterns make the import's suggestions)."""
    from annotator.labels import load_scheme

    return load_scheme(ROOT / "labels.yaml")


def import_db(path: Path, files, scheme, cluster=None, batch_articles: int = 4, dataset: str = "news") -> Path:
    from annotator.cluster import Cluster
    from annotator.importer import SuggestOptions, expand_paths, import_files
    from annotator.store import Store

    with Store(path) as store:
        import_files(store, dataset, expand_paths(files), scheme, suggest=SuggestOptions(use_model=False),
                     cluster=Cluster(cluster, batch_articles=batch_articles) if cluster is not None else None)
    return path


@pytest.fixture(scope="module")
def local_import(tmp_path_factory, news_scheme) -> Path:
    """The news sample imported by one local process (patterns)."""
    path = tmp_path_factory.mktemp("local") / "local.db"
    return import_db(path, articles(path.parent), news_scheme)


def test_import_on_the_cluster_writes_what_a_local_run_writes(tmp_path, client, news_scheme, local_import):
    from annotator import cluster as cluster_module

    before = client.run(cluster_module.loads)
    db = import_db(tmp_path / "cluster.db", articles(tmp_path), news_scheme, cluster=client, batch_articles=3)
    expected = rows(local_import)
    assert expected["articles"] and expected["sentences"] and expected["suggestions"]
    assert any(row[3] not in ("[]", None) for row in expected["suggestions"])  # spans were suggested
    assert rows(db) == expected
    # each worker built the pipeline once for this run, not once per batch (9 batches)
    after = client.run(cluster_module.loads)
    new = {worker: {k: n - before.get(worker, {}).get(k, 0) for k, n in counts.items()} for worker, counts in after.items()}
    built = [n for counts in new.values() for n in counts.values() if n]
    assert built and all(n == 1 for n in built)
    # importing again on the cluster adds nothing (idempotent by content hash)
    import_db(db, articles(tmp_path), news_scheme, cluster=client, batch_articles=3)
    assert rows(db) == expected


def test_cluster_import_cli_equals_local_cli(tmp_path, ruler_model):
    """The whole command with a pipeline (nlp.pipe on the workers) and the scheme's patterns."""
    pytest.importorskip("dask.distributed")
    news = shared_data("news")
    local, cluster = tmp_path / "local.db", tmp_path / "cluster.db"
    command = ["import", "news", str(news), str(SEED), "--model", str(ruler_model)]
    assert run_cli(*command, "--db", str(local)).returncode == 0
    result = run_cli(*command, "--db", str(cluster), "--cluster", "local:2", "--cluster-batch", "5")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert rows(cluster) == rows(local)


def test_a_worker_killed_mid_run_has_its_batch_recomputed(tmp_path, client, news_scheme, local_import, fault_marker):
    fault_marker.unlink()  # armed: the first task to run kills its worker process
    workers_before = set(client.scheduler_info()["workers"])
    db = import_db(tmp_path / "cluster.db", articles(tmp_path), news_scheme, cluster=client, batch_articles=3)
    assert fault_marker.exists()  # a worker did die
    client.wait_for_workers(2, timeout=60)  # its nanny restarted it
    assert set(client.scheduler_info()["workers"]) != workers_before
    got = rows(db)
    assert got == rows(local_import)  # nothing lost, nothing written twice
    sentence_ids = [row[0] for row in got["sentences"]]
    assert len(sentence_ids) == len(set(sentence_ids))
    hashes = [row[5] for row in got["articles"]]
    assert len(hashes) == len(set(hashes))


@pytest.fixture(scope="module")
def ruler_model(tmp_path_factory) -> Path:
    """A pipeline folder: spacy.blank("en") + an entity ruler with patterns frequent in the news."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(NEWS_PATTERNS)
    path = tmp_path_factory.mktemp("model") / "ruler"
    nlp.to_disk(path)
    return path


def test_suggest_on_the_cluster_writes_what_a_local_run_writes(tmp_path, client, news_scheme, local_import, ruler_model):
    import shutil

    from annotator.cluster import Cluster
    from annotator.resuggest import suggest_dataset
    from annotator.store import Store

    results = {}
    for name, cluster in (("local", None), ("cluster", Cluster(client))):
        db = tmp_path / f"{name}.db"
        shutil.copy(local_import, db)
        with Store(db) as store:
            results[name] = suggest_dataset(store, "news", news_scheme, str(ruler_model), name="ruler",
                                            batch_size=16, cluster=cluster)
    assert results["cluster"] == results["local"] and results["local"].spans > 100
    assert rows(tmp_path / "cluster.db") == rows(tmp_path / "local.db")


def _count(db: Path, table: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_a_client_killed_mid_import_continues_on_rerun(tmp_path):
    pytest.importorskip("dask.distributed")
    files = articles(tmp_path, copies=2)
    local, db = tmp_path / "local.db", tmp_path / "cluster.db"
    command = ["import", "news", *map(str, files), "--no-model"]
    assert run_cli(*command, "--db", str(local)).returncode == 0
    total = _count(local, "articles")
    env = {k: v for k, v in os.environ.items() if k != "ANNOTATOR_DB"}
    child = subprocess.Popen([sys.executable, "-m", "annotator", *command, "--db", str(db), "--cluster", "local:2",
                              "--cluster-batch", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _count(db, "articles") < 5 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)  # the client, as a crash would: its workers are orphaned
        child.wait()
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the orphaned LocalCluster processes of that run
        except ProcessLookupError:
            pass
    committed = _count(db, "articles")
    assert 5 <= committed < total, "the run was not killed mid-way"
    again = run_cli(*command, "--db", str(db), "--cluster", "local:2")
    assert again.returncode == 0, again.stderr
    assert f"imported {total - committed} articles" in again.stdout
    assert rows(db) == rows(local)


def test_suggest_stopped_mid_run_on_the_cluster_continues_on_rerun(tmp_path, client, news_scheme, local_import, ruler_model):
    """The writer stops after its third transaction (as a killed client would); the rerun on the
    cluster goes through the sentences that lack a row of the source and ends where a local run ends."""
    import shutil

    from annotator.cluster import Cluster
    from annotator.resuggest import suggest_dataset
    from annotator.store import Store

    class Stopped(Exception):
        pass

    local, db = tmp_path / "local.db", tmp_path / "cluster.db"
    for path in (local, db):
        shutil.copy(local_import, path)
    with Store(local) as store:
        suggest_dataset(store, "news", news_scheme, str(ruler_model), name="ruler", batch_size=16)
    flushes = []

    def stop_after_three(n):
        flushes.append(n)
        if len(flushes) == 3:
            raise Stopped

    with Store(db) as store, pytest.raises(Stopped):
        suggest_dataset(store, "news", news_scheme, str(ruler_model), name="ruler", batch_size=16,
                        on_advance=stop_after_three, cluster=Cluster(client))
    with Store(db) as store:
        again = suggest_dataset(store, "news", news_scheme, str(ruler_model), name="ruler", batch_size=16,
                                cluster=Cluster(client))
    assert again.before == 48 and again.complete
    assert rows(db) == rows(local)
