"""Outputs: atomic, never replacing what is not a regular file, clear errors for missing folders."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesight.cli.main import cli
from facesight.errors import OutputError
from facesight.files import atomic_file, atomic_path, sha256_file, write_text_atomically
from facesight.library.facade import Library


def _device(tmp_path: Path) -> Path:
    """A character device like /dev/full, made in the test's own folder (root only)."""
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return node


def test_a_device_node_is_never_replaced(tmp_path: Path) -> None:
    node = _device(tmp_path)
    with pytest.raises(OutputError, match="not a regular file"):
        write_text_atomically(node, "rows")
    assert stat.S_ISCHR(node.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["full"]  # no temp file left


def test_a_fifo_and_a_link_to_one_are_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for target in (fifo, link):
        with pytest.raises(OutputError, match="not a regular file"), atomic_file(target) as out:
            out.write(b"x")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()


def test_a_link_to_a_regular_file_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_text_atomically(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_missing_folder_is_a_clear_error_when_not_created(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no such folder"):
        write_text_atomically(tmp_path / "nodir" / "x.jsonl", "{}", make_parents=False)
    assert not (tmp_path / "nodir").exists()


def test_dash_is_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    write_text_atomically(Path("-"), "to stdout\n")
    assert capsys.readouterr().out == "to stdout\n"


def _library(tmp_path: Path) -> Path:
    Library(tmp_path / "lib").close()
    return tmp_path / "lib"


def test_cli_embed_into_a_missing_folder_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--library", str(_library(tmp_path)), "embed", str(tmp_path), "-o", "nodir/x.jsonl"],
    )
    assert result.exit_code == 1, result.output
    assert "nodir" in result.output and "no such folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_report_refuses_a_device_node(tmp_path: Path) -> None:
    node = _device(tmp_path)
    result = CliRunner().invoke(
        cli, ["--library", str(_library(tmp_path)), "report", "--all", "--csv", str(node)]
    )
    assert result.exit_code == 1 and "not a regular file" in result.output
    assert stat.S_ISCHR(node.lstat().st_mode)


def test_atomic_path_replaces_on_success_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new" and sorted(tmp_path.iterdir()) == [target]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_sha256_file_is_the_content_hash(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)  # more than one read block
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
