"""Operator commands: `flask --app wsgi demo|activity|ledger ...`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import text

from review.extensions import db


def register_cli(app: Flask) -> None:
    @app.cli.command("demo")
    @click.option("--reset", is_flag=True, help="Drop every table, migrate afresh and load the demo.")
    def demo(reset: bool) -> None:
        """Load the demo region, hospitals, experts, users and cases (demo passwords: see README)."""
        from review.demo.loader import load
        from review.models import Region

        if reset:
            db.drop_all()
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
            upgrade()
        elif db.session.scalars(db.select(Region.id)).first() is not None:
            click.echo("Demo data already present; use --reset to reload it.")
            return
        counts = load()
        click.echo(f"Demo loaded: {counts['cases']} cases, {counts['applications']} applications.")

    activity_cli = AppGroup("activity", help="The supervision register.")

    @activity_cli.command("verify")
    def verify_activity() -> None:
        """Recompute the hash chain; exit 1 naming the first broken rows."""
        from review.services.activity import verify_chain

        broken = verify_chain()
        if broken:
            raise click.ClickException(f"hash chain broken at rows {broken[:20]}")
        click.echo("activity log chain intact")

    ledger_cli = AppGroup("ledger", help="The payment ledger.")

    @ledger_cli.command("reconcile")
    def reconcile() -> None:
        """Compare cached balances with the sum of journal lines; exit 1 on any difference."""
        from review.services.ledger import reconcile as run

        mismatches = run()
        for code, cached, actual in mismatches:
            click.echo(f"{code}: cached {cached} fen, lines sum {actual} fen")
        if mismatches:
            raise click.ClickException(f"{len(mismatches)} accounts do not reconcile")
        click.echo("all accounts reconcile")

    app.cli.add_command(activity_cli)
    app.cli.add_command(ledger_cli)
