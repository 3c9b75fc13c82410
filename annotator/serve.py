"""``annotator serve``: the annotate and review screens in the browser, one process per connection.

textual-serve does the terminal in the page (xterm.js and its assets ship in the package; nothing
is fetched from elsewhere) and runs a command per websocket (``AppService``). This module puts
access control in front of both the page and the websocket:

- ``GET /?token=T`` (annotators) and ``GET /review?token=T`` (reviewers) look the token up among
  the tokens made for this run (``--annotators``) and the dataset's users in the database
  (``annotator user add``), comparing hashes in constant time. A wrong, missing or other-dataset
  token gets a 403 page after a delay; an address with too many recent failures gets 429 without
  its token being looked at. A good token gets the page, which holds a one-use ticket for the
  websocket (valid for ``TICKET_SECONDS``).
- ``GET /ws/{ticket}`` starts the app only for an unused, unexpired ticket; anything else is
  refused before the websocket is upgraded, so no process starts and nothing is written.
- Each websocket runs ``python -m annotator.tui.serve_app`` with the user's name, role and the
  dataset as arguments (the token never leaves the server), so decisions are stored under the
  name the token belongs to and nobody can write as someone else.

The server logs one line per connection (who, from where; and when it ends), refuses connections
beyond ``max_sessions``, and on SIGTERM or ctrl+c tells every app to quit (each decision is
committed when it is made, unsaved edits are drafts) before it exits. This module is part of the
headless core: it imports neither Textual nor the TUI (the app runs in the child process).
"""

from __future__ import annotations

import asyncio
import html
import secrets
import shlex
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web
from rich.console import Console
from rich.text import Text
from textual_serve.app_service import AppService
from textual_serve.server import Server

from .store import Store
from .store.users import User, matching_user, new_token, token_hash, users

TICKET_SECONDS = 60.0
"""How long the websocket ticket of a page stays valid (it is used once, right after loading)."""

STOP_SECONDS = 10.0
"""How long the server waits for each app to quit at shutdown before it kills the process."""


def client_address(remote: str | None, forwarded_for: str | None, trusted_proxies: frozenset[str]) -> str:
    """The address a request comes from: the peer's, or -- when the peer is one of
    ``trusted_proxies`` and sent ``X-Forwarded-For`` -- the rightmost address in that header that
    is not a trusted proxy itself (the one our proxy saw; addresses further left are whatever the
    client chose to send, so they are never believed)."""
    peer = remote or "?"
    if peer not in trusted_proxies or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return peer


@dataclass
class Session:
    """One connected browser: its app process and who it is."""

    user: User
    """Whose decisions the app writes."""
    remote: str
    """The peer address of the connection."""
    started: float = field(default_factory=time.monotonic)
    """When the websocket opened (monotonic)."""
    service: AppService | None = None
    """The app process (textual-serve's ``AppService``), once started."""
    websocket: web.WebSocketResponse | None = None
    """The browser's websocket."""


class FailureLimiter:
    """Slows down and then stops repeated failures from one address: every failure is answered
    after ``delay`` seconds, and an address with ``limit`` failures in the last ``window`` seconds
    is refused (429) without its token being looked at until the window has passed."""

    def __init__(self, *, delay: float = 1.0, limit: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.delay = delay
        """Seconds before a failure is answered."""
        self.limit = limit
        """Failures within ``window`` after which an address is refused."""
        self.window = window
        """Seconds a failure counts for."""
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        now = self._clock()
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def blocked(self, address: str) -> bool:
        """True when ``address`` has used up its failures for now."""
        return len(self._recent(address)) >= self.limit

    async def failed(self, address: str) -> None:
        """Count a failure and wait ``delay`` before the answer goes out."""
        self._failures.setdefault(address, deque()).append(self._clock())
        if self.delay > 0:
            await asyncio.sleep(self.delay)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="stylesheet" href="{static}css/xterm.css">
<script src="{static}js/textual.js"></script>
<style>
@font-face {{ font-family: "Roboto Mono"; src: url("{static}fonts/RobotoMono-VariableFont_wght.ttf"); }}
html, body {{ margin: 0; height: 100%; background: #0c181f; }}
#terminal {{ position: absolute; inset: 0; }}
.notice {{ display: none; position: absolute; inset: 0; align-items: center; justify-content: center;
  flex-direction: column; color: #eee; font-family: "Roboto Mono", monospace; z-index: 10; background: #0c181f; }}
body.-closed .notice {{ display: flex; }}
.notice button {{ margin-top: 16px; padding: 12px 28px; border: none; background: #5e0ba7; color: #fff; font: inherit; cursor: pointer; }}
</style>
</head>
<body>
<div class="notice"><div>Session ended: every decision shown as saved is in the database.</div>
<button type="button" onclick="window.location.reload()">Open again</button></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{websocket}" data-font-size="{font_size}"></div>
</body>
</html>
"""

_REFUSAL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>{title}</title>
<style>body {{ background: #0c181f; color: #eee; font-family: monospace; padding: 3em; }}</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""

_SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",  # the page's address holds the token
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def _refusal(status: type[web.HTTPException], title: str, message: str) -> web.HTTPException:
    body = _REFUSAL.format(title=html.escape(title), message=html.escape(message))
    return status(text=body, content_type="text/html", headers=_SECURITY_HEADERS)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


class AnnotatorServer(Server):
    """textual-serve's server with tokens in front of the page and the websocket, one
    ``annotator.tui.serve_app`` process per connection, a session limit and a clean stop."""

    def __init__(
        self,
        db_path: str | Path,
        dataset: str,
        *,
        labels_path: str | Path | None = None,
        run_users: list[User] = (),  # type: ignore[assignment]
        host: str = "127.0.0.1",
        port: int = 8000,
        public_url: str | None = None,
        max_sessions: int = 20,
        suggest: bool = True,
        limiter: FailureLimiter | None = None,
        console: Console | None = None,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        super().__init__(command="", host=host, port=port, title=f"annotator · {dataset}", public_url=public_url)
        self.public_url = public_url.rstrip("/") if public_url else None  # type: ignore[assignment]
        """The address people use (``https://…`` behind a TLS proxy); None: this server's own."""
        self.db_path = str(Path(db_path).resolve())
        """The database file; each app opens its own connection on it."""
        self.dataset = dataset
        """The one dataset this server opens."""
        self.labels_path = str(labels_path) if labels_path else None
        """The label scheme each app loads (None: the default lookup)."""
        self.run_users = list(run_users)
        """Users whose tokens were made for this run (``--annotators``/``--reviewers``), hashed."""
        self.max_sessions = max_sessions
        """Connections at most at once."""
        self.suggest = suggest
        """Whether the annotate app makes suggestions on the fly (a spaCy process per connection)."""
        self.limiter = limiter or FailureLimiter()
        """Delay and limit for failed tokens and tickets."""
        self.trusted_proxies = frozenset(trusted_proxies)
        """Peer addresses whose ``X-Forwarded-For`` names the client (see ``client_address``)."""
        self.console = console or Console(highlight=False)
        """Where the log lines go (Rich)."""
        self.sessions: dict[int, Session] = {}
        """The connected browsers, by id."""
        self._tickets: dict[str, tuple[User, float]] = {}
        self._next_session = 1
        self._closing: set[asyncio.Future] = set()
        self._stopping = False
        self.bound_port: int | None = None
        """The port actually listened on (``port=0`` picks a free one)."""

    # -- who is asking -------------------------------------------------------------------------

    def _dataset_users(self) -> list[User]:
        """This run's users and the dataset's users in the database, read on every request (so
        ``annotator user add``/``remove`` take effect at once)."""
        with Store(self.db_path, create=False, readonly=True) as store:
            return self.run_users + users(store, self.dataset)

    def log(self, message: str, style: str = "") -> None:
        """One log line with the time; user text is never read as markup."""
        line = Text(time.strftime("%Y-%m-%d %H:%M:%S "), style="dim")
        line.append(message, style=style)
        self.console.print(line)

    def _remote(self, request: web.Request) -> str:
        """Who is asking: the client's address (through a trusted proxy too), for the limiter and the log."""
        return client_address(request.remote, request.headers.get("X-Forwarded-For"), self.trusted_proxies)

    async def _authenticate(self, request: web.Request) -> User:
        """The user of the request's token, or an HTTP refusal (after the failure delay)."""
        remote = self._remote(request)
        if self.limiter.blocked(remote):
            self.log(f"refused {request.path} from {remote}: too many failed attempts", "red")
            raise _refusal(web.HTTPTooManyRequests, "Too many attempts", "Too many failed attempts from your address: wait a minute and use the link you were given.")
        token = request.query.get("token", "")
        user = matching_user(await asyncio.to_thread(self._dataset_users), token) if token else None
        if user is None:
            self.log(f"refused {request.path} from {remote}: {'wrong' if token else 'no'} token", "red")
            await self.limiter.failed(remote)
            raise _refusal(web.HTTPForbidden, "No access", "This link has no valid token for this dataset. Ask whoever runs the server for your link.")
        return user

    def _full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    # -- aiohttp ----------------------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application()
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/review", self.handle_index, name="review"),
            web.get("/ws", self.handle_websocket),
            web.get("/ws/{ticket}", self.handle_websocket, name="websocket"),
            web.get("/favicon.ico", self.handle_favicon),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    def _base_url(self, request: web.Request) -> str:
        return self.public_url or f"{request.scheme}://{request.host}"

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        """The page: the terminal and a one-use websocket ticket, for a valid token only."""
        user = await self._authenticate(request)
        wants_review = request.path.rstrip("/").endswith("/review")
        if user.role == "reviewer" and not wants_review:
            raise web.HTTPSeeOther(f"review?token={request.query['token']}", headers=_SECURITY_HEADERS)
        if user.role != "reviewer" and wants_review:
            self.log(f"refused /review for {user.name} (an annotator) from {self._remote(request)}", "red")
            raise _refusal(web.HTTPForbidden, "No access", "This link opens the annotate screen, not the review.")
        if self._full():
            raise _refusal(web.HTTPServiceUnavailable, "Server full", f"All {self.max_sessions} sessions are in use: try again later.")
        self._expire_tickets()
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = (user, time.monotonic() + TICKET_SECONDS)
        base = self._base_url(request)
        websocket = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1] + f"/ws/{ticket}"
        font_size = request.query.get("fontsize", "16")
        page = _PAGE.format(
            title=html.escape(f"annotator · {self.dataset} · {user.name}"),
            static=html.escape(f"{base}/static/"),
            websocket=html.escape(websocket),
            font_size=int(font_size) if font_size.isdigit() and 6 <= int(font_size) <= 48 else 16,
        )
        return web.Response(text=page, content_type="text/html", headers=_SECURITY_HEADERS)

    async def handle_favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    def _expire_tickets(self) -> None:
        now = time.monotonic()
        for ticket in [t for t, (_user, until) in self._tickets.items() if until < now]:
            del self._tickets[ticket]

    def child_command(self, user: User) -> str:
        """The shell command of one connection's app: who it is comes as arguments (no secret)."""
        args = [sys.executable, "-m", "annotator.tui.serve_app", "--db", self.db_path, "--dataset", self.dataset,
                "--user", user.name, "--role", user.role]
        if self.labels_path:
            args += ["--labels", self.labels_path]
        if not self.suggest:
            args.append("--no-suggest")
        return "exec " + " ".join(shlex.quote(arg) for arg in args)  # exec: the app is the server's own child

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:  # type: ignore[override]
        """Start the user's app for an unused ticket; refuse anything else before the upgrade."""
        remote = self._remote(request)
        if self.limiter.blocked(remote):
            self.log(f"refused websocket from {remote}: too many failed attempts", "red")
            raise web.HTTPTooManyRequests()
        self._expire_tickets()
        entry = self._tickets.pop(request.match_info.get("ticket", ""), None)
        if entry is None:
            self.log(f"refused websocket from {remote}: no valid ticket", "red")
            await self.limiter.failed(remote)
            raise web.HTTPForbidden()
        user = entry[0]
        if self._full() or self._stopping:
            self.log(f"refused {user.name} from {remote}: {'stopping' if self._stopping else 'all sessions in use'}", "yellow")
            raise web.HTTPServiceUnavailable()
        session_id = self._next_session
        self._next_session += 1
        session = self.sessions[session_id] = Session(user, remote)
        websocket = session.websocket = web.WebSocketResponse(heartbeat=15)
        width = _size(request.query.get("width"), 80)
        height = _size(request.query.get("height"), 24)
        self.log(f"{user.name} ({user.role}) connected from {remote} · {len(self.sessions)} of {self.max_sessions} sessions", "green")
        try:
            await websocket.prepare(request)
            session.service = AppService(
                self.child_command(user),
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=False,
            )
            await session.service.start(width, height)
            self._close_when_app_ends(session.service, websocket)
            await self._process_messages(websocket, session.service)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # one broken connection must not take the server down
            self.log(f"{user.name}: connection failed: {exc}", "red")
        finally:
            # aiohttp cancels this handler when the browser goes away: the app is stopped in a task
            # of its own (kept in _closing), so cancelling the handler cannot leave it running.
            closing = asyncio.ensure_future(self._end_session(session_id, session))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            try:
                await asyncio.shield(closing)
            except asyncio.CancelledError:
                pass
        return websocket

    def _close_when_app_ends(self, service: AppService, websocket: web.WebSocketResponse) -> None:
        """An app that ends without saying so (it failed to start, or crashed) closes the page's
        websocket too, so the page says the session ended instead of staying blank."""
        app_task = service._task
        if app_task is None:
            return

        def ended(_task: asyncio.Future) -> None:
            if not websocket.closed:
                closing = asyncio.ensure_future(websocket.close())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

        app_task.add_done_callback(ended)

    async def _end_session(self, session_id: int, session: Session) -> None:
        try:
            await self._stop_session(session)
        finally:
            self.sessions.pop(session_id, None)
            self.log(f"{session.user.name} disconnected from {session.remote} after {_duration(time.monotonic() - session.started)}")

    async def _stop_session(self, session: Session) -> None:
        """Tell the app to quit and wait for it (its decisions are committed already); kill it
        when it does not go within ``STOP_SECONDS``."""
        service = session.service
        if service is None:
            return
        process = service._process

        async def quit_app() -> None:
            await service.stop()  # sends "quit"; returns when the app's output ends
            if process is not None:
                await process.wait()

        try:
            await asyncio.wait_for(asyncio.shield(quit_app()), STOP_SECONDS)
        except (asyncio.TimeoutError, Exception):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
                self.log(f"{session.user.name}: the app did not quit in time and was killed", "red")
        if session.websocket is not None and not session.websocket.closed:
            await session.websocket.close()

    async def on_shutdown(self, app: web.Application) -> None:  # type: ignore[override]
        """Every connected app is told to quit, and waited for, before the server exits."""
        self._stopping = True
        if self.sessions:
            self.log(f"stopping: telling {len(self.sessions)} session(s) to quit")
        await asyncio.gather(*(self._stop_session(s) for s in list(self.sessions.values())))
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)

    # -- running -------------------------------------------------------------------------------------

    async def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Listen until SIGTERM or SIGINT, then stop every session and return. ``on_ready`` gets
        the base URL once the port is bound."""
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)  # access logs would hold tokens
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.bound_port = _bound_port(runner, self.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            if on_ready is not None:
                on_ready(self.local_url)
            await stop.wait()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await runner.cleanup()
            self.log("stopped")

    @property
    def local_url(self) -> str:
        """The address people use: the public URL when given, else this server's own."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.bound_port or self.port}"

    def serve(self, debug: bool = False, on_ready: Callable[[str], None] | None = None) -> None:  # type: ignore[override]
        asyncio.run(self.run(on_ready))


def _size(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and 1 <= int(value) <= 1000 else default


def _bound_port(runner: web.AppRunner, wanted: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return wanted


def run_users(dataset: str, annotators: list[str], reviewers: list[str]) -> tuple[list[User], dict[str, str]]:
    """Users with fresh tokens for this run only: (hashed users, name → token to print)."""
    made: list[User] = []
    tokens: dict[str, str] = {}
    for role, names in (("annotator", annotators), ("reviewer", reviewers)):
        for name in names:
            token = new_token()
            made.append(User(name, role, dataset, token_hash(token)))
            tokens[name] = token
    return made, tokens


def user_url(base: str, role: str, token: str) -> str:
    """The link a user opens: ``BASE/?token=T`` (annotators) or ``BASE/review?token=T`` (reviewers)."""
    return f"{base.rstrip('/')}/{'review' if role == 'reviewer' else ''}?token={token}"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    return host in ("localhost", "::1") or host.startswith("127.")


def public_url_problem(url: str) -> str | None:
    """Why ``--public-url`` is not usable, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"--public-url must be an http:// or https:// address, not {url!r}"
    if parts.query or parts.fragment:
        return f"--public-url must have no query or fragment: {url!r}"
    return None
