"""Text from users: person names, and control characters made visible.

File names, person names and ``--user`` come from whoever made the files or
typed the command. Printed as they are, a newline in a file name forges a
line of output, and an ESC or OSC sequence drives the terminal (colours,
window titles, hyperlinks, cursor moves). :func:`printable` shows every such
character as a backslash escape instead. It covers the C0 and C1 control
characters and DEL (Unicode category Cc), the line and paragraph separators,
and the bidirectional overrides that can make a name read backwards.

Person names are kept in Unicode NFC with runs of whitespace made one space
(:func:`normalize_name`) and compared by :func:`name_key` (NFC, then
``casefold``): "José" typed precomposed or with a combining accent, or as
"JOSÉ", is one person. Control characters are refused in names
(:func:`check_name`): a name travels into XMP sidecars, reports and file
names, where no escape is safe everywhere.
"""

from __future__ import annotations

import re
import unicodedata

from facesight.errors import InvalidInputError

__all__ = ["check_name", "has_control", "name_key", "normalize_name", "printable"]

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``str(text)`` with each control, separator or bidi-override character as an escape
    (``\\n``, ``\\x1b``, ``\\u202e``): one line, inert on any terminal."""
    return _UNSAFE.sub(_escape, str(text))


def has_control(text: str) -> bool:
    """True when ``text`` holds a character :func:`printable` would escape."""
    return _UNSAFE.search(text) is not None


def normalize_name(name: str) -> str:
    """A person's name as stored: NFC, whitespace runs as one space, no outer space."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def name_key(name: str) -> str:
    """What two names must share to be one person: NFC, whitespace folded, casefolded."""
    return unicodedata.normalize("NFC", normalize_name(name).casefold())


def check_name(name: str) -> str:
    """The normalized name, or ``InvalidInputError`` when it is empty or holds control
    characters (they break XMP sidecars, reports and terminals)."""
    if has_control(name):
        raise InvalidInputError(
            f"a person's name cannot hold control characters: {printable(name)!r} "
            "(newlines, escapes and direction overrides are refused)"
        )
    normalized = normalize_name(name)
    if not normalized:
        raise InvalidInputError("a person's name cannot be empty")
    return normalized
