"""`flask --app wsgi register verify|anchor`: check the supervision register and anchor its heads; also adds
`grants apply` (review/cli_database.py), the database role that keeps the application from rewriting it.

There is deliberately no command that rewrites or re-signs the register: a tool that can make a changed register
verify again is exactly what the register must not have.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from review.cli_database import grants_cli


@click.command("verify")
@click.option("--chain", default=None, help="Only this chain (a region's code, or 'global').")
@click.option("--anchors", "anchors_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="An anchor file, or a directory of them: every anchored head must still be in its chain.")
def verify(chain: str | None, anchors_path: Path | None) -> None:
    """Recompute every chain's signatures and links against its head; exit 1 naming each chain and seq found."""
    from review.services.activity import read_anchors, verify_chain

    try:
        anchors = read_anchors(anchors_path) if anchors_path is not None else []
    except (ValueError, TypeError) as error:
        raise click.ClickException(f"unreadable anchor file: {error}") from error
    findings = verify_chain(chain, anchors)
    for finding in findings:
        click.echo(str(finding))
    if findings:
        raise click.ClickException(f"register does not verify: {len(findings)} findings")
    checked = f" against {len(anchors)} anchors" if anchors_path is not None else ""
    click.echo(f"register intact{checked}")


def register(app: Flask) -> None:
    register_cli = AppGroup("register", help="The supervision register (监管台账).")
    register_cli.add_command(verify)

    @register_cli.command("anchor")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Directory of the anchor files (default REGISTER_ANCHOR_DIR).")
    def anchor(out_dir: Path | None) -> None:
        """Append every chain's head, signed with REGISTER_ANCHOR_KEY, to today's anchor file (Celery beat daily)."""
        from review.services.activity import write_anchors

        directory = out_dir or Path(current_app.config["REGISTER_ANCHOR_DIR"])
        anchors = write_anchors(directory)
        click.echo(f"{len(anchors)} chains anchored in {directory}")

    activity_cli = AppGroup("activity", help="The supervision register (old name of `register`).")
    activity_cli.add_command(verify)
    app.cli.add_command(register_cli)
    app.cli.add_command(activity_cli)
    app.cli.add_command(grants_cli)
