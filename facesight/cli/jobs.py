"""``facesight jobs``: background jobs (parse, call, print).

``jobs work`` runs a worker (``library.job_worker``) until stopped; ``facesight serve``
starts one itself (unless ``--no-worker``). ``list``, ``show``, ``submit`` and ``cancel``
look at and steer the queue of the same library.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict
from typing import Any

import click

from facesight.cli.common import console, open_library, output_options, print_rows
from facesight.library.jobs import Job, JobKind, JobState

__all__ = ["COMMANDS"]


def _row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind.value,
        "state": job.state.value,
        "done": job.done,
        "total": job.total,
        "message": job.message,
        "failures": job.failure_count,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def job_json(job: Job) -> dict[str, Any]:
    """Every field of a job, as ``jobs show --json`` prints it."""
    return asdict(job) | {"kind": job.kind.value, "state": job.state.value}


@click.group(invoke_without_command=True)
@click.pass_context
def jobs(ctx: click.Context) -> None:
    """Background jobs: scans, re-matching, clustering, reports and reindexing queued by the
    review workspace (or `jobs submit`) and run by a worker process.

    `facesight serve` starts a worker beside the web server; `jobs work` runs one
    elsewhere (with `serve --no-worker`). A job whose worker died is run again (at most
    3 starts), then marked failed with the reason. See docs/review-workspace.md.

    \b
    Examples:
        facesight jobs list
        facesight jobs submit rematch
        facesight jobs show 12 --json
        facesight jobs cancel 12
        facesight jobs work
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@jobs.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]), help="Only these.")
@click.option("--kind", type=click.Choice([k.value for k in JobKind]), help="Only these.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@output_options
@click.pass_context
def jobs_list(
    ctx: click.Context,
    state: str | None,
    kind: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List jobs, newest first: kind, state, progress, who asked and when."""
    with open_library(ctx) as library:
        found = library.jobs.jobs(kind=kind, state=state, limit=limit)
    print_rows([_row(j) for j in found], as_json, as_csv, "Jobs")


@jobs.command("show")
@click.argument("job_id", metavar="JOB-ID", type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def jobs_show(ctx: click.Context, job_id: int, as_json: bool) -> None:
    """Show one job: its progress, failures, result or error, and the files it wrote."""
    with open_library(ctx) as library:
        job = library.jobs.job(job_id)
        files = library.jobs.files(job_id)
    if as_json:
        shown = job_json(job) | {"files": [asdict(f) for f in files]}
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    print_rows([_row(job)], False, False, f"Job {job.id}")
    out = console()
    for label, value in (("params", job.params), ("result", job.result)):
        if value:
            out.print(f"{label}: {json.dumps(value, ensure_ascii=False)}", markup=False)
    if job.error:
        out.print(f"error: {job.error}", markup=False)
    for line in job.failures:
        out.print(f"failed: {line}", markup=False)
    if job.failure_count > len(job.failures):
        out.print(f"... {job.failure_count - len(job.failures)} more failure(s)", markup=False)
    for file in files:
        out.print(f"file {file.index}: {file.name} ({file.size} bytes)", markup=False)


@jobs.command("submit")
@click.argument(
    "kind",
    type=click.Choice([k.value for k in (JobKind.REMATCH, JobKind.CLUSTER, JobKind.REINDEX)]),
)
@click.option("--model", help="reindex: first make this registered model the active one.")
@click.pass_context
def jobs_submit(ctx: click.Context, kind: str, model: str | None) -> None:
    """Queue a job of KIND for the worker (rematch, cluster, reindex); prints its id."""
    params = {"model": model} if model else {}
    with open_library(ctx) as library:
        job = library.jobs.submit(kind, params)
    click.echo(job.id)


@jobs.command("cancel")
@click.argument("job_id", metavar="JOB-ID", type=click.IntRange(1))
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: int) -> None:
    """Cancel a job: a queued one at once, a running one at its next progress report."""
    with open_library(ctx) as library:
        job = library.jobs.cancel(job_id)
    if job.state is JobState.RUNNING:
        said = "asked to stop: it stops at its next progress report"
    else:
        said = str(job.state)
    console().print(f"job {job.id} ({job.kind}): {said}", markup=False)


@jobs.command("work")
@click.option(
    "--until-empty", is_flag=True, help="Stop once the queue is empty instead of waiting."
)
@click.option(
    "--parent-pid",
    type=click.IntRange(1),
    help="Stop (putting the running job back in the queue) when this process ends: "
    "`facesight serve` passes its own.",
)
@click.pass_context
def jobs_work(ctx: click.Context, until_empty: bool, parent_pid: int | None) -> None:
    """Run queued jobs one at a time until stopped (SIGTERM or Ctrl-C put the running
    job back in the queue); one line per job on stderr."""
    from facesight.library.job_worker import WorkerStopped, run_worker, watch_parent

    def stopped(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends it at once
        raise WorkerStopped(f"signal {signum}")

    signal.signal(signal.SIGTERM, stopped)
    if parent_pid is not None:
        watch_parent(parent_pid, lambda: os.kill(os.getpid(), signal.SIGTERM))
    err = console(stderr=True)
    with open_library(ctx) as library:
        err.print(f"job worker {os.getpid()} on {library.where}", markup=False)
        try:
            ran = run_worker(
                library,
                until_empty=until_empty,
                on_message=lambda line: err.print(line, markup=False),
            )
        except (WorkerStopped, KeyboardInterrupt):
            err.print("job worker stopped", markup=False)
            return
    err.print(f"job worker done: {ran} job(s) run", markup=False)


COMMANDS = (jobs,)
