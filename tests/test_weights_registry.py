"""Model weights read out of installed packages without running them (``models/registry``)."""

from __future__ import annotations

import ast
import py_compile
import sys
from pathlib import Path

import pytest

from facesight.errors import WeightsNotFoundError
from facesight.vision.models.registry import bytes_literal, package_dir, retinaface_onnx_bytes


def test_retinaface_weights_are_the_literal_in_the_package() -> None:
    path = package_dir("retinaface") / "weights.py"
    tree = ast.parse(path.read_bytes())  # the oracle: Python's own parse of the literal
    (literal,) = (
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    )
    assert retinaface_onnx_bytes() == literal
    assert "retinaface" not in sys.modules  # its __init__ imports OpenCV


def test_the_module_is_compiled_never_run(tmp_path: Path) -> None:
    module = tmp_path / "weights_mod.py"
    module.write_text(
        "import a_module_that_does_not_exist\nWEIGHTS = b'\\x00\\xffok'\nraise SystemExit(3)\n"
    )
    assert bytes_literal(module, "WEIGHTS") == b"\x00\xffok"
    assert "weights_mod" not in sys.modules


def test_a_stale_bytecode_file_is_not_believed(tmp_path: Path) -> None:
    module = tmp_path / "weights_mod.py"
    module.write_text("WEIGHTS = b'old'\n")
    py_compile.compile(str(module), doraise=True)
    assert bytes_literal(module, "WEIGHTS") == b"old"
    module.write_text("WEIGHTS = b'newer'\n")  # another size: the .pyc no longer matches
    assert bytes_literal(module, "WEIGHTS") == b"newer"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("OTHER = b'x'\n", "holds no WEIGHTS bytes literal"),
        ("WEIGHTS = 'text, not bytes'\n", "holds no WEIGHTS bytes literal"),
        ("DATA = b'x'\nWEIGHTS = DATA\n", "holds no WEIGHTS bytes literal"),
        ("WEIGHTS = b'x' +\n", "cannot read"),
    ],
)
def test_a_module_without_the_literal_is_one_clear_error(
    tmp_path: Path, source: str, problem: str
) -> None:
    module = tmp_path / "weights_mod.py"
    module.write_text(source)
    with pytest.raises(WeightsNotFoundError, match=problem) as error:
        bytes_literal(module, "WEIGHTS")
    assert str(module) in str(error.value)


def test_a_missing_module_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="cannot read"):
        bytes_literal(tmp_path / "absent.py", "WEIGHTS")
