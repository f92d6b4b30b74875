"""``facesight models`` and ``facesight calibrate``: descriptor models (parse, call, print)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from facesight.cli.common import console, open_library, output_options, print_rows, shown
from facesight.eval.described import DescriptorCache
from facesight.eval.model_calibration import build_model_calibration
from facesight.face_models import ARCFACE_PRESET, DLIB_MODEL, Alignment, Metric

__all__ = ["COMMANDS"]


@click.group(invoke_without_command=True)
@output_options
@click.pass_context
def models(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List the face-descriptor models of the library, or add and choose one.

    The built-in model is dlib's ResNet (calibrated by the shipped tables). You may
    register ONNX face-embedding models you supply and are licensed to use
    (docs/models.md); facesight never downloads weights. One model is active: scans,
    enrollment and matching use it; descriptors of the others are kept but left out
    of matching until `facesight reindex` describes them again.

    \b
    Examples:
        facesight models
        facesight models add ~/models/arcface.onnx --name arcface --preset arcface
        facesight models use arcface
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_library(ctx) as library:
        rows = [asdict(e) for e in library.models()]
    print_rows(rows, as_json, as_csv, "Face-descriptor models (active: the one marked)")


@models.command(name="add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="What to call the model (letters, digits, _.-).")
@click.option(
    "--preset",
    type=click.Choice(["arcface"]),
    help="arcface: 112 px, ArcFace five-point template, RGB, (x-127.5)/127.5, cosine. "
    "Options given as well override it.",
)
@click.option("--input", "input_px", type=click.IntRange(16, 1024), help="Chip side, pixels.")
@click.option(
    "--align",
    type=click.Choice([a.value for a in Alignment]),
    help="Landmark template: arcface (ArcFace 112 template) or dlib (dlib's chip), scaled "
    "to --input.",
)
@click.option("--mean", type=float, help="Subtracted from each 0-255 channel value [127.5].")
@click.option("--std", type=float, help="Then divided by [127.5].")
@click.option("--bgr", is_flag=True, default=None, help="Feed BGR instead of RGB.")
@click.option(
    "--distance",
    "metric",
    type=click.Choice([m.value for m in Metric]),
    help="How descriptors compare [cosine].",
)
@click.pass_context
def models_add(
    ctx: click.Context,
    file: Path,
    name: str,
    preset: str | None,
    input_px: int | None,
    align: str | None,
    mean: float | None,
    std: float | None,
    bgr: bool | None,
    metric: str | None,
) -> None:
    """Register an ONNX face-embedding model FILE (NCHW float input, one vector out).

    The file is hashed (a changed file is refused later) and its output length read
    from the model; it is not copied: keep it where it is. The model is not made
    active and is uncalibrated: it names nobody automatically until `facesight
    calibrate build --model NAME PEOPLE_DIR` (or a fixed --max-distance).

    \b
    Example:
        facesight models add w600k_r50.onnx --name arcface-r50 --preset arcface
    """
    settings = dict(ARCFACE_PRESET) if preset == "arcface" else {}
    given = {
        "input_px": input_px,
        "align": align,
        "mean": mean,
        "std": std,
        "bgr": bgr,
        "metric": metric,
    }
    settings.update({k: v for k, v in given.items() if v is not None})
    missing = [f"--{k}" for k in ("input_px", "align") if k not in settings]
    if missing:
        raise click.UsageError(
            f"give {' and '.join(m.replace('_px', '') for m in missing)}, or --preset arcface"
        )
    with open_library(ctx, create=True) as library:
        spec = library.add_model(file, name=name, **settings)
    console().print(
        f"registered {spec.name} ({spec.input_px} px, {spec.align} alignment, "
        f"{spec.metric}, {spec.length} values, sha256 {spec.sha256[:12]}); uncalibrated. "
        f"Use it with: facesight models use {spec.name}",
        markup=False,
    )


@models.command(name="use")
@click.argument("name")
@click.pass_context
def models_use(ctx: click.Context, name: str) -> None:
    """Make NAME the active model (`dlib` goes back to the built-in one).

    Faces and references described by another model are left out of matching until
    `facesight reindex` describes them with this one.

    \b
    Example:
        facesight models use arcface && facesight reindex
    """
    with open_library(ctx) as library:
        library.use_model(name)
        references, media = library.stale()
    console().print(
        f"{name} is the active model; {references} reference(s) and {media} media file(s) "
        "are described by another model: run `facesight reindex` to describe them with it",
        markup=False,
    )


@click.group()
def calibrate() -> None:
    """Measure a registered model's calibration on your own labelled faces."""


@calibrate.command(name="build")
@click.option("--model", "name", required=True, help="The registered model to calibrate.")
@click.argument(
    "people_dir",
    metavar="PEOPLE_DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.pass_context
def calibrate_build(ctx: click.Context, name: str, people_dir: Path) -> None:
    """Impostor tables for a model, from PEOPLE_DIR (one sub-folder of photos per person).

    The procedure that built the shipped tables: the people are split in two halves by
    name; the tables are measured on one half and the decision is checked on the other
    half's people (claimed vs observed false positives, printed below). The tables are
    kept with the model, and the library's faces are matched again when it is active.
    Use many people (tens at least, hundreds better): a small folder measures rare
    false matches poorly, and the check says so.

    \b
    Example:
        facesight calibrate build --model arcface ~/labelled/people
    """
    if name == DLIB_MODEL:
        raise click.BadParameter(
            "the built-in model's tables ship with facesight "
            "(python scripts/data/build_calibration.py); calibrate a registered model",
            param_hint="--model",
        )
    columns = (TextColumn("describing"), BarColumn(), MofNCompleteColumn())
    with (
        open_library(ctx) as library,
        Progress(*columns, console=console(stderr=True), transient=True) as bar,
    ):
        pipeline, _ = library.model_pipeline(name)
        cache = DescriptorCache(library.path / "cache" / "eval-descriptors.db")
        task = bar.add_task("describing", total=None)
        try:
            built = build_model_calibration(
                people_dir, pipeline, cache=cache, on_progress=lambda n: bar.advance(task, n)
            )
        finally:
            cache.close()
        library.calibrate_model(name, built.reference)
    out = console()
    out.print(
        f"{name}: tables measured on {built.people[0]} people ({built.faces[0]} faces), "
        f"checked on the other {built.people[1]} ({built.faces[1]} faces) of "
        f"{shown(str(people_dir))}",
        markup=False,
    )
    for size, table in sorted(built.reference.tables.items()):
        rarest = float(10 ** table.log10_fmr[0])
        cuts = [
            f"{level:g} {table.distance_at(level):.3f}"
            for level in (1e-2, 1e-3, 1e-4)
            if level >= rarest
        ]
        out.print(
            f"template of {size}: distance at FMR {', '.join(cuts) or '-'}; rarest rate "
            f"measured {rarest:.1e}, rarer ones extrapolated ({table.pairs} impostor comparisons)"
        )
    for check in built.checks:
        low, high = check.interval
        out.print(
            f"check: {check.drawn} people x {check.references} reference(s), target FPIR "
            f"{check.target_fpir:g}: claimed {check.claimed:.1f}, observed {check.observed:.1f} "
            f"false positive(s) (ratio {check.ratio:.2f}, 95 % {low:.2f} to {high:.2f})"
        )


COMMANDS: list[click.Command] = [models, calibrate]
