"""Every figure in README.md and docs/ names the command that prints it, and that command exists.

A table row holding a number (outside code spans and the row's first cell, which names
what is measured) must name a command in the row itself or in its section (the text from
the heading above the table to the table): ``facesight ...``, ``python bench/...``,
``python scripts/...``, ``bash bench/...`` or ``pytest ...``. Each command must exist:
the script or test file is in the repository, the ``facesight`` subcommand is in the
CLI, and every ``--option`` it passes is one that script or command takes.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from facesight.cli.main import cli

from .paths import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

COMMAND = re.compile(
    r"(?:PYTHONPATH=\S+\s+)?(facesight\s[^`|#]*|python\s+(?:bench|scripts)/\S+\.py[^`|#]*"
    r"|bash\s+(?:bench|scripts)/\S+\.sh[^`|#]*|pytest\s[^`|#]*)"
)
CODE_SPAN = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^#{1,6}\s")


@dataclass(frozen=True)
class Row:
    doc: Path
    line: int
    text: str
    section: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}: {self.text.strip()}"


def commands_in(text: str) -> list[str]:
    """The commands named in code spans of ``text`` (prose, lines joined by spaces)."""
    spans = [span.strip("`") for span in CODE_SPAN.findall(text)]
    return [m.group(1).strip() for span in spans for m in COMMAND.finditer(span)]


def fenced_commands(line: str) -> list[str]:
    """The commands of a line of a fenced code block (a ``  #`` comment ends it)."""
    return [m.group(1).strip() for m in COMMAND.finditer(line.split("  #")[0])]


def table_rows(doc: Path) -> list[Row]:
    """The body rows of every table in ``doc``, each with the commands of its section.

    A row's section is the text from the heading above it to the table; a command in
    the doc's preamble (before its first ``##`` heading) or in its ``## Commands``
    section serves the whole doc.
    """
    rows: list[Row] = []
    preamble: list[str] = []
    section: list[str] = []
    prose: list[str] = []
    fenced = False
    in_preamble = True
    lines = doc.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            section += fenced_commands(line)
            continue
        if HEADING.match(line):
            if in_preamble:
                preamble += section + commands_in(" ".join(prose))
            in_preamble = line.startswith("# ") or line.strip() == "## Commands"
            section, prose = [], []
            continue
        is_table = line.startswith("|")
        previous = lines[number - 2] if number > 1 else ""
        header = is_table and not previous.startswith("|")
        separator = is_table and set(line.replace("|", "").strip()) <= set("-: ")
        if is_table and not header and not separator:
            named = section + commands_in(" ".join(prose)) + preamble
            rows.append(Row(doc, number, line, tuple(named)))
        elif not is_table:
            prose.append(line)
    return rows


def has_figure(row: Row) -> bool:
    """A number outside code spans and the first cell (which names what was measured)."""
    cells = CODE_SPAN.sub("", row.text).strip().strip("|").split("|")
    return any(re.search(r"\d", cell) for cell in cells[1:])


def _facesight_missing(command: str) -> list[str]:
    """What of ``facesight ...`` the CLI lacks: a subcommand or an option."""
    words = shlex.split(command)[1:]
    current: click.Command = cli
    params = {o: p for p in cli.params for o in p.opts}
    problems = []
    while words:
        word, words = words[0], words[1:]
        if word.startswith("-"):
            param = params.get(word.split("=")[0])
            if param is None:
                problems.append(f"no option {word}")
            elif isinstance(param, click.Option) and not param.is_flag and "=" not in word:
                words = words[1:]
        elif isinstance(current, click.Group):
            found = current.get_command(click.Context(current), word)
            if found is None:
                return [*problems, f"no command {word!r}"]
            current = found
            params |= {o: p for p in current.params for o in p.opts}
    return problems


def missing(command: str) -> list[str]:
    """Why ``command`` cannot run as written (an empty list when it can)."""
    words = shlex.split(command.replace("PYTHONPATH=. ", ""))
    if words[0] == "facesight":
        return _facesight_missing(command)
    if words[0] == "pytest":  # its test paths, past options such as ``-m slow``
        targets = [w.split("::")[0] for w in words[1:] if w.startswith("tests")]
        return [f"no file {t}" for t in targets or [""] if not t or not (REPO / t).exists()]
    target = words[1].split("::")[0] if len(words) > 1 else ""
    path = REPO / target
    if not path.is_file():
        return [f"no file {target}"]
    source = path.read_text()
    return [
        f"{target} takes no {w}"
        for w in words[2:]
        if w.startswith("--") and f'"{w.split("=")[0]}"' not in source
    ]


ROWS = [row for doc in DOCS for row in table_rows(doc) if has_figure(row)]


def test_the_docs_have_figure_rows() -> None:
    assert len(ROWS) > 40, [str(r) for r in ROWS]


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_every_figure_names_a_command_that_exists(row: Row) -> None:
    named = commands_in(row.text) or list(row.section)
    assert named, f"{row}: name the command that prints this figure, in the row or its section"
    problems = [f"{c}: {p}" for c in named for p in missing(c)]
    assert not problems, f"{row}: {problems}"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("facesight eval pairs a b", None),
        ("facesight --library x eval identify p --references 3", None),
        ("facesight eval nothing", "no command"),
        ("facesight eval pairs a b --nothing", "no option"),
        ("facesight nothing", "no command"),
        ("python bench/pipeline_throughput.py --quick", None),
        ("python bench/pipeline_throughput.py --fast", "takes no --fast"),
        ("python bench/nothing.py", "no file"),
        ("pytest tests/test_docs.py", None),
        ("pytest tests/test_nothing.py", "no file"),
        ("pytest -m slow tests/test_docs.py", None),
        ("pytest -m slow tests/test_nothing.py", "no file"),
    ],
)
def test_missing_commands_are_caught(command: str, problem: str | None) -> None:
    found = missing(command)
    if problem is None:
        assert found == []
    else:
        assert found and problem in found[0], found
