"""A library named by a ``postgresql://`` URL: taken as a URL, its password never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesight.cli.main import cli
from facesight.config import resolve_library
from facesight.location import is_postgres_url, redact, redact_url

from .paths import PEOPLE

SECRET = "s3cret-Pa55"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ana:s3cret@db.example/lib", "postgresql://ana:***@db.example/lib"),
        ("postgres://ana:p%40ss@db:5433/lib", "postgres://ana:***@db:5433/lib"),
        ("postgresql://ana@db/lib", "postgresql://ana@db/lib"),
        (
            "postgresql:///lib?host=/run/pg&password=s3cret",
            "postgresql:///lib?host=/run/pg&password=***",
        ),
        ("postgresql:///lib?service=facesight", "postgresql:///lib?service=facesight"),
        ("/home/ana/library", "/home/ana/library"),
    ],
)
def test_a_password_in_a_url_is_replaced_wherever_it_is(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    message = f"cannot open {url}: password authentication failed (s3cret, p@ss)"
    for secret in ("s3cret", "p%40ss", "p@ss"):
        if secret in url or (secret == "p@ss" and "p%40ss" in url):
            assert secret not in redact(message, url)


def test_a_url_stays_a_url_and_a_folder_becomes_a_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "postgresql://ana@db.example/lib"
    assert resolve_library(url) == url and is_postgres_url(url)
    monkeypatch.setenv("FACESIGHT_LIBRARY", url)
    assert resolve_library(None) == url
    assert resolve_library(str(tmp_path)) == tmp_path


def _with_password(postgres_url: str) -> str:
    """The test server trusts local sockets: a password is accepted and ignored."""
    return postgres_url.replace("postgresql://postgres:@", f"postgresql://postgres:{SECRET}@")


def test_the_cli_works_on_a_url_and_never_prints_its_password(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the local files folder
    url = _with_password(postgres_url)
    runner = CliRunner(env={"COLUMNS": "250"})
    obama = str(sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))[0])
    outputs = []
    for args in (
        ["init"],
        ["enroll", "Barack Obama", obama],
        ["people", "--json"],
        ["audit", "verify"],
        ["audit", "--json"],
    ):
        result = runner.invoke(cli, ["--library", url, *args])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "postgresql://postgres:***@" in outputs[0]
    assert [p["name"] for p in json.loads(outputs[2])] == ["Barack Obama"]
    assert not (tmp_path / "postgresql:").exists()  # never a folder named after the URL
    assert all(SECRET not in out for out in outputs)
    # the audit log names no library location at all, with or without a password
    assert SECRET not in outputs[4]


def test_a_failed_connection_names_the_library_without_its_password(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    wrong = _with_password(postgres_url).replace("/facesight_test_", "/no_such_db_")
    result = CliRunner().invoke(cli, ["--library", wrong, "people"])
    assert result.exit_code == 1
    assert "no_such_db_" in result.output and SECRET not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
