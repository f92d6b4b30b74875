"""One-off, after ``scripts/restructure.py``: move what two sibling layers share into the kernel.

Run from anywhere inside a restructured, clean checkout::

    python scripts/restructure_kernel.py

Each move takes top-level definitions (a function, a class, or a constant with the docstring
under it) out of their module into a kernel module, leaves an import behind (the old module
re-exports them: its ``__all__`` is untouched), points every ``from facesight.old import name``
in facesight/ at the new module, then sorts imports, drops the ones left unused and formats
(ruff). It stops, changing nothing, if a definition is not where the table says.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

# (module the names leave, names, kernel module they go to), applied in this order
MOVES: list[tuple[str, list[str], str]] = [
    ("vision.embed", ["EMBEDDING_DIM", "DESCRIPTOR_LENGTH"], "descriptors"),
    ("vision.track", ["FUSED_FACES"], "descriptors"),
    ("identity.match", ["fuse", "pairwise_distances", "Templates", "Gallery"], "descriptors"),
    ("scan.collection", ["ScanEvent"], "records"),
    ("store.reviews", ["person_id_of"], "records"),  # the edges ask who a sighting is
    ("media.video", ["format_timecode"], "timecode"),
    ("identity.calibrate", ["DEFAULT_TARGET_FPIR"], "defaults"),
    ("media.images", ["DEFAULT_MAX_PIXELS"], "defaults"),
    ("media.video", ["DEFAULT_RATE_FPS"], "defaults"),
]

NEW_MODULES: dict[str, str] = {
    "descriptors": '''"""\
The descriptor contract the layers share: size, length, fusing, distances, the gallery.

``vision.embed`` makes descriptors of ``EMBEDDING_DIM`` numbers scaled to
``DESCRIPTOR_LENGTH``; ``vision.track`` fuses a track's ``FUSED_FACES`` best
faces with :func:`fuse`; ``store`` hands enrolled references back as a
:class:`Gallery`; ``identity.match`` compares them with
:func:`pairwise_distances`. Kept in the kernel (numpy only) so that none of
those layers has to import another for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
''',
    "timecode": '''"""Positions in video as people read them: ``HH:MM:SS.mmm``."""

from __future__ import annotations
''',
    "defaults": '''"""\
The defaults every edge offers (the CLI's options, next the web workspace's forms).

Kept in the kernel so an edge can show them without importing the layer that uses them
(``identity.calibrate``, ``media.images``, ``media.video``), which re-export them.
"""

from __future__ import annotations
''',
}


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    pkg = repo / "facesight"
    if not (pkg / "vision" / "__init__.py").is_file():
        sys.exit("refusing: run scripts/restructure.py first")
    if (pkg / "descriptors.py").exists():
        sys.exit("refusing: facesight/descriptors.py exists (already run?)")
    touched: set[Path] = set()
    for source, names, target in MOVES:
        src, dst = module_path(pkg, source), pkg / f"{target}.py"
        blocks = cut_definitions(src, names)
        append_definitions(dst, target, names, blocks)
        add_import(src, f"from facesight.{target} import {', '.join(names)}")
        touched |= {src, dst}
        for path in pkg.rglob("*.py"):
            if path != src and retarget(path, f"facesight.{source}", set(names), target):
                touched.add(path)
        print(f"  {', '.join(names)}: facesight.{source} -> facesight.{target}")
    tidy(repo, sorted(touched))
    return 0


def module_path(pkg: Path, dotted: str) -> Path:
    return pkg.joinpath(*dotted.split(".")).with_suffix(".py")


def top_level_spans(tree: ast.Module, names: list[str]) -> dict[str, tuple[int, int]]:
    """1-based (first, last) line of each named definition, a constant's docstring included."""
    spans = {}
    body = tree.body
    for i, node in enumerate(body):
        name = None
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            name = node.name
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
        elif isinstance(node, ast.AnnAssign):
            name = getattr(node.target, "id", None)
        if name not in names:
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        last = node.end_lineno or node.lineno
        after = body[i + 1] if i + 1 < len(body) else None
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and _is_docstring(after):
            last = after.end_lineno or last  # type: ignore[union-attr]
        spans[name] = (first, last)
    return spans


def _is_docstring(node: ast.stmt | None) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def cut_definitions(path: Path, names: list[str]) -> list[str]:
    lines = path.read_text().splitlines(keepends=True)
    spans = top_level_spans(ast.parse("".join(lines)), names)
    missing = [n for n in names if n not in spans]
    if missing:
        sys.exit(f"refusing: {', '.join(missing)} not defined at the top of {path}")
    blocks = ["".join(lines[a - 1 : b]) for a, b in (spans[n] for n in names)]
    for a, b in sorted(spans.values(), reverse=True):
        del lines[a - 1 : b]
    path.write_text("".join(lines))
    return blocks


def append_definitions(path: Path, target: str, names: list[str], blocks: list[str]) -> None:
    text = path.read_text() if path.exists() else NEW_MODULES[target]
    tree = ast.parse(text)
    exported = _all_names(tree)
    joined = "\n".join(b.rstrip() + "\n" for b in blocks)  # ruff format spaces defs
    text = text.rstrip() + "\n\n" + joined
    new_all = sorted(set(exported or []) | set(names))
    listing = "__all__ = [\n" + "".join(f'    "{n}",\n' for n in new_all) + "]\n"
    if exported is None:
        text = _insert_after_imports(text, listing)
    else:
        text = re.sub(r"^__all__ = \[[^\]]*\]\n", lambda _m: listing, text, count=1, flags=re.M)
    path.write_text(text)


def _all_names(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
            return [e.value for e in node.value.elts]  # type: ignore[attr-defined]
    return None


def _insert_after_imports(text: str, addition: str) -> str:
    tree = ast.parse(text)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    lines = text.splitlines(keepends=True)
    at = imports[-1].end_lineno if imports else 1
    return "".join(lines[:at]) + "\n" + addition + "".join(lines[at:])


def add_import(path: Path, statement: str) -> None:
    path.write_text(_insert_after_imports(path.read_text(), statement + "\n"))


def retarget(path: Path, old: str, names: set[str], target: str) -> bool:
    """Point ``from old import <names>`` in ``path`` at ``facesight.target``."""
    text = path.read_text()
    nodes = [
        n
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.ImportFrom) and n.module == old and {a.name for a in n.names} & names
    ]
    if not nodes:
        return False
    lines = text.splitlines(keepends=True)
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        pad = " " * node.col_offset
        keep = [_alias(a) for a in node.names if a.name not in names]
        move = [_alias(a) for a in node.names if a.name in names]
        new = [f"{pad}from facesight.{target} import {', '.join(move)}\n"]
        if keep:
            new.insert(0, f"{pad}from {old} import {', '.join(keep)}\n")
        lines[node.lineno - 1 : node.end_lineno] = new
    path.write_text("".join(lines))
    return True


def _alias(alias: ast.alias) -> str:
    return alias.name + (f" as {alias.asname}" if alias.asname else "")


def tidy(repo: Path, files: list[Path]) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    paths = [str(p) for p in files]
    fix = [ruff, "check", "--select", "I,F401,RUF022", "--fix", "--quiet", *paths]
    subprocess.run(fix, cwd=repo, check=False)
    subprocess.run([ruff, "format", "--quiet", *paths], cwd=repo, check=False)


if __name__ == "__main__":
    sys.exit(main())
