"""`flask --app wsgi setup` (a bureau's first set-up) and `flask --app wsgi catalogue load|list` (DRG catalogue
versions).

Every value of `setup` is an option for scripts and is asked for when missing; the administrator's password is
never an option (it would stay in the shell's history and in `ps`): it is read from standard input with
`--admin-password-stdin`, or asked for twice without echo.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from review.services import catalogue, setup as setup_service
from review.services.context import SYSTEM, ServiceError, ValidationFailed

DEFAULT_TIMEZONE = "Asia/Shanghai"
PROMPTS = {
    "region_code": "Region code (e.g. 440300)",
    "region_name_en": "Region name in English",
    "region_name_zh": "Region name in Chinese",
    "base_rate_yuan": "DRG base rate in yuan (e.g. 18000.00)",
    "admin_username": "Administrator's user name",
    "admin_name": "Administrator's display name",
}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _refusal(failure: ValidationFailed) -> click.ClickException:
    lines = [f"{_option(name)}: {message}" for name, messages in failure.errors.items() for message in messages]
    return click.ClickException("set-up refused, nothing was written:\n  " + "\n  ".join(lines))


@click.command("setup")
@click.option("--region-code")
@click.option("--region-name-en")
@click.option("--region-name-zh")
@click.option("--timezone", default=None, help=f"IANA time zone of the region (default {DEFAULT_TIMEZONE}).")
@click.option("--base-rate-yuan", help="The DRG base rate of policy version 1, in yuan.")
@click.option("--admin-username")
@click.option("--admin-name")
@click.option("--admin-password-stdin", is_flag=True,
              help="Read the administrator's password from the first line of standard input (for scripts).")
def setup(admin_password_stdin: bool, timezone: str | None, **values: str | None) -> None:
    """Set up an empty database: region, policy version 1, DRG catalogue, working-day calendar, administrator."""
    if admin_password_stdin:  # standard input carries the password: every other value must be an option
        missing = [_option(name) for name, value in values.items() if value is None]
        if missing:
            raise click.UsageError(f"with --admin-password-stdin give every value as an option: {', '.join(missing)}")
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        values = {name: value if value is not None else click.prompt(PROMPTS[name]) for name, value in values.items()}
        if timezone is None:
            timezone = click.prompt("Time zone", default=DEFAULT_TIMEZONE)
        password = click.prompt("Administrator's password (at least 12 characters)", hide_input=True,
                                confirmation_prompt=True)
    try:
        result = setup_service.run(setup_service.SetupInput(
            timezone=timezone or DEFAULT_TIMEZONE, admin_password=password, **values))  # type: ignore[arg-type]
    except ValidationFailed as failure:
        raise _refusal(failure) from failure
    except ServiceError as refused:
        raise click.ClickException(str(refused.message)) from refused
    click.echo(f"Region {values['region_code']} set up: policy version 1, DRG catalogue {result.scheme} "
               f"({result.catalogue_rows} rows loaded now), {result.holidays} calendar days, administrator "
               f"{values['admin_username'].strip().lower()}. Log in and add hospitals, experts and users.")  # type: ignore[union-attr]


catalogue_cli = AppGroup("catalogue", help="DRG catalogue versions (weights and titles).")


@catalogue_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scheme", required=True, help='The version\'s name, e.g. "MS-DRG v43"; one name, one file.')
def load(path: Path, scheme: str) -> None:
    """Load a catalogue CSV (drg, mdc, type, title, weight, gmlos, amlos) as a version beside the others; all rows
    or none; loading it again adds nothing. New cycles take the version loaded last."""
    try:
        result = catalogue.load_catalogue(SYSTEM, path, scheme)
    except catalogue.CatalogueRejected as rejected:
        raise click.ClickException(f"{rejected.message}\n  " + "\n  ".join(
            f"row {p.row}, column {p.column}: {p.message}" for p in rejected.problems)) from rejected
    except ServiceError as refused:
        raise click.ClickException(str(refused.message)) from refused
    click.echo(f"{result.scheme}: {result.added} rows added, {result.present} already loaded. "
               f"New cycles take {catalogue.current_scheme()}.")


@catalogue_cli.command("list")
def list_schemes() -> None:
    """The loaded versions, their rows and the cycles that read them; * marks the one new cycles take."""
    rows = catalogue.schemes()
    if not rows:
        click.echo("no DRG catalogue loaded")
    for row in rows:
        click.echo(f"{'*' if row.current else ' '} {row.scheme}: {row.rows} rows, {row.cycles} cycles")


def register(app: Flask) -> None:
    app.cli.add_command(setup)
    app.cli.add_command(catalogue_cli)
