"""``facesight audit``: who did what, when, to which items; the hash chain checked."""

from __future__ import annotations

import click

from facesight.cli.common import console, open_library, output_options, print_rows

__all__ = ["COMMANDS"]


@click.group(invoke_without_command=True)
@click.option("--action", help="Only this action, or this family (review, export, unknowns).")
@click.option("--actor", help="Only what this person did (claimed name or system account).")
@click.option("--since", metavar="DATE", help="Only records from this date (or UTC time) on.")
@click.option("--until", metavar="DATE", help="Only records up to the end of this date.")
@click.option(
    "--face", "face_id", type=click.IntRange(1), help="Only records listing this face id."
)
@click.option(
    "--person", "person_id", type=click.IntRange(1), help="Only records listing this person id."
)
@click.option("--limit", type=click.IntRange(1), help="The newest N records only.")
@output_options
@click.pass_context
def audit(
    ctx: click.Context,
    action: str | None,
    actor: str | None,
    since: str | None,
    until: str | None,
    face_id: int | None,
    person_id: int | None,
    limit: int | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List who did what, when, to which items (newest first; the log is append-only).

    Each record names who acted (actor: the account signed in to `facesight serve`, else
    the name claimed with --user/$FACESIGHT_USER, else the operating-system account), the
    operating-system account of the process and, apart, the claimed name. Records are hash-chained:
    `audit head` prints the newest hash, `audit verify` checks the chain.

    \b
    Example:
        facesight audit --action review --json
        facesight audit --face 42 --since 2026-01-01
        facesight audit verify --head 3f2a...
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_library(ctx) as library:
        records = library.audit_records(
            action=action,
            actor=actor,
            since=since,
            until=until,
            face_id=face_id,
            person_id=person_id,
            limit=limit,
        )
    table = not (as_json or as_csv)  # the table shows who and what, not the hashes
    rows = [
        {
            "id": r.id,
            "at": r.at,
            # who acted: a workspace account (signed in), else the name claimed with
            # --user, else the operating-system account
            "actor": r.actor,
            "os_user": (r.os_user or "") if table else r.os_user,
            "claimed_user": (r.claimed_user or "") if table else r.claimed_user,
            **({} if table else {"version": r.version}),
            "action": r.action,
            "items": r.items,
            "details": "[erased]" if "details" in r.erased else r.details,
            "erased": ", ".join(r.erased) if table else list(r.erased),
            **({} if table else {"hash": r.hash}),
        }
        for r in records
    ]
    print_rows(rows, as_json, as_csv, "Audit log")


@audit.command("head")
@click.pass_context
def audit_head(ctx: click.Context) -> None:
    """Print the newest audit record's hash; keep it to prove later that nothing after it went.

    \b
    Example:
        facesight audit head > audit-head.txt
    """
    with open_library(ctx) as library:
        click.echo(library.audit.head())


@audit.command("verify")
@click.option(
    "--head",
    "kept",
    metavar="HASH",
    help="A head printed earlier (by `audit head` or in a report): it must still be in the "
    "log, else records after it were dropped.",
)
@click.pass_context
def audit_verify(ctx: click.Context, kept: str | None) -> None:
    """Check the audit log's hash chain, its commitments and its append-only triggers.

    Exits non-zero naming the first broken record. Without --head, records
    dropped from the end cannot be noticed: keep a head outside the library.

    \b
    Example:
        facesight audit verify --head "$(cat audit-head.txt)"
    """
    with open_library(ctx) as library:
        result = library.verify_audit(kept)
    if result.ok:
        console().print(f"audit log intact: {result.records} record(s), head {result.head}")
        return
    first, *others = result.problems
    also = "".join(f"\n  also {problem}" for problem in others[:10])
    more = f"\n  and {len(others) - 10} more problem(s)" if len(others) > 10 else ""
    raise click.ClickException(f"audit log broken: {first}{also}{more}")


COMMANDS: list[click.Command] = [audit]
