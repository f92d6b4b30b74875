"""Cells of every CSV facesight writes, made safe to open in a spreadsheet or a terminal.

Names, file names and notes come from users and from the files scanned, so a cell may
hold a formula (``=HYPERLINK(...)``, ``@SUM(...)``) that a spreadsheet would run, or a
terminal escape sequence that ``cat`` would obey. :func:`safe_cell` neutralises both:

- OWASP's rule for CSV injection (https://owasp.org/www-community/attacks/CSV_Injection):
  a cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a single
  quote in front, so spreadsheets show it as text. Plain numbers (``-0.25``, ``1e-05``)
  are left as they are: no spreadsheet runs them, and they must stay numbers.
- Control characters other than tab, line feed and carriage return (which the ``csv``
  module quotes) are written as visible escapes: ESC becomes the four characters ``\\x1b``.

Every CSV writer in facesight goes through :func:`safe_cell` (or :func:`csv_text`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["csv_text", "safe_cell"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# C0 controls but tab, LF and CR; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def safe_cell(value: str) -> str:
    """``value`` as a CSV cell that neither a spreadsheet nor a terminal will execute."""
    text = _CONTROL.sub(_escaped, value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """CSV text with ``header`` and a line per row; every cell through :func:`safe_cell`.

    ``None`` is an empty cell; other values are written as ``str(value)``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell("" if row.get(k) is None else str(row.get(k))) for k in header])
    return buffer.getvalue()
