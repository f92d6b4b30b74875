"""The scripts that produce shipped data (scripts/data/): smoke runs, and no private imports.

The other scripts/data smoke runs live beside what they measure: ``check_calibration.py
--quick`` and ``measure_video_rules.py --quick`` (against the shipped factors) in
test_calibration.py, ``measure_quality_rule.py --quick`` in test_quality.py.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import numpy as np

from facesight.vision.align import CHIP_KPS5

from .paths import REPO

DATA_SCRIPTS = REPO / "scripts" / "data"
STUDIES = REPO / "scripts" / "studies"


def _private_imports(path: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(path):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("facesight"):
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("_")]
    return found


def test_scripts_import_no_private_names() -> None:
    scripts = sorted([*DATA_SCRIPTS.glob("*.py"), *STUDIES.glob("*.py")])
    assert len(scripts) >= 7
    private = {
        p.name: names
        for p in scripts
        if (names := [n for n in _private_imports(ast.parse(p.read_text())) if n != "__future__"])
    }
    assert private == {}


def test_fit_chip_template_quick_lands_near_the_shipped_template() -> None:
    done = subprocess.run(
        [sys.executable, str(DATA_SCRIPTS / "fit_chip_template.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
    )
    line = re.search(r"CHIP_KPS5 = (\[.*\])", done.stdout)
    assert line is not None, done.stdout
    measured = np.array(ast.literal_eval(line.group(1)), np.float32)
    # 12 faces, not the 1,563 of the shipped fit: within a few chip pixels of it
    assert measured.shape == (5, 2)
    assert np.abs(measured - CHIP_KPS5).max() < 10, measured
    assert "12 images, 12 faces measured" in done.stdout
