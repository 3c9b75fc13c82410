"""Shared fixtures: paths to the sample data (skip when absent) and small stores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SEED = ROOT / "examples" / "ukraine-long-range-weapons.txt"

os.environ.setdefault("HYPOTHESIS_PROFILE", "ci")
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample data {path} is absent (tests read ../shared/data in place)")
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m annotator ARGS`` in a subprocess and capture its output."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("ANNOTATOR_DB", None) if env is None or "ANNOTATOR_DB" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "annotator", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=300,
    )


def unprivileged_user() -> tuple[int, int] | None:
    """(uid, gid) to run a child as when we are root (root writes read-only files anyway), else our own."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    import pwd

    for name in ("nobody", "daemon"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry.pw_uid, entry.pw_gid
    return None


@pytest.fixture
def unprivileged_folder():
    """``(user, folder)``: an unprivileged (uid, gid) and a fresh folder that user can enter
    (tmp_path may sit under a folder it cannot); skips when there is no such user."""
    import shutil
    import tempfile

    user = unprivileged_user()
    if user is None:
        pytest.skip("no unprivileged user to switch to")
    folder = Path(tempfile.mkdtemp(prefix="annotator-ro-"))
    try:
        folder.chmod(0o755)
        yield user, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


@pytest.fixture
def scheme():
    from annotator.labels import load_scheme

    return load_scheme(ROOT / "labels.yaml")


@pytest.fixture
def store(tmp_db: Path):
    from annotator.store import Store

    with Store(tmp_db) as s:
        yield s


@pytest.fixture
def seeded_store(store, scheme):
    """A store with the seed article imported (patterns only, spacy.blank tokenizer)."""
    from annotator.importer import ArticleImporter, ArticleInput

    store.ensure_dataset("demo")
    ArticleImporter(store, "demo").import_articles([ArticleInput(SEED.read_text(encoding="utf-8"), str(SEED))])
    return store
