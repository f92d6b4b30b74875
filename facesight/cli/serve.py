"""``facesight serve``: the review workspace in a browser (parse, start, print its URL)."""

from __future__ import annotations

import socket

import click

from facesight.cli.common import console
from facesight.config import resolve_library
from facesight.errors import FaceSightError
from facesight.location import redact_url

__all__ = ["COMMANDS"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0: any free port.",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark cookies Secure: the app is reached over HTTPS through a TLS reverse proxy.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Allow an address other than loopback without --secure-cookies (cookies in clear).",
)
@click.option(
    "--session-idle-minutes",
    type=click.FloatRange(1, min_open=False),
    default=30,
    show_default=True,
    help="A browser session ends after this long without a request.",
)
@click.option(
    "--session-hours",
    type=click.FloatRange(0.1),
    default=12,
    show_default=True,
    help="A browser session ends this long after signing in, however busy.",
)
@click.option(
    "--trusted-proxy",
    metavar="IP",
    help="The reverse proxy's address: its X-Forwarded-For names the client (login limits).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    secure_cookies: bool,
    insecure: bool,
    session_idle_minutes: float,
    session_hours: float,
    trusted_proxy: str | None,
) -> None:
    """Serve the review workspace for an existing library (sign in with `facesight users add`).

    \b
    Example:
        facesight users add alice --role admin
        facesight serve            # then open the printed URL
    """
    import uvicorn

    from facesight.web.app import create_app
    from facesight.web.settings import ServeSettings

    opts = ctx.obj
    location = resolve_library(opts["library"])
    try:
        settings = ServeSettings(
            library=location,
            host=host,
            port=port,
            secure_cookies=secure_cookies,
            insecure=insecure,
            idle_timeout_s=session_idle_minutes * 60,
            absolute_timeout_s=session_hours * 3600,
            library_options={
                "max_pixels": opts["max_pixels"],
                "max_distance": opts["max_distance"],
                "target_fpir": opts["target_fpir"],
                "device": opts["device"],
            },
        )
        app = create_app(settings)
    except FaceSightError as error:
        raise click.ClickException(str(error)) from error
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from error
    bound = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    scheme = "https" if secure_cookies else "http"
    where = redact_url(str(location))
    console(stderr=True).print(f"serving the library {where}", markup=False)
    if secure_cookies:
        console(stderr=True).print(
            "cookies are Secure: open it through your TLS proxy's https:// address", markup=False
        )
    click.echo(f"{scheme}://{shown_host}:{bound}/", err=False)
    config = uvicorn.Config(
        app,
        log_level="warning",
        proxy_headers=trusted_proxy is not None,
        forwarded_allow_ips=trusted_proxy or "",
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


COMMANDS = [serve]
