"""``annotator serve`` (the screens in the browser) and ``annotator user add|remove|list`` (who may
open a dataset there). The server is :mod:`annotator.serve`; aiohttp and textual-serve are
imported only by ``serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import DatasetError
from . import DbOption, LabelsOption, _store, app, validate_name

user_app = typer.Typer(help="Who may open a dataset in the browser (`annotator serve`).", no_args_is_help=True)
app.add_typer(user_app, name="user")

RoleOption = typer.Option("annotator", "--role", help="'annotator' (the annotate screen) or 'reviewer' (the review screen).")
UrlOption = typer.Option("http://127.0.0.1:8000", "--url", help="The server's address, to print the link with.")


def _names(kind: str, value: Optional[str]) -> list[str]:
    names = [validate_name(kind, n.strip()) for n in value.split(",") if n.strip()] if value else []
    if len(set(names)) != len(names):
        raise DatasetError(f"--{kind}s names someone twice: {value}")
    return names


def _addresses(value: Optional[str]) -> list[str]:
    """``--trusted-proxy`` as a list of IP addresses; one line and exit 2 for anything else."""
    import ipaddress

    found = [a.strip() for a in value.split(",") if a.strip()] if value else []
    for address in found:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise DatasetError(f"--trusted-proxy: {address!r} is not an IP address") from None
    return found


@app.command("serve")
def serve_command(
    dataset: str = typer.Argument(..., help="Dataset to serve."),
    annotators: Optional[str] = typer.Option(None, "--annotators", help="Comma-separated names: one link with a fresh token each (valid while this server runs)."),
    reviewers: Optional[str] = typer.Option(None, "--reviewers", help="Comma-separated names: review links with a fresh token each."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; the default is reachable from this machine only (0.0.0.0: every interface, put TLS in front)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port (0: a free one)."),
    public_url: Optional[str] = typer.Option(None, "--public-url", help="The address people use, e.g. https://annotate.example.org behind a TLS reverse proxy."),
    max_sessions: int = typer.Option(20, "--max-sessions", min=1, help="Connections at most at once (each is one app process)."),
    trusted_proxy: Optional[str] = typer.Option(None, "--trusted-proxy", help="Comma-separated addresses of your reverse proxy (e.g. 127.0.0.1): requests from them are counted by the client address in their X-Forwarded-For."),
    no_suggest: bool = typer.Option(False, "--no-suggest", help="No suggestions on the fly (no spaCy process per connection)."),
    labels: Optional[Path] = LabelsOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Serve the annotate screen (and /review for reviewers) in the browser; each person's link has their own token."""
    from rich.text import Text

    from ..serve import AnnotatorServer, is_loopback, public_url_problem, run_users, user_url
    from ..store.users import users
    from . import _scheme
    from .render import console

    validate_name("dataset", dataset)
    annotator_names, reviewer_names = _names("annotator", annotators), _names("reviewer", reviewers)
    both = set(annotator_names) & set(reviewer_names)
    if both:
        raise DatasetError(f"{', '.join(sorted(both))} cannot be both annotator and reviewer in one run")
    if public_url and (problem := public_url_problem(public_url)):
        raise DatasetError(problem)
    proxies = _addresses(trusted_proxy)
    scheme = _scheme(labels)
    with _store(db) as store:
        path = store.path
        count = store.sentence_count(store.dataset(dataset).name)
        stored = users(store, dataset)
    if count == 0:
        raise DatasetError(f"dataset {dataset!r} has no sentences yet (import some articles first)")
    if not annotator_names and not reviewer_names and not stored:
        raise DatasetError(
            f"nobody could open dataset {dataset!r}: give --annotators NAME,… or add users with `annotator user add`"
        )
    made, tokens = run_users(dataset, annotator_names, reviewer_names)
    out = console()
    server = AnnotatorServer(
        path, dataset, labels_path=scheme.path, run_users=made, host=host, port=port, public_url=public_url,
        max_sessions=max_sessions, suggest=not no_suggest, console=out, trusted_proxies=proxies,
    )

    def ready(base: str) -> None:
        out.print(Text(f"Serving {dataset} ({count} sentences) on {base} · ctrl+c stops", style="bold"))
        for user in made:
            out.print(Text(f"{user.name} ({user.role}): {user_url(base, user.role, tokens[user.name])}"))
        if stored:
            out.print(Text(f"and {len(stored)} user(s) of the database with their own links: {', '.join(u.name for u in stored)}"))
        if not is_loopback(host) and not (public_url or "").startswith("https:"):
            out.print(Text("warning: tokens travel unencrypted: put the server behind a TLS proxy (see README) and give --public-url https://…", style="yellow"))

    try:
        server.serve(on_ready=ready)
    except OSError as exc:
        raise DatasetError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@user_app.command("add")
def user_add_command(
    name: str = typer.Argument(..., help="The name decisions are stored under."),
    dataset: str = typer.Option(..., "--dataset", help="The dataset the token opens."),
    role: str = RoleOption,
    url: str = UrlOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Add a user to a dataset and print their token and link (shown once; stored hashed)."""
    from rich.text import Text

    from ..serve import user_url
    from ..store.users import add_user
    from .render import console

    validate_name("user", name)
    with _store(db) as store:
        token = add_user(store, dataset, name, role)
    out = console()
    out.print(Text(f"{name} ({role}) may open {dataset}. Token (shown only now): {token}"))
    out.print(Text(f"link: {user_url(url, role, token)}"))


@user_app.command("remove")
def user_remove_command(
    name: str = typer.Argument(..., help="The user to remove (their decisions stay)."),
    dataset: str = typer.Option(..., "--dataset", help="The dataset."),
    db: Optional[Path] = DbOption,
) -> None:
    """Remove a user: their token opens nothing from now on (a running server checks on every page)."""
    from rich.text import Text

    from ..store.users import remove_user
    from .render import console

    with _store(db) as store:
        remove_user(store, dataset, name)
    console().print(Text(f"{name} removed from {dataset}"))


@user_app.command("list")
def user_list_command(
    dataset: str = typer.Option(..., "--dataset", help="The dataset."),
    db: Optional[Path] = DbOption,
) -> None:
    """The users who may open a dataset in the browser, and their roles."""
    from rich.text import Text

    from ..store.users import users
    from .render import console

    with _store(db) as store:  # not read-only: an older database gains its users table on open
        found = users(store, dataset)
    out = console()
    for user in found:
        out.print(Text(f"{user.name}\t{user.role}"))
    if not found:
        out.print(Text(f"no users in {dataset} (add one with `annotator user add NAME --dataset {dataset}`)"))
