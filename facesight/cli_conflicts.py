"""``facesight`` commands: conflicts (parse, call the library, print)."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []
