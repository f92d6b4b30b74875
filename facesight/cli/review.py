"""``facesight review`` and ``facesight audit``: decide on proposed matches, see who did what."""

from __future__ import annotations

import sys
from typing import Any

import click

from facesight.cli.common import (
    console,
    decision_note,
    fmt_rate,
    open_library,
    output_options,
    print_rows,
    shown,
    sighting_row,
    table_status,
    when,
)
from facesight.errors import FaceSightError, ManualIdentificationError
from facesight.library.facade import Library
from facesight.records import Sighting
from facesight.text import printable

__all__ = ["COMMANDS"]

_LIST_COLUMNS = (
    "face_id",
    "person",
    "status",
    "path",
    "when",
    "distance",
    "fmr",
    "quality",
    "crop",
)
_PROMPT = (
    "[c]onfirm, [C]onfirm and make it a reference, [r]eject, [a] NAME: assign to NAME,"
    " [s]kip, [q]uit"
)


@click.group(invoke_without_command=True)
@click.option("--list", "as_list", is_flag=True, help="List instead of asking, one row each.")
@click.option(
    "--status",
    type=click.Choice(["pending", "confirmed", "rejected", "all"]),
    default="pending",
    show_default=True,
    help="Which sightings to list or review.",
)
@click.option("--person", help="Only this person's sightings.")
@output_options
@click.pass_context
def review(
    ctx: click.Context,
    as_list: bool,
    status: str,
    person: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Confirm or reject proposed matches, one sighting at a time.

    Every proposed match is a candidate until someone decides. Decisions are
    kept with who decided (--user) and when, never overwritten by a rescan; a
    rejected person is never proposed for that face again. With --list (or
    --json / --csv) the sightings are listed instead.

    \b
    Example:
        facesight --user alice review
        facesight review --list --json
        facesight review confirm 12 --as "Barack Obama" --reference
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_library(ctx) as library:
        found = _select(library, status, person)
        if as_list or as_json or as_csv:
            rows = [sighting_row(s) for s in found]
            if not (as_json or as_csv):
                rows = [_brief(r) for r in rows]
            print_rows(rows, as_json, as_csv, f"Sightings to review ({status})")
            return
        console(stderr=True).print(decision_note(library))
        _interactive(library, found)


def _select(library: Library, status: str, person: str | None) -> list[Sighting]:
    found = library.sightings(person, include_unmatched=status in ("rejected", "all"))
    if status == "all":
        return [s for s in found if s.decision != "unmatched"]
    return [s for s in found if s.decision == status]


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    row = row | {"when": when(row), "fmr": fmt_rate(row["fmr"]), "status": table_status(row)}
    return {k: row[k] for k in _LIST_COLUMNS}


def _interactive(library: Library, found: list[Sighting]) -> None:
    out = console()
    decided = 0
    for number, sighting in enumerate(found, start=1):
        out.print(f"\n[bold]{number}/{len(found)}[/bold] face {sighting.face_id}")
        _show(sighting)
        while True:
            answer = click.prompt(_PROMPT, default="s", show_default=False).strip()
            try:
                if _act(library, sighting, answer):
                    decided += answer not in ("s", "")
                    break
            except FaceSightError as error:
                out.print(f"[red]{shown(error)}[/red]")
            if answer == "q":
                out.print(f"{decided} decision(s) recorded.")
                return
    out.print(f"{decided} decision(s) recorded; nothing left to review.")


def _show(sighting: Sighting) -> None:
    row = sighting_row(sighting)
    out = console()
    where = when(row)
    out.print(f"  file: {shown(sighting.path)}{'  ' + where if where else ''}")
    out.print(f"  crop: {shown(sighting.crop_path)}")
    quality = "" if sighting.quality is None else f"{sighting.quality:.2f}"
    out.print(f"  quality: {quality} {sighting.quality_reasons}")
    out.print(f"  decision: {sighting.category}", markup=False)
    for c in sighting.candidates:
        verdict = "match" if c.is_match else "no match"
        out.print(
            f"  {shown(c.person)}: distance {c.distance:.3f}, est. FMR {fmt_rate(c.fmr)} "
            f"({verdict}); nearest reference {shown(c.reference_path)}"
        )


def _act(library: Library, sighting: Sighting, answer: str) -> bool:
    """Carry out one answer; True when the sighting is done with."""
    if answer in ("s", ""):
        return True
    if answer == "q":
        return False
    if answer in ("c", "C"):
        library.confirm(sighting.face_id, as_reference=answer == "C")
        return True
    if answer == "r":
        library.reject(sighting.face_id)
        return True
    if answer.startswith("a "):
        try:
            library.confirm(sighting.face_id, answer[2:].strip())
        except ManualIdentificationError as error:
            console().print(f"[yellow]warning[/yellow]: {error}")
            if not click.confirm("Record it as a manual identification?"):
                return False
            library.confirm(sighting.face_id, answer[2:].strip(), force=True)
        return True
    console().print("[yellow]?[/yellow] answer c, C, r, a NAME, s or q")
    return False


@review.command(name="confirm")
@click.argument("face_id", type=int)
@click.option("--as", "person", help="Who it is, if not the proposed match (assigns the face).")
@click.option(
    "--reference", is_flag=True, help="Also make this face one of the person's references."
)
@click.option("--note", default="", help="Why, kept with the decision.")
@click.option(
    "--force",
    is_flag=True,
    help="Name someone the rule did not propose without asking (a manual identification).",
)
@click.pass_context
def review_confirm(
    ctx: click.Context, face_id: int, person: str | None, reference: bool, note: str, force: bool
) -> None:
    """Confirm that stored face FACE_ID is the proposed person (or --as NAME).

    Naming someone the decision rule did not propose for the face is a
    manual identification: you are warned and asked first (--force skips the
    question; with no terminal, --force is required). It is recorded and
    reported as a manual identification, with the face's real distance and
    est. FMR to that person.
    """
    with open_library(ctx) as library:
        try:
            sighting = library.confirm(
                face_id, person, as_reference=reference, note=note, force=force
            )
        except ManualIdentificationError as error:
            _ask_manual(error)
            sighting = library.confirm(
                face_id, person, as_reference=reference, note=note, force=True
            )
        named = sighting.named
        figures = (
            f" (distance {named.distance:.3f}, est. FMR {fmt_rate(named.fmr)})" if named else ""
        )
    console().print(
        f"face {face_id}: {sighting.category} as {printable(sighting.person)}{figures}",
        markup=False,
    )


def _ask_manual(error: ManualIdentificationError) -> None:
    """Warn about a manual identification; ask at a terminal, refuse without one."""
    console(stderr=True).print(f"warning: {error}", markup=False)
    if not sys.stdin.isatty():
        raise click.ClickException(
            "a manual identification needs a terminal to confirm it, or --force"
        )
    click.confirm("Record it as a manual identification?", abort=True, err=True)


@review.command(name="reject")
@click.argument("face_id", type=int)
@click.option("--person", help="Who it is not, if not the proposed match.")
@click.option("--note", default="", help="Why, kept with the decision.")
@click.pass_context
def review_reject(ctx: click.Context, face_id: int, person: str | None, note: str) -> None:
    """Reject the proposed person for stored face FACE_ID; never proposed for it again."""
    with open_library(ctx) as library:
        sighting = library.reject(face_id, person, note=note)
    left = sighting.person or "nobody"
    console().print(f"face {face_id}: rejected; now proposed as {shown(left)}")


@click.group(invoke_without_command=True)
@click.option("--action", help="Only this action, or this family (review, export, unknowns).")
@click.option("--actor", help="Only what this person did (claimed name or system account).")
@click.option("--limit", type=click.IntRange(1), help="The newest N records only.")
@output_options
@click.pass_context
def audit(
    ctx: click.Context,
    action: str | None,
    actor: str | None,
    limit: int | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List who did what, when, to which items (newest first; the log is append-only).

    Each record names the operating-system account that acted and, apart,
    the name claimed with --user/$FACESIGHT_USER. Records are hash-chained:
    `audit head` prints the newest hash, `audit verify` checks the chain.

    \b
    Example:
        facesight audit --action review --json
        facesight audit verify --head 3f2a...
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_library(ctx) as library:
        records = library.audit.records(action=action, actor=actor, limit=limit)
    table = not (as_json or as_csv)  # the table shows who and what, not the hashes
    rows = [
        {
            "id": r.id,
            "at": r.at,
            "os_user": (r.os_user or "") if table else r.os_user,
            "claimed_user": (r.claimed_user or "") if table else r.claimed_user,
            **({} if table else {"actor": r.actor, "version": r.version}),
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
        result = library.audit.verify(kept)
    if result.ok:
        console().print(f"audit log intact: {result.records} record(s), head {result.head}")
        return
    first, *others = result.problems
    also = "".join(f"\n  also {problem}" for problem in others[:10])
    more = f"\n  and {len(others) - 10} more problem(s)" if len(others) > 10 else ""
    raise click.ClickException(f"audit log broken: {first}{also}{more}")


COMMANDS: list[click.Command] = [review, audit]
