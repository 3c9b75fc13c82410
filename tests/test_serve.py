"""``annotator serve`` without a browser: tokens and users (hashed, per dataset), the page and the
websocket refused without a valid token or ticket (no app process, nothing written), the failure
limit, the session limit, and the CLI's checks. The browser tests are in test_serve_browser.py."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("textual_serve")

from aiohttp import WSServerHandshakeError  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from rich.console import Console  # noqa: E402

from annotator.errors import DatasetError  # noqa: E402
from annotator.serve import AnnotatorServer, FailureLimiter, client_address, run_users, user_url  # noqa: E402
from annotator.store import Store  # noqa: E402
from annotator.store.users import add_user, matching_user, remove_user, token_hash, users  # noqa: E402

from .conftest import SEED, run_cli  # noqa: E402


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """The seed article in dataset ``demo`` and an empty dataset ``other``."""
    db = tmp_path_factory.mktemp("serve") / "serve.db"
    assert run_cli("import", "demo", str(SEED), "--db", str(db), "--no-model").returncode == 0
    with Store(db) as store:
        store.ensure_dataset("other")
    return db


def decision_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


# -- users in the database ----------------------------------------------------------------------


def test_tokens_are_stored_hashed_and_open_one_dataset(tmp_path, seeded):
    db = tmp_path / "users.db"
    db.write_bytes(seeded.read_bytes())
    with Store(db) as store:
        token = add_user(store, "demo", "carol", "reviewer")
        other_token = add_user(store, "other", "dave", "annotator")
        demo_users = users(store, "demo")
        assert [(u.name, u.role) for u in demo_users] == [("carol", "reviewer")]
        assert matching_user(demo_users, token).name == "carol"
        assert matching_user(demo_users, other_token) is None  # another dataset's token opens nothing here
        assert matching_user(demo_users, token + "x") is None
        assert matching_user(demo_users, "") is None
        with pytest.raises(DatasetError, match="exists"):
            add_user(store, "demo", "carol", "annotator")
        with pytest.raises(DatasetError, match="unknown role"):
            add_user(store, "demo", "erin", "admin")
        with pytest.raises(DatasetError, match="no dataset"):
            add_user(store, "nope", "erin", "annotator")
        remove_user(store, "demo", "carol")
        assert users(store, "demo") == []
        with pytest.raises(DatasetError, match="no user"):
            remove_user(store, "demo", "carol")
    stored = db.read_bytes() + (Path(str(db) + "-wal").read_bytes() if Path(str(db) + "-wal").exists() else b"")
    assert token.encode() not in stored and other_token.encode() not in stored
    assert token_hash(other_token).encode() in stored


def test_user_commands(tmp_path, seeded):
    db = tmp_path / "cli.db"
    db.write_bytes(seeded.read_bytes())
    added = run_cli("user", "add", "carol", "--dataset", "demo", "--role", "reviewer", "--db", str(db), "--url", "https://annotate.example.org/")
    assert added.returncode == 0, added.stderr
    assert "https://annotate.example.org/review?token=" in added.stdout
    listed = run_cli("user", "list", "--dataset", "demo", "--db", str(db))
    assert listed.stdout.split() == ["carol", "reviewer"]
    again = run_cli("user", "add", "carol", "--dataset", "demo", "--db", str(db))
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    bad_role = run_cli("user", "add", "erin", "--dataset", "demo", "--role", "boss", "--db", str(db))
    assert bad_role.returncode == 2 and "unknown role" in bad_role.stderr
    assert run_cli("user", "remove", "carol", "--dataset", "demo", "--db", str(db)).returncode == 0
    assert "no users" in run_cli("user", "list", "--dataset", "demo", "--db", str(db)).stdout


def test_serve_refuses_what_it_cannot_serve(tmp_path, seeded):
    nobody = run_cli("serve", "demo", "--db", str(seeded), "--port", "0")
    assert nobody.returncode == 2 and "nobody could open" in nobody.stderr
    empty = run_cli("serve", "other", "--annotators", "alice", "--db", str(seeded), "--port", "0")
    assert empty.returncode == 2 and "no sentences" in empty.stderr
    missing = run_cli("serve", "nope", "--annotators", "alice", "--db", str(seeded), "--port", "0")
    assert missing.returncode == 2 and "no dataset" in missing.stderr
    twice = run_cli("serve", "demo", "--annotators", "alice", "--reviewers", "alice", "--db", str(seeded))
    assert twice.returncode == 2 and "both annotator and reviewer" in twice.stderr
    bad_name = run_cli("serve", "demo", "--annotators", "a/b", "--db", str(seeded))
    assert bad_name.returncode == 2 and "invalid annotator name" in bad_name.stderr
    bad_url = run_cli("serve", "demo", "--annotators", "alice", "--public-url", "annotate.example.org", "--db", str(seeded))
    assert bad_url.returncode == 2 and "--public-url" in bad_url.stderr
    bad_proxy = run_cli("serve", "demo", "--annotators", "alice", "--trusted-proxy", "127.0.0.1,proxy.local", "--db", str(seeded))
    assert bad_proxy.returncode == 2 and "--trusted-proxy: 'proxy.local' is not an IP address" in bad_proxy.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = run_cli("serve", "demo", "--annotators", "alice", "--port", port, "--db", str(seeded))
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr and "Traceback" not in busy.stderr


def test_links():
    assert user_url("http://127.0.0.1:8000", "annotator", "T") == "http://127.0.0.1:8000/?token=T"
    assert user_url("https://example.org/annotate/", "reviewer", "T") == "https://example.org/annotate/review?token=T"


def test_failure_limiter_counts_per_address_within_the_window():
    now = [0.0]
    limiter = FailureLimiter(delay=0, limit=3, window=60, clock=lambda: now[0])

    async def fail(address: str, times: int) -> None:
        for _ in range(times):
            await limiter.failed(address)

    asyncio.run(fail("10.0.0.1", 2))
    assert not limiter.blocked("10.0.0.1")
    asyncio.run(fail("10.0.0.1", 1))
    assert limiter.blocked("10.0.0.1") and not limiter.blocked("10.0.0.2")
    now[0] = 61.0
    assert not limiter.blocked("10.0.0.1")


# -- the server in process (aiohttp's test server; no browser, no app started unless allowed) -----


def _server(db: Path, **options) -> tuple[AnnotatorServer, dict[str, str]]:
    made, tokens = run_users("demo", ["alice", "bob"], ["rita"])
    options.setdefault("limiter", FailureLimiter(delay=0, limit=50))
    server = AnnotatorServer(db, "demo", run_users=made, suggest=False, console=Console(file=io.StringIO()), **options)
    return server, tokens


def _run(db: Path, scenario, **options):
    server, tokens = _server(db, **options)

    async def main():
        client = TestClient(TestServer(await server._make_app()))
        await client.start_server()
        try:
            return await scenario(client, tokens, server)
        finally:
            await client.close()

    return asyncio.run(main())


def _ticket(page: str) -> str:
    marker = "/ws/"
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def test_no_token_wrong_token_or_other_dataset_token_get_403_and_no_websocket(tmp_path, seeded):
    db = tmp_path / "refuse.db"
    db.write_bytes(seeded.read_bytes())
    with Store(db) as store:
        other_token = add_user(store, "other", "mallory", "annotator")

    async def scenario(client, tokens, server):
        for query in ("", "?token=", "?token=wrong", f"?token={other_token}", f"?token={tokens['alice']}x"):
            response = await client.get(f"/{query}")
            body = await response.text()
            assert response.status == 403, query
            assert "textual-terminal" not in body and "/ws/" not in body
        for path in ("/ws", "/ws/", "/ws/forged-ticket", f"/ws/{tokens['alice']}", f"/ws?token={tokens['alice']}"):
            with pytest.raises(WSServerHandshakeError) as refused:
                await client.ws_connect(path)
            assert refused.value.status in (403, 404), path
        assert server.sessions == {}

    _run(db, scenario)
    assert decision_count(db) == 0


def test_a_valid_token_gets_a_page_whose_ticket_works_once_and_roles_are_kept(tmp_path, seeded):
    db = tmp_path / "ok.db"
    db.write_bytes(seeded.read_bytes())

    async def scenario(client, tokens, server):
        response = await client.get(f"/?token={tokens['alice']}")
        assert response.status == 200
        assert response.headers["Referrer-Policy"] == "no-referrer"
        page = await response.text()
        assert "annotator · demo · alice" in page and "textual-terminal" in page
        assert "fonts.googleapis" not in page  # nothing fetched from elsewhere
        ticket = _ticket(page)
        socket = await client.ws_connect(f"/ws/{ticket}?width=100&height=30")
        first = await socket.receive(timeout=60)  # the app process started and drew its screen
        assert first.type.name == "BINARY" and first.data
        assert [s.user.name for s in server.sessions.values()] == ["alice"]
        await socket.close()
        with pytest.raises(WSServerHandshakeError) as replayed:  # a ticket opens one websocket only
            await client.ws_connect(f"/ws/{ticket}")
        assert replayed.value.status == 403
        # a reviewer's link opens the review; an annotator's token does not open the review
        review = await client.get(f"/?token={tokens['rita']}", allow_redirects=False)
        assert review.status == 303 and review.headers["Location"].startswith("review?token=")
        assert (await client.get(f"/review?token={tokens['rita']}")).status == 200
        assert (await client.get(f"/review?token={tokens['alice']}")).status == 403
        for _ in range(50):
            if not server.sessions:
                break
            await asyncio.sleep(0.1)
        assert server.sessions == {}

    _run(db, scenario)
    assert decision_count(db) == 0  # opening and closing the page writes nothing


def test_repeated_failures_are_refused_without_looking_at_the_token(tmp_path, seeded):
    async def scenario(client, tokens, server):
        for _ in range(3):
            assert (await client.get("/?token=guess")).status == 403
        assert (await client.get(f"/?token={tokens['alice']}")).status == 429  # even a right token, for a while
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/anything")
        assert refused.value.status == 429

    _run(seeded, scenario, limiter=FailureLimiter(delay=0, limit=3, window=600))


def test_max_sessions_refuses_the_page_beyond_the_limit(tmp_path, seeded):
    async def scenario(client, tokens, server):
        first = await client.get(f"/?token={tokens['alice']}")
        socket = await client.ws_connect(f"/ws/{_ticket(await first.text())}")
        await socket.receive(timeout=60)
        second = await client.get(f"/?token={tokens['bob']}")
        assert second.status == 503 and "1 sessions are in use" in await second.text()
        await socket.close()

    _run(seeded, scenario, max_sessions=1)


def test_behind_a_proxy_the_page_uses_the_public_url(seeded):
    async def scenario(client, tokens, server):
        page = await (await client.get(f"/?token={tokens['alice']}")).text()
        assert 'data-session-websocket-url="wss://annotate.example.org/team/ws/' in page
        assert 'src="https://annotate.example.org/team/static/js/textual.js"' in page
        assert server.local_url == "https://annotate.example.org/team"

    _run(seeded, scenario, public_url="https://annotate.example.org/team/")


def test_an_app_that_fails_closes_its_websocket_and_ends_the_session(seeded, monkeypatch):
    monkeypatch.setattr(AnnotatorServer, "child_command", lambda self, user: "exec false")

    async def scenario(client, tokens, server):
        page = await (await client.get(f"/?token={tokens['alice']}")).text()
        socket = await client.ws_connect(f"/ws/{_ticket(page)}")
        message = await socket.receive(timeout=60)
        assert message.type.name in ("CLOSE", "CLOSED", "CLOSING")
        for _ in range(100):
            if not server.sessions:
                break
            await asyncio.sleep(0.05)
        assert server.sessions == {}

    _run(seeded, scenario)


def test_client_address_believes_x_forwarded_for_only_from_a_trusted_proxy():
    proxies = frozenset({"127.0.0.1", "10.0.0.2"})
    assert client_address("127.0.0.1", "203.0.113.7", proxies) == "203.0.113.7"
    # what the client sent itself is on the left: only the address our proxies saw counts
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.7", proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", "203.0.113.7, 10.0.0.2", proxies) == "203.0.113.7"  # two proxies
    assert client_address("198.51.100.1", "203.0.113.7", proxies) == "198.51.100.1"  # not a proxy of ours
    assert client_address("127.0.0.1", None, proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", "203.0.113.7", frozenset()) == "127.0.0.1"  # none trusted (default)


def test_behind_a_trusted_proxy_failures_count_per_client(tmp_path, seeded):
    async def scenario(client, tokens, server):
        mallory = {"X-Forwarded-For": "203.0.113.66"}
        for _ in range(3):
            assert (await client.get("/?token=guess", headers=mallory)).status == 403
        assert (await client.get(f"/?token={tokens['alice']}", headers=mallory)).status == 429
        # alice comes through the same proxy from her own address: not locked out
        assert (await client.get(f"/?token={tokens['alice']}", headers={"X-Forwarded-For": "198.51.100.5"})).status == 200
        assert "refused / from 203.0.113.66: wrong token" in server.console.file.getvalue()

    _run(seeded, scenario, limiter=FailureLimiter(delay=0, limit=3, window=600), trusted_proxies=["127.0.0.1"])


def test_without_a_trusted_proxy_a_forwarded_header_changes_nothing(tmp_path, seeded):
    async def scenario(client, tokens, server):
        for n in range(3):  # a client cannot escape the limit by naming another address
            assert (await client.get("/?token=guess", headers={"X-Forwarded-For": f"203.0.113.{n}"})).status == 403
        assert (await client.get(f"/?token={tokens['alice']}", headers={"X-Forwarded-For": "198.51.100.5"})).status == 429

    _run(seeded, scenario, limiter=FailureLimiter(delay=0, limit=3, window=600))
