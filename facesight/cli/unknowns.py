"""``facesight`` commands: unknowns and name (parse, call the library, print)."""

from __future__ import annotations

import os
from typing import Any

import click

from facesight.cli.common import (
    console,
    open_library,
    output_options,
    print_rows,
    shown,
    sighting_row,
    timecode,
    when,
)
from facesight.library.unknowns import Appearance, UnknownCluster, UnknownPeople
from facesight.records import Sighting, person_id_of
from facesight.text import printable

__all__ = ["COMMANDS"]

_SHOWN_PLACES = 3
"""Media files named per cluster in the table (--json lists them all)."""


@click.group(invoke_without_command=True)
@click.option(
    "--min-media",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Only people seen in at least this many media files (higher: recurring strangers).",
)
@click.option("--limit", type=click.IntRange(1), help="List at most this many people.")
@output_options
@click.pass_context
def unknowns(
    ctx: click.Context, min_media: int, limit: int | None, as_json: bool, as_csv: bool
) -> None:
    """List unknown people: faces that match nobody, grouped by likeness.

    People seen in the most media files come first, with crops of their best
    faces and where they appear (video: time ranges). Tiny or blurred faces
    never start a group. Groups are updated as scans add faces; name one with
    `facesight name`, or fix one with `split` and `merge`.

    \b
    Example:
        facesight unknowns --min-media 3
        facesight unknowns show 4
        facesight unknowns split 4 117 118 --new-cluster
        facesight unknowns merge 4 9
        facesight name 4 "Jane Doe"
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_library(ctx) as library:
        found = UnknownPeople(library).clusters(min_media=min_media, limit=limit)
        root = str(library.path)
    if as_json or as_csv:
        print_rows([_cluster_row(c) for c in found], as_json, as_csv, "Unknown people")
        return
    print_rows(_cluster_table(found, root), False, False, "Unknown people")


@unknowns.command()
@click.argument("cluster", type=int)
@output_options
@click.pass_context
def show(ctx: click.Context, cluster: int, as_json: bool, as_csv: bool) -> None:
    """List the faces of one unknown person, best quality first.

    \b
    Example:
        facesight unknowns show 4
        facesight unknowns show 4 --json
    """
    with open_library(ctx) as library:
        faces = UnknownPeople(library).faces(cluster)
    rows = [{"face_id": s.face_id} | sighting_row(s) for s in faces]
    if not (as_json or as_csv):
        rows = _face_table(faces)
    print_rows(rows, as_json, as_csv, f"Unknown person {cluster}")


@unknowns.command()
@click.argument("cluster", type=int)
@click.argument("face_ids", metavar="FACE_ID...", nargs=-1, required=True, type=int)
@click.option(
    "--new-cluster", is_flag=True, help="Put the faces taken out together as a new unknown person."
)
@click.pass_context
def split(ctx: click.Context, cluster: int, face_ids: tuple[int, ...], new_cluster: bool) -> None:
    """Take faces out of an unknown person; they never join it again.

    Without --new-cluster the faces are left ungrouped (a later update may
    group them with others, never with this person).

    \b
    Example:
        facesight unknowns split 4 117 118
        facesight unknowns split 4 117 118 --new-cluster
    """
    with open_library(ctx) as library:
        new_id = UnknownPeople(library).split(cluster, face_ids, as_new=new_cluster)
    moved = f"{len(set(face_ids))} face(s) taken out of unknown person {cluster}"
    console().print(moved + (f" into new unknown person {new_id}" if new_id else ""))


@unknowns.command()
@click.argument("into", metavar="A", type=int)
@click.argument("other", metavar="B", type=int)
@click.pass_context
def merge(ctx: click.Context, into: int, other: int) -> None:
    """Join unknown person B into A: the same person.

    \b
    Example:
        facesight unknowns merge 4 9
    """
    with open_library(ctx) as library:
        faces = UnknownPeople(library).merge(into, other)
    console().print(f"Unknown person {other} merged into {into}: {faces} face(s)")


@click.command(name="name")
@click.argument("cluster", type=int)
@click.argument("person")
@click.option(
    "--best",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="How many of its best faces become references: more match more of the person's "
    "photos, but a wrong face among them does more harm.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def name(ctx: click.Context, cluster: int, person: str, best: int, yes: bool) -> None:
    """Enroll an unknown person under a name: its sightings follow.

    Its best faces become the person's references (shown first, and only
    after you confirm), every face of it is confirmed as that person, and the
    library is matched again. An existing name adds to that person.

    \b
    Example:
        facesight name 4 "Jane Doe"
        facesight name 4 "Jane Doe" --best 5 --yes
    """
    with open_library(ctx) as library:
        people = UnknownPeople(library)
        faces = people.faces(cluster)
        chosen = people.best_faces(cluster, best)
        if not yes:
            print_rows(_face_table(chosen), False, False, f"References of {person}")
            click.confirm(
                f"Enroll these {len(chosen)} face(s) as references of {person!r} (confirmed "
                f"as them) and match the other {len(faces) - len(chosen)} face(s) of unknown "
                f"person {cluster} again, for review?",
                abort=True,
            )
        person_id = people.name(cluster, person, best=best)
        after = library.sightings_by_face([s.face_id for s in faces])
    theirs = [s for s in after if person_id_of(s) == person_id]
    confirmed = sum(s.decision == "confirmed" for s in theirs)
    pending = sum(s.decision == "pending" for s in theirs)
    other = len(after) - confirmed - pending
    console().print(
        f"Unknown person {cluster} is now {printable(person)}: {len(chosen)} reference(s); "
        f"{confirmed} face(s) confirmed, {pending} proposed as {printable(person)}, "
        "pending review, "
        f"{other} not matched to them; see `facesight review --person {printable(repr(person))}`",
        markup=False,
    )


COMMANDS: list[click.Command] = [unknowns, name]


def _cluster_row(c: UnknownCluster) -> dict[str, Any]:
    return {
        "id": c.id,
        "media": c.media,
        "faces": c.faces,
        "first_seen": c.first_seen,
        "last_seen": c.last_seen,
        "sample_crops": list(c.sample_crops),
        "appears_in": [_appearance_row(a) for a in c.appearances],
    }


def _appearance_row(a: Appearance) -> dict[str, Any]:
    return {
        "path": a.path,
        "kind": a.kind,
        "face_ids": list(a.face_ids),
        "spans": [
            {"start_s": s, "end_s": e, "start": timecode(s), "end": timecode(e)}
            for s, e in a.spans_s
        ],
    }


def _cluster_table(found: list[UnknownCluster], library: str) -> list[dict[str, Any]]:
    """Table rows: crops relative to the library, places relative to their common folder."""
    paths = [a.path for c in found for a in c.appearances]
    root = os.path.commonpath([os.path.dirname(p) for p in paths]) if len(paths) > 1 else ""
    if root not in ("", os.sep):
        console(stderr=True).print(
            f"crops relative to {shown(library)}; media relative to {shown(root)}"
        )
    else:
        root = ""
        console(stderr=True).print(f"crops relative to {shown(library)}")
    return [
        {
            "id": c.id,
            "media": c.media,
            "faces": c.faces,
            "seen": " - ".join(dict.fromkeys(d for d in (c.first_seen, c.last_seen) if d)),
            "samples": "\n".join(os.path.relpath(p, library) for p in c.sample_crops),
            "appears in": _places(c.appearances, root),
        }
        for c in found
    ]


def _places(appearances: tuple[Appearance, ...], root: str) -> str:
    shown = [
        (os.path.relpath(a.path, root) if root else a.path)
        + "".join(f" {timecode(s)}-{timecode(e)}" for s, e in a.spans_s)
        for a in appearances[:_SHOWN_PLACES]
    ]
    more = len(appearances) - _SHOWN_PLACES
    return "\n".join(shown + ([f"(+{more} more)"] if more > 0 else []))


def _face_table(faces: list[Sighting]) -> list[dict[str, Any]]:
    rows = []
    for s in faces:
        row = sighting_row(s)
        rows.append(
            {
                "face_id": s.face_id,
                "quality": row["quality"],
                "path": s.path,
                "when": when(row),
                "crop": s.crop_path,
            }
        )
    return rows
