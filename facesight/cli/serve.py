"""``facesight serve``: the review workspace in a browser (parse, start, print its URL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

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
@click.option(
    "--no-worker",
    is_flag=True,
    help="Start no job worker: jobs wait for one started elsewhere (`facesight jobs work`).",
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
    no_worker: bool,
) -> None:
    """Serve the review workspace for an existing library (sign in with `facesight users add`).

    \b
    Example:
        facesight users add alice --role admin
        facesight serve            # then open the printed URL

    It starts one job worker process (`facesight jobs work`, with the same library
    and options) for scans, re-matching and the other background jobs, starts it again
    if it dies, and stops it when it stops (--no-worker: run workers yourself).
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
    worker = None if no_worker else _Worker(opts, str(location))
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if worker is not None:
            worker.stop()


class _Worker:
    """The server's job worker: ``facesight jobs work`` on the same library with the same
    options, told to stop when this process ends (``--parent-pid``), its lines on this
    one's stderr. One that dies (killed, out of memory) is started again, so the job it
    left is resumed (``job_worker.recover``); after ``RESTARTS`` deaths within a minute
    the server goes on without one and says so."""

    RESTARTS = 5

    def __init__(self, opts: dict[str, Any], location: str) -> None:
        command = [sys.executable, "-m", "facesight", "--library", location]
        for option in ("target_fpir", "max_distance", "max_pixels", "device", "user"):
            if opts.get(option) is not None:
                command += [f"--{option.replace('_', '-')}", str(opts[option])]
        self._command = [*command, "jobs", "work", "--parent-pid", str(os.getpid())]
        self._stop = threading.Event()
        self._deaths: list[float] = []
        self.process = self._start()
        self._watch = threading.Thread(target=self._supervise, name="job-worker", daemon=True)
        self._watch.start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self._command, stdin=subprocess.DEVNULL)

    def _supervise(self) -> None:
        while not self._stop.wait(1.0):
            code = self.process.poll()
            if code is None:
                continue
            now = time.monotonic()
            self._deaths = [t for t in self._deaths if now - t < 60] + [now]
            say = console(stderr=True)
            if len(self._deaths) > self.RESTARTS:
                say.print(
                    f"the job worker died {len(self._deaths)} times within a minute (status "
                    f"{code}): no more restarts; run `facesight jobs work` to see why",
                    markup=False,
                )
                return
            say.print(f"the job worker ended (status {code}); starting another", markup=False)
            self.process = self._start()

    def stop(self) -> None:
        """SIGTERM (its running job goes back to the queue), then a kill after 20 s."""
        self._stop.set()
        self._watch.join()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


COMMANDS = [serve]
