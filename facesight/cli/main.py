"""The ``facesight`` command line: parse -> call the library -> render.

This module holds the command group, its global options and :func:`main` (the console
script); the commands live in one module per family beside it (``enroll``, ``scan``,
``search``, ``maintenance``, ``evaluate``, ``review``, ``audit``, ``unknowns``,
``conflicts``, ``reports``, ``tags``, ``users``) and are added to the group at the end. No
business logic lives here. Tables go to stdout for people, ``--json`` and
``--csv`` give the same rows for scripts; progress and per-file problems go
to stderr so stdout stays clean for pipes.
"""

from __future__ import annotations

import logging
import signal
import sys

import click

from facesight._version import __version__
from facesight.cli import audit as cli_audit
from facesight.cli import collections as cli_collections
from facesight.cli import conflicts as cli_conflicts
from facesight.cli import enroll as cli_enroll
from facesight.cli import evaluate as cli_evaluate
from facesight.cli import jobs as cli_jobs
from facesight.cli import library as cli_library
from facesight.cli import maintenance as cli_maintenance
from facesight.cli import models as cli_models
from facesight.cli import reports as cli_reports
from facesight.cli import review as cli_review
from facesight.cli import scan as cli_scan
from facesight.cli import search as cli_search
from facesight.cli import serve as cli_serve
from facesight.cli import tags as cli_tags
from facesight.cli import unknowns as cli_unknowns
from facesight.cli import users as cli_users
from facesight.cli.common import TextSafeGroup, escape_log_records
from facesight.config import ENV_LIBRARY
from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_TARGET_FPIR, DeviceChoice

__all__ = ["cli", "main"]


@click.group(cls=TextSafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facesight")
@click.option(
    "--library",
    metavar="DIR|URL",
    help=f"Library directory (database, crops, models), or a PostgreSQL database "
    "(postgresql://user@host/db; give the password by PGPASSWORD or a service file). "
    f"Default: ${ENV_LIBRARY}, else the per-user data directory.",
)
@click.option(
    "--target-fpir",
    type=click.FloatRange(1e-7, 0.5),
    default=DEFAULT_TARGET_FPIR,
    show_default=True,
    help="Decide matches so that at most this fraction of strangers is named as someone "
    "(false-positive identification rate), whatever the number of people enrolled.",
)
@click.option(
    "--max-distance",
    type=click.FloatRange(0.0, 2.0, min_open=True, max_open=True),
    help="Decide by a fixed descriptor distance instead of --target-fpir (lower: fewer "
    "false matches, more misses). Estimated rates are still shown.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse images with more pixels than this (decompression-bomb guard).",
)
@click.option(
    "--device",
    type=click.Choice([d.value for d in DeviceChoice if d is not DeviceChoice.TORCH_CPU]),
    default="auto",
    show_default=True,
    help="Where the networks run: auto = a GPU when one works, else the CPU; cpu = the "
    "descriptor in OpenVINO (bfloat16 on CPUs with AMX, about 5x faster); cpu-fp32 = "
    "ONNX Runtime in float32 (dlib's own descriptors to 1e-6); cuda = a GPU or an error, "
    "never a silent CPU fallback.",
)
@click.option(
    "--user",
    envvar="FACESIGHT_USER",
    help="The name you act under, for review decisions and the audit log, recorded as a "
    "claimed name beside the operating-system account (not checked). Default: "
    "$FACESIGHT_USER, else none: the account's name is used.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log model loading and providers.")
@click.pass_context
def cli(
    ctx: click.Context,
    library: str | None,
    target_fpir: float,
    max_distance: float | None,
    max_pixels: int,
    device: str,
    user: str | None,
    verbose: bool,
) -> None:
    """Find known people in photo and video collections, with the evidence for every match.

    \b
    Example:
        facesight enroll "Barack Obama" obama1.jpg obama2.jpg
        facesight scan /archive
        facesight sightings --person "Barack Obama"
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    escape_log_records()
    signal.signal(signal.SIGTERM, _terminated)
    ctx.obj = {
        "user": user,
        "library": library,
        "max_distance": max_distance,
        "target_fpir": target_fpir,
        "max_pixels": max_pixels,
        "device": device,
    }


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM ends a command as Ctrl-C does: transactions roll back, the scan's worker
    pool shuts down (no "leaked semaphore" warning), the library closes; status 143."""
    raise SystemExit(128 + signum)


for _command in (
    *cli_enroll.COMMANDS,
    *cli_scan.COMMANDS,
    *cli_search.COMMANDS,
    *cli_maintenance.COMMANDS,
    *cli_evaluate.COMMANDS,
    *cli_review.COMMANDS,
    *cli_audit.COMMANDS,
    *cli_unknowns.COMMANDS,
    *cli_conflicts.COMMANDS,
    *cli_reports.COMMANDS,
    *cli_tags.COMMANDS,
    *cli_models.COMMANDS,
    *cli_library.COMMANDS,
    *cli_serve.COMMANDS,
    *cli_users.COMMANDS,
    *cli_jobs.COMMANDS,
    *cli_collections.COMMANDS,
):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``facesight`` console script."""
    cli(prog_name="facesight")
