"""``facesight review``: decide on proposed matches (parse, call the library, print)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from facesight.cli.common import (
    F,
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
from facesight.library.review_queue import (
    MAX_PAGE,
    MEDIA_KINDS,
    QUALITY_BANDS,
    QueueFilter,
    QueueSort,
)
from facesight.records import DECISION_CATEGORIES, Sighting
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
    out.print(f"  decision: {sighting.provenance or sighting.category}", markup=False)
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


def _expected_option(func: F) -> F:
    return click.option(
        "--expected",
        metavar="STATE",
        help="The decision state you saw (`review queue`): refused if the face was decided since.",
    )(func)


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
@_expected_option
@click.pass_context
def review_confirm(
    ctx: click.Context,
    face_id: int,
    person: str | None,
    reference: bool,
    note: str,
    force: bool,
    expected: str | None,
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
                face_id, person, as_reference=reference, note=note, force=force, expected=expected
            )
        except ManualIdentificationError as error:
            _ask_manual(error)
            sighting = library.confirm(
                face_id, person, as_reference=reference, note=note, force=True, expected=expected
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
@_expected_option
@click.pass_context
def review_reject(
    ctx: click.Context, face_id: int, person: str | None, note: str, expected: str | None
) -> None:
    """Reject the proposed person for stored face FACE_ID; never proposed for it again."""
    with open_library(ctx) as library:
        sighting = library.reject(face_id, person, note=note, expected=expected)
    left = sighting.person or "nobody"
    console().print(f"face {face_id}: rejected; now proposed as {shown(left)}")


@review.command(name="queue")
@click.option(
    "--sort",
    type=click.Choice([s.value for s in QueueSort]),
    default=QueueSort.FMR.value,
    show_default=True,
    help="fmr: est. FMR, lowest first; quality: best first; date: capture time, oldest first.",
)
@click.option("--after", metavar="CURSOR", help="Start after this cursor (a page's next_after).")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE), default=50, show_default=True)
@click.option("--person", help="Only faces named as this person.")
@click.option(
    "--category",
    type=click.Choice(list(DECISION_CATEGORIES)),
    help="Faces of this decision category (default: the pending ones).",
)
@click.option("--quality", type=click.Choice(list(QUALITY_BANDS)), help="Only this quality band.")
@click.option("--path", "path_part", help="Only media whose path holds this (any case).")
@click.option("--since", help="Captured on or after this ISO date.")
@click.option("--until", help="Captured on or before this ISO date.")
@click.option("--kind", type=click.Choice(list(MEDIA_KINDS)), help="Only stills or videos.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: items, next_after.")
@click.pass_context
def review_queue(
    ctx: click.Context,
    sort: str,
    after: str | None,
    limit: int,
    person: str | None,
    category: str | None,
    quality: str | None,
    path_part: str | None,
    since: str | None,
    until: str | None,
    kind: str | None,
    as_json: bool,
) -> None:
    """One page of the review queue, as the web workspace shows it.

    Each face comes with its decision state (pass it to a decision to catch one made
    meanwhile) and the nearest reference of the person named. The page ends with the
    cursor of the next (--after); the faces shown are recorded in the audit log.

    \b
    Example:
        facesight review queue --quality good --json
        facesight review queue --sort date --after CURSOR
    """
    wanted = QueueFilter(person, category, quality, path_part, since, until, kind)
    with open_library(ctx) as library:
        page = library.review_queue(wanted, sort=sort, after=after, limit=limit)
        library.record_view([i.sighting.face_id for i in page.items], "review queue (CLI)")
    rows = [
        sighting_row(i.sighting) | {"state": i.state, "reference_id": i.reference_id}
        for i in page.items
    ]
    if as_json:
        answer = {"items": rows, "next_after": page.next_after, "total": page.total}
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    print_rows([_brief(r) for r in rows], False, False, f"Review queue ({page.total} faces)")
    if page.next_after is not None:
        click.echo(f"next page: --after {page.next_after}")


COMMANDS: list[click.Command] = [review]
