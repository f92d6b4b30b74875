"""``facesight eval``: accuracy on labelled data (parse, run the evaluation, print)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from facesight.cli.common import F, console, open_library, shown
from facesight.config import resolve_library
from facesight.errors import FaceSightError
from facesight.eval.described import DescriptorCache
from facesight.eval.runs import EvalSetup
from facesight.library.directory import is_library, make_private_dir
from facesight.library.facade import Library

__all__ = ["COMMANDS"]


@click.group(name="eval")
def eval_group() -> None:
    """Measure accuracy on labelled data you have (LFW-style pairs, a folder per person).

    Descriptors are cached in the library folder's cache/, so a second run of
    the same data takes seconds. No library is needed: without one, the default
    pipeline runs and only the folder's caches are made.
    """


def _eval_progress() -> Progress:
    columns = (
        TextColumn("describing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=console(stderr=True), transient=True)


EvalRun = Callable[[EvalSetup, DescriptorCache, Callable[[int, int], None]], dict[str, Any]]


def _run_evaluation(ctx: click.Context, run: EvalRun, as_json: bool) -> dict[str, Any] | None:
    """Run an evaluation with the descriptor cache and a progress bar.

    With a library, its pipeline and decision; without one, the default pipeline: an
    evaluation reads labelled folders, not the library, so it never needs (or makes) a
    library database, only the folder's ``cache/`` and ``models/`` for its caches.
    Prints the figures as JSON and returns None when ``as_json``; else returns them.
    """
    location = resolve_library(ctx.obj["library"])
    if isinstance(location, str) or is_library(location, Library.DB_NAME):
        with open_library(ctx) as library:
            setup = EvalSetup(library.pipeline, library.reference_calibration, library.target_fpir)
            result = _evaluate(run, setup, library.path)
    else:
        try:
            directory = location
            make_private_dir(directory)
            setup = EvalSetup.standalone(
                directory / "models",
                device=ctx.obj["device"],
                target_fpir=ctx.obj["target_fpir"],
            )
            result = _evaluate(run, setup, directory)
        except FaceSightError as error:
            raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return None
    return result


def _evaluate(run: EvalRun, setup: EvalSetup, directory: Path) -> dict[str, Any]:
    with _eval_progress() as bar:
        cache = DescriptorCache(directory / "cache" / "eval-descriptors.db")
        task = bar.add_task("describing", total=None)
        try:
            return run(
                setup, cache, lambda done, total: bar.update(task, completed=done, total=total)
            )
        finally:
            cache.close()


def det_option(default: str) -> Callable[[F], F]:
    """``--det FILE``: where an evaluation writes its DET curve."""
    return click.option(
        "--det",
        "det_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help="Where to write the DET curve (PNG).",
    )


json_figures_option = click.option(
    "--json", "as_json", is_flag=True, help="Print every figure as one JSON object."
)


@eval_group.command(name="pairs")
@click.argument("pairs_file", metavar="PAIRS", type=click.Path(exists=True, path_type=Path))
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@det_option("facesight-det-pairs.png")
@json_figures_option
@click.pass_context
def eval_pairs(
    ctx: click.Context, pairs_file: Path, images: Path, det_path: Path, as_json: bool
) -> None:
    """1:1 verification on an LFW-style pair list (IMAGES/Name/Name_0001.jpg).

    Reports k-fold cross-validated accuracy (k = the folds of the file), TAR
    at FAR 1e-2 and 1e-3, faces not found, accuracy by quality band, and how
    the estimated false-match rate compares with the observed one.

    \b
    Example:
        facesight eval pairs lfw/pairs.txt lfw/people --json
    """
    from facesight.eval.runs import run_pairs  # evaluation code: only when evaluating

    result = _run_evaluation(
        ctx,
        lambda setup, cache, progress: run_pairs(
            pairs_file,
            images,
            pipeline=setup.pipeline,
            reference=setup.reference_calibration,
            cache=cache,
            det_path=det_path,
            progress=progress,
        ),
        as_json,
    )
    if result is None:
        return
    out = console()
    out.print(
        f"{result['pairs']} pairs ({result['same_pairs']} same), {result['images']} images, "
        f"{result['faces_not_found']} without a face found"
    )
    out.print(
        f"accuracy {100 * result['mean_accuracy']:.2f} % +- {100 * result['std_accuracy']:.2f} "
        f"({result['folds']}-fold cross-validated)"
    )
    for far, tar in result["tar_at_far"].items():
        out.print(
            f"TAR at FAR {far}: {100 * tar:.2f} % "
            f"(over {result['impostor_comparisons']} impostor comparisons)"
        )
    honesty = result["estimated_vs_observed_fmr"]
    for level in ("0.01", "0.001"):
        out.print(
            f"est. FMR {level} (distance {honesty['distance_at_' + level]:.3f}): "
            f"observed {honesty['observed_at_' + level]:.2e}"
        )
    for band, figures in result["accuracy_by_quality"].items():
        out.print(
            f"quality {band}: accuracy {100 * figures['accuracy']:.2f} % over "
            f"{int(figures['pairs'])} pairs"
        )
    out.print(f"DET curve: {shown(result['det_curve'])}; {result['seconds']:.0f} s")


@eval_group.command(name="identify")
@click.argument(
    "root", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--references",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Reference images per enrolled person (the first K, by name).",
)
@click.option(
    "--probes-from",
    type=click.IntRange(1),
    help="Probe with images from the (M+1)-th on and enroll people with more than M "
    "images (default: K), to compare different --references on the same probes.",
)
@det_option("facesight-det-identify.png")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="facesight-identify.html",
    show_default=True,
    help="Where to write the one-page HTML report.",
)
@json_figures_option
@click.pass_context
def eval_identify(
    ctx: click.Context,
    root: Path,
    references: int,
    probes_from: int | None,
    det_path: Path,
    html_path: Path,
    as_json: bool,
) -> None:
    """1:N identification on a folder per person.

    Enrolled: people with at least 2 images (K+1 with --references K); their
    first K images are references. Mated probes: their other images.
    Non-mated probes: people with a single image. Reports closed-set rank-1,
    FNIR at FPIR 1e-2 and 1e-3, failure to detect, and the FPIR observed at
    the library's default decision (--target-fpir).

    \b
    Example:
        facesight eval identify lfw/people --references 3 --json
    """
    from facesight.eval.runs import run_identification  # only when evaluating

    result = _run_evaluation(
        ctx,
        lambda setup, cache, progress: run_identification(
            root,
            pipeline=setup.pipeline,
            reference=setup.reference_calibration,
            references=references,
            probes_from=probes_from,
            target_fpir=setup.target_fpir,
            cache=cache,
            det_path=det_path,
            html_path=html_path,
            progress=progress,
        ),
        as_json,
    )
    if result is None:
        return
    out = console()
    out.print(
        f"{result['enrolled']} enrolled ({result['references_per_person']} reference(s) each, "
        f"centroid template), {result['mated_probes']} mated and "
        f"{result['nonmated_probes']} non-mated probes; failure to detect "
        f"{100 * result['failure_to_detect_rate']:.2f} %"
    )
    out.print(f"rank-1 accuracy {100 * result['rank1_accuracy']:.2f} %")
    for level, fnir in result["fnir_at_fpir"].items():
        out.print(f"FNIR at FPIR {level}: {100 * fnir:.2f} %")
    out.print(
        f"default decision (target FPIR {result['default_target_fpir']:g}): observed FPIR "
        f"{result['default_observed_fpir']:.4f} ({result['default_false_positives']} of "
        f"{result['nonmated_probes']}), FNIR {100 * result['default_fnir']:.2f} %"
    )
    for band, figures in result["fnir_by_quality"].items():
        out.print(
            f"quality {band}: FNIR {100 * figures['fnir']:.2f} % over {int(figures['probes'])}"
        )
    out.print(f"DET curve: {shown(result['det_curve'])}; report: {shown(result['html_report'])}")


COMMANDS: list[click.Command] = [eval_group]
