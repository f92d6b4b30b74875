"""``facesight users``: the review workspace's accounts and API tokens (parse, call, print).

The first admin is made here (``users add NAME --role admin``): there is no default
account or password anywhere. Passwords are read from a hidden prompt (typed twice) or,
with ``--password-stdin``, as one line of standard input; never from an argument, which
other users of the machine could read in the process list.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from facesight.cli.common import console, open_library, output_options, print_rows
from facesight.library.accounts import DEFAULT_TOKEN_DAYS, MIN_PASSWORD_LENGTH
from facesight.library.roles import Role
from facesight.text import printable

__all__ = ["COMMANDS"]

_PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password as one line of standard input instead of prompting.",
)


def _read_password(from_stdin: bool) -> str:
    if not from_stdin:
        return str(
            click.prompt(
                f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
                hide_input=True,
                confirmation_prompt=True,
            )
        )
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password[:-1] if password.endswith("\r") else password
    if not password:
        raise click.UsageError("--password-stdin: standard input held no password line")
    return password


@click.group(invoke_without_command=True)
@click.pass_context
def users(ctx: click.Context) -> None:
    """Manage the accounts of the review workspace (`facesight serve`) and their API tokens.

    Roles: viewer (see, search, download reports), reviewer (also confirm, reject,
    assign, split and merge unknowns), admin (everything: naming, enrolling, scans,
    users, the audit log). See docs/review-workspace.md.

    \b
    Examples:
        facesight users add alice --role admin
        echo "$PASSWORD" | facesight users add bob --role reviewer --password-stdin
        facesight users token bob --expires 30
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="viewer: look and search; reviewer: also decide; admin: everything.",
)
@_PASSWORD_STDIN
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Make the account NAME with a password (at least 12 characters, not the name)."""
    password = _read_password(password_stdin)
    with open_library(ctx) as library:
        account = library.accounts.add(name, role, password)
    console().print(f"added {account.name} ({account.role})", markup=False)


@users.command("list")
@output_options
@click.pass_context
def users_list(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List the accounts, their roles and whether they are disabled."""
    with open_library(ctx) as library:
        rows = [asdict(a) for a in library.accounts.accounts()]
    print_rows(rows, as_json, as_csv, "Accounts")


@users.command("disable")
@click.argument("name")
@click.pass_context
def users_disable(ctx: click.Context, name: str) -> None:
    """Disable NAME: its sessions end and its API tokens are revoked at once."""
    with open_library(ctx) as library:
        account = library.accounts.disable(name)
    console().print(f"disabled {account.name}: its sessions and tokens ended", markup=False)


@users.command("passwd")
@click.argument("name")
@_PASSWORD_STDIN
@click.pass_context
def users_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; its sessions end (its API tokens stay)."""
    password = _read_password(password_stdin)
    with open_library(ctx) as library:
        library.accounts.set_password(name, password)
    console().print(f"password of {printable(name)} changed; its sessions ended", markup=False)


@users.command("token")
@click.argument("name")
@click.option(
    "--expires",
    "expires_days",
    type=click.FloatRange(0, 36500, min_open=True),
    default=DEFAULT_TOKEN_DAYS,
    show_default=True,
    metavar="DAYS",
    help="Days until the token stops working.",
)
@click.option("--no-expiry", is_flag=True, help="The token works until it is revoked.")
@click.pass_context
def users_token(ctx: click.Context, name: str, expires_days: float, no_expiry: bool) -> None:
    """Issue an API token for NAME, printed on the last line (shown this once only).

    Clients send it as `Authorization: Bearer TOKEN`. Revoke it with
    `facesight users revoke ID`.
    """
    with open_library(ctx) as library:
        issued = library.accounts.issue_token(
            name, expires_days=None if no_expiry else expires_days
        )
    click.echo(
        f"API token {issued.id} for {printable(name)}, expires {issued.expires_at or 'never'}; "
        "it is shown this once only (facesight keeps only its hash):"
    )
    click.echo(issued.secret)


@users.command("tokens")
@click.argument("name", required=False)
@output_options
@click.pass_context
def users_tokens(ctx: click.Context, name: str | None, as_json: bool, as_csv: bool) -> None:
    """List the API tokens (of NAME only when given), without their secrets."""
    with open_library(ctx) as library:
        rows = [asdict(t) for t in library.accounts.tokens(name)]
    print_rows(rows, as_json, as_csv, "API tokens")


@users.command("revoke")
@click.argument("token_id", metavar="TOKEN-ID", type=click.IntRange(1))
@click.pass_context
def users_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke the API token TOKEN-ID (see `facesight users tokens`) at once."""
    with open_library(ctx) as library:
        library.accounts.revoke_token(token_id)
    console().print(f"revoked API token {token_id}", markup=False)


COMMANDS = (users,)
