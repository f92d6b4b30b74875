"""Evaluation reports: DET rates from distances, the PNG plot and the self-contained HTML page."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError, UnreadableMediaError, UnsupportedMediaError
from facesight.eval.html import ReportSection, render_report, write_report
from facesight.eval.plots import ErrorCurve, error_curve, png_data_uri, save_det_plot

NAN = float("nan")


def _curve() -> ErrorCurve:
    genuine = np.array([0.1, 0.3, NAN, 0.5])
    impostor = np.array([0.6, 0.2, NAN, 0.4, 0.3])
    return error_curve("model A", genuine, impostor)


def test_error_curve_exact_rates_with_nan() -> None:
    curve = _curve()
    # Thresholds 0.1 .. 0.6; 4 finite impostors (the NaN one is ignored); 4 genuine pairs,
    # the NaN one a miss at every threshold.
    assert curve.label == "model A"
    assert curve.false_positive.dtype == np.float64
    np.testing.assert_array_equal(curve.false_positive, np.array([0, 1, 2, 3, 3, 4]) / 4)
    np.testing.assert_array_equal(curve.false_negative, np.array([3, 3, 2, 2, 1, 1]) / 4)


def test_error_curve_ties_are_accepted() -> None:
    curve = error_curve("ties", np.array([0.5, 0.5]), np.array([0.5, 0.7]))
    np.testing.assert_array_equal(curve.false_positive, [0.5, 1.0])
    np.testing.assert_array_equal(curve.false_negative, [0.0, 0.0])


def test_error_curve_all_genuine_missing_is_always_a_miss() -> None:
    curve = error_curve("none found", np.array([NAN, NAN]), np.array([0.2, 0.4]))
    np.testing.assert_array_equal(curve.false_positive, [0.5, 1.0])
    np.testing.assert_array_equal(curve.false_negative, [1.0, 1.0])


def test_error_curve_matches_brute_force_on_random_distances() -> None:
    rng = np.random.default_rng(7)
    genuine = np.round(rng.uniform(0, 1, 50), 2)
    genuine[[3, 17]] = NAN
    impostor = np.round(rng.uniform(0.3, 1.3, 80), 2)
    impostor[[0, 40]] = NAN
    curve = error_curve("random", genuine, impostor)
    thresholds = np.unique(np.concatenate([genuine, impostor])[~np.isnan([*genuine, *impostor])])
    finite_impostor = impostor[~np.isnan(impostor)]
    for i, t in enumerate(thresholds):
        assert curve.false_positive[i] == np.mean(finite_impostor <= t)
        assert curve.false_negative[i] == np.mean(~(genuine <= t))


@pytest.mark.parametrize(
    ("genuine", "impostor"),
    [
        (np.array([]), np.array([0.1])),
        (np.array([0.1]), np.array([NAN, NAN])),
        (np.array([[0.1]]), np.array([0.1])),
    ],
)
def test_error_curve_invalid_input_raises(
    genuine: NDArray[np.float64], impostor: NDArray[np.float64]
) -> None:
    with pytest.raises(InvalidInputError):
        error_curve("bad", genuine, impostor)


def test_error_curve_rates_of_unequal_length_raise() -> None:
    with pytest.raises(InvalidInputError, match="one length"):
        ErrorCurve("bad", np.array([0.1, 0.2]), np.array([0.5]))


def test_save_det_plot_writes_real_png(tmp_path: Path) -> None:
    perfect = error_curve("perfect", np.array([0.1, 0.2]), np.array([0.8, 0.9]))
    path = tmp_path / "plots" / "det.png"
    save_det_plot(
        [_curve(), perfect], path, title="DET", x_label="false match rate", y_label="miss rate"
    )
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (640, 480)
        colours = image.convert("RGB").getcolors(maxcolors=640 * 480)
    assert colours is not None and len(colours) > 1
    assert [p.name for p in path.parent.iterdir()] == ["det.png"]  # no temp file left behind


def test_save_det_plot_without_curves_raises(tmp_path: Path) -> None:
    path = tmp_path / "det.png"
    with pytest.raises(InvalidInputError):
        save_det_plot([], path, title="DET", x_label="x", y_label="y")
    assert not path.exists()


def test_png_data_uri_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "det.png"
    save_det_plot([_curve()], path, title="DET", x_label="x", y_label="y", marks=())
    uri = png_data_uri(path)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.removeprefix("data:image/png;base64,")) == path.read_bytes()


def test_png_data_uri_rejects_missing_and_non_png(tmp_path: Path) -> None:
    with pytest.raises(UnreadableMediaError):
        png_data_uri(tmp_path / "missing.png")
    text = tmp_path / "not.png"
    text.write_text("hello")
    with pytest.raises(UnsupportedMediaError):
        png_data_uri(text)


def test_render_report_escapes_embeds_and_lists_every_row(tmp_path: Path) -> None:
    plot = tmp_path / "det.png"
    save_det_plot([_curve()], plot, title="DET", x_label="x", y_label="y")
    sections = [
        ReportSection(
            "Accuracy & <rates>", [("<script>alert(1)</script>", "99.1%"), ("EER", "2.5%")]
        ),
        ReportSection("Speed", [("detect_ms", "12.0")], note="CPU, 2 cores"),
    ]
    page = render_report("LFW <dev>", sections, images={"DET curve": plot})

    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>LFW &lt;dev&gt;</title>" in page
    assert "<h2>Accuracy &amp; &lt;rates&gt;</h2>" in page
    for row in ["99.1%", "EER", "2.5%", "detect_ms", "12.0"]:
        assert f">{row}<" in page
    assert '<p class="note">CPU, 2 cores</p>' in page
    assert page.count("<table>") == 2
    assert f'<img src="{png_data_uri(plot)}" alt="DET curve">' in page
    assert 'src="data:image/png;base64,' in page
    assert not re.search(r"https?://|<link|@import", page)  # self-contained
    assert re.search(
        r"generated by facesight \d+\.\d+\S* on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", page
    )


def test_write_report_is_utf8_and_leaves_no_temp_file(tmp_path: Path) -> None:
    page = render_report("Café ✓", [ReportSection("Zoë", [("naïve", "1 µs")])])
    path = tmp_path / "out" / "report.html"
    write_report(path, page)
    assert path.read_bytes().decode("utf-8") == page
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
