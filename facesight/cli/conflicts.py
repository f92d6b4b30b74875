"""``facesight`` commands: conflicts (parse, call the library, print)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from facesight.cli.common import (
    candidate_row,
    console,
    decision_note,
    fmt_rate,
    open_library,
    output_options,
    print_rows,
    rate,
    shown,
    timecode,
)
from facesight.library.conflicts import (
    AmbiguousSighting,
    PersonConflict,
    ambiguous_sightings,
    person_conflicts,
)
from facesight.library.merge import NameCollision, mark_different, name_collisions, resolve_merge

__all__ = ["COMMANDS"]


@click.group(invoke_without_command=True)
@output_options
@click.pass_context
def conflicts(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List people enrolled twice under two names, and sightings two people claim.

    A person conflict is a pair of enrolled people whose references the
    system would call the same person (the same face under two names, as with
    a forged identity document), with the closest references, their crops,
    distances and estimated false-match rates. An ambiguous sighting matches
    one person and, almost as likely, another. Resolve a person conflict with
    `merge` or `different` (remembered: the pair is not listed again).
    People whose names are one name once Unicode-normalised and case-folded
    ("José" typed two ways, by an older facesight) are listed too, never
    merged automatically.

    \b
    Example:
        facesight conflicts
        facesight conflicts --json > conflicts.json
        facesight conflicts merge "Barack Obama" "Barry Soetoro"
        facesight conflicts different "Mary Smith" "Mary Smyth"
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_library(ctx) as library:
        people = person_conflicts(library)
        sightings = ambiguous_sightings(library)
        names = name_collisions(library)
        note = decision_note(library)
    rows = [_person_row(c) for c in people] + [_sighting_row(a) for a in sightings]
    rows += [_name_row(n) for n in names]
    if as_json:
        print_rows(rows, True, False, "")
    elif as_csv:
        print_rows(_same_columns(rows), False, True, "")
    else:
        console(stderr=True).print(note)
        print_rows([_person_cells(c) for c in people], False, False, "People enrolled twice?")
        print_rows([_sighting_cells(a) for a in sightings], False, False, "Ambiguous sightings")
        if names:
            print_rows([_name_row(n) for n in names], False, False, "One name spelt two ways")
        if people or names:
            console(stderr=True).print(
                "resolve: facesight conflicts merge KEEP ABSORB, "
                "or facesight conflicts different FIRST SECOND"
            )


@conflicts.command()
@click.argument("keep")
@click.argument("absorb")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def merge(ctx: click.Context, keep: str, absorb: str, yes: bool) -> None:
    """Merge ABSORB into KEEP: one person enrolled under two names becomes one.

    ABSORB's references and review decisions move to KEEP, the name ABSORB
    is deleted, and stored faces are matched again. Audited.

    \b
    Example:
        facesight conflicts merge "Barack Obama" "Barry Soetoro" --yes
    """
    if not yes:
        click.confirm(
            f"Move the references and reviews of {absorb!r} to {keep!r} and delete {absorb!r}?",
            abort=True,
        )
    with open_library(ctx) as library:
        result = resolve_merge(library, keep, absorb)
    console().print(
        f"Merged {shown(result.absorbed)} into {shown(result.kept)}: "
        f"{result.references_moved} reference(s) "
        f"moved, {result.duplicates_dropped} duplicate(s) dropped, {result.reviews_moved} "
        "review decision(s) moved."
    )


@conflicts.command()
@click.argument("first")
@click.argument("second")
@click.pass_context
def different(ctx: click.Context, first: str, second: str) -> None:
    """Mark FIRST and SECOND as different people: their pair is not listed again.

    The decision is remembered in the library and audited.

    \b
    Example:
        facesight conflicts different "Mary Smith" "Mary Smyth"
    """
    with open_library(ctx) as library:
        added = mark_different(library, first, second)
    state = "are now" if added else "were already"
    console().print(f"{shown(first)} and {shown(second)} {state} marked as different people.")


def _person_row(c: PersonConflict) -> dict[str, Any]:
    return {
        "kind": "person",
        "first": c.first,
        "first_id": c.first_id,
        "second": c.second,
        "second_id": c.second_id,
        "distance": round(c.distance, 4),
        "fmr": rate(c.fmr),
        "first_reference": asdict(c.first_reference),
        "second_reference": asdict(c.second_reference),
        "first_template_distance": round(c.first_template_distance, 4),
        "first_template_fmr": rate(c.first_template_fmr),
        "second_template_distance": round(c.second_template_distance, 4),
        "second_template_fmr": rate(c.second_template_fmr),
        "first_references": c.first_references,
        "second_references": c.second_references,
    }


def _name_row(n: NameCollision) -> dict[str, Any]:
    # ascii() tells apart spellings that print alike (composed and decomposed accents)
    return {
        "kind": "name",
        "first": n.first,
        "first_id": n.first_id,
        "first_spelling": ascii(n.first),
        "second": n.second,
        "second_id": n.second_id,
        "second_spelling": ascii(n.second),
    }


def _sighting_row(a: AmbiguousSighting) -> dict[str, Any]:
    s = a.sighting
    return {
        "kind": "sighting",
        "first": a.first.person,
        "first_id": a.first.person_id,
        "second": a.second.person,
        "second_id": a.second.person_id,
        "distance": round(a.first.distance, 4),
        "fmr": rate(a.first.fmr),
        "face_id": s.face_id,
        "path": s.path,
        "frame": s.frame,
        "time_s": s.time_s,
        "timecode": timecode(s.time_s),
        "xyxy": [round(v, 1) for v in s.xyxy],
        "crop": s.crop_path,
        "second_distance": round(a.second.distance, 4),
        "second_fmr": rate(a.second.fmr),
        "fmr_ratio": None if a.fmr_ratio == float("inf") else round(a.fmr_ratio, 3),
        "first_candidate": candidate_row(a.first),
        "second_candidate": candidate_row(a.second),
    }


def _same_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For CSV: every row with every column of either kind (empty where it does not apply).

    Numbers are written whole: a rate such as 2.1e-07 would be 0.000 at three decimals.
    """
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return [
        {k: str(v) if isinstance(v := row.get(k), float) else v for k in columns} for row in rows
    ]


def _with_rate(distance: float, fmr: float) -> str:
    return f"{distance:.3f} ({fmt_rate(fmr)})"


def _person_cells(c: PersonConflict) -> dict[str, Any]:
    return {
        "first": c.first,
        "second": c.second,
        "first reference": c.first_reference.source_path,
        "second reference": c.second_reference.source_path,
        "distance (est. FMR)": _with_rate(c.distance, c.fmr),
        "first's template": _with_rate(c.first_template_distance, c.first_template_fmr),
        "second's template": _with_rate(c.second_template_distance, c.second_template_fmr),
    }


def _sighting_cells(a: AmbiguousSighting) -> dict[str, Any]:
    s = a.sighting
    where = s.path if s.time_s is None else f"{s.path} @ {timecode(s.time_s)}"
    return {
        "face": s.face_id,
        "where": where,
        "best": f"{a.first.person}: {_with_rate(a.first.distance, a.first.fmr)}",
        "runner-up": f"{a.second.person}: {_with_rate(a.second.distance, a.second.fmr)}",
        "FMR ratio": "" if a.fmr_ratio == float("inf") else f"{a.fmr_ratio:.1f}x",
        "crop": s.crop_path,
    }


COMMANDS: list[click.Command] = [conflicts]
