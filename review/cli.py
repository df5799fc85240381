"""Operator commands: `flask --app wsgi demo|ledger|jobs ...` (register, grants: cli_register)."""
from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import text

from review import cli_register
from review import cli_setup
from review.extensions import db


def register_cli(app: Flask) -> None:
    @app.cli.command("demo")
    @click.option("--reset", is_flag=True, help="Drop every table, migrate afresh and load the demo.")
    @click.option("--production-ok", is_flag=True, help="Load the demo into a production configuration (or ALLOW_DEMO=1).")
    def demo(reset: bool, production_ok: bool) -> None:
        """Load the demo region, hospitals, experts, users and cases (demo passwords: see README)."""
        from review.demo.loader import foreign_data, load
        from review.models import Region

        if os.environ.get("REVIEW_ENV") == "production" and not (production_ok or os.environ.get("ALLOW_DEMO") == "1"):
            raise click.ClickException("this is the production configuration: the demo's users share a published "
                                       "password. Load it here only on purpose: --production-ok or ALLOW_DEMO=1.")
        foreign = foreign_data()
        if foreign:
            raise click.ClickException("the database holds data that is not the demo's, which the demo "
                                       f"{'--reset would drop' if reset else 'would mix with'}: {'; '.join(foreign)}")
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

    def _region_code(region_code: str | None) -> str:
        from review.models import Region

        codes = list(db.session.scalars(db.select(Region.code).order_by(Region.code)))
        if region_code is None and len(codes) == 1:
            return codes[0]
        if region_code not in codes:
            raise click.ClickException(f"give --region, one of: {', '.join(codes) or 'no region set up yet'}")
        return region_code

    @ledger_cli.command("close")
    @click.argument("period")
    @click.option("--region", "region_code", default=None, help="Region code (default: the only region).")
    def close_period(period: str, region_code: str | None) -> None:
        """Close an accounting period: reconcile, store balances, chain its hash (refused naming what is wrong)."""
        from review.services import periods
        from review.services.context import SYSTEM, ServiceError

        try:
            closed = periods.close(SYSTEM, _region_code(region_code), period)
        except ServiceError as error:
            raise click.ClickException(str(error.message)) from error
        click.echo(f"period {period} closed: {closed.entry_count} entries, hash {closed.entries_hash}")

    @ledger_cli.command("verify")
    @click.argument("period")
    @click.option("--region", "region_code", default=None, help="Region code (default: the only region).")
    def verify_period(period: str, region_code: str | None) -> None:
        """Recompute a closed period's hash and balances from the ledger; exit 1 naming what differs."""
        from review.messages import problem_text
        from review.services import periods

        found = periods.verify(_region_code(region_code), period)
        for problem in found:
            click.echo(problem_text(problem))
        if found:
            raise click.ClickException(f"period {period} does not verify")
        click.echo(f"period {period} verified: its entries give the hash recorded at the close")

    cases_cli = AppGroup("cases", help="Inpatient cases.")

    @cases_cli.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--hospital", "hospital_code", required=True, help="Hospital code the cases belong to.")
    @click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row has an error.")
    def import_cases(path: Path, hospital_code: str, all_or_nothing: bool) -> None:
        """Import a CSV or XLSX case file for a hospital; writes PATH.errors.csv when rows are rejected."""
        from review.intake.readers import FileRejected, open_table, rows_as_dicts
        from review.intake.reports import errors_csv
        from review.messages import problem_text
        from review.models import Hospital, User
        from review.services.context import Actor
        from review.services.intake import import_rows
        from workflows.intake import HeaderError, map_headers
        from workflows.states import Role

        hospital = db.session.scalars(db.select(Hospital).where(Hospital.code == hospital_code)).first()
        if hospital is None:
            raise click.ClickException(f"no hospital with code {hospital_code}")
        owner = db.session.scalars(db.select(User).where(User.hospital_id == hospital.id, User.hospital_admin.is_(True),
                                                         User.active.is_(True)).order_by(User.id)).first()
        if owner is None:
            raise click.ClickException(f"hospital {hospital_code} has no active admin user to own the imported cases")
        try:
            table = open_table(path)
            mapping = map_headers(table.headers)
        except FileRejected as error:
            raise click.ClickException(f"file refused: {problem_text(error.problem)}") from error
        except HeaderError as error:
            raise click.ClickException("columns do not match the template: "
                                       + "; ".join(problem_text(p) for p in error.problems)) from error
        actor = Actor(user_id=owner.id, role=Role.HOSPITAL, hospital_id=hospital.id)

        def progress(done: int, rejected: int) -> bool:
            click.echo(f"  {done} rows read, {rejected} rejected", err=True)
            return True

        try:
            outcome = import_rows(actor, rows_as_dicts(table, mapping),
                                  mode="all_or_nothing" if all_or_nothing else "valid_rows", progress=progress,
                                  every=10_000)
        except FileRejected as error:
            raise click.ClickException(f"file refused: {problem_text(error.problem)} Nothing was imported.") from error
        click.echo(f"accepted {outcome.accepted}, rejected {outcome.rejected}, skipped {outcome.skipped} "
                   f"(already recorded), applications {outcome.applications}")
        if outcome.errors:
            report = path.with_name(path.name + ".errors.csv")
            report.write_bytes(errors_csv(outcome.errors))
            click.echo(f"error report: {report}")
        if not outcome.committed:
            click.echo("all-or-nothing: nothing was imported")
            raise SystemExit(1)

    sampling_cli = AppGroup("sampling", help="Record-review sampling.")

    @sampling_cli.command("verify")
    @click.argument("plan_id", type=int)
    def verify_sampling(plan_id: int) -> None:
        """Re-draw a sampling plan from its stored snapshot and seed; exit 1 if anything differs."""
        from review.services.sampling import verify_plan

        result = verify_plan(plan_id)
        for label, ok in (("population snapshot hash", result.population_ok), ("seed", result.seed_ok),
                          ("re-drawn sample hash", result.sample_ok), ("sampled items in the database", result.items_ok)):
            click.echo(f"{label}: {'matches' if ok else 'DIFFERS'}")
        if not result.ok:
            raise click.ClickException(f"sampling plan {plan_id} does not verify")
        click.echo(f"sampling plan {plan_id} verified: the same cases are drawn")

    assignment_cli = AppGroup("assignment", help="Panel assignment runs.")

    @assignment_cli.command("verify")
    @click.argument("run_id", type=int)
    def verify_assignment(run_id: int) -> None:
        """Recompute an assignment run from its stored input and seed; exit 1 if anything differs."""
        from review.services.assignment_runs import verify

        result = verify(run_id)
        checks = [("stored input hash", result.input_intact), ("seed from the published value", result.seed_matches),
                  ("recomputed assignment hash", result.recomputed_hash == result.stored_hash)]
        if result.applied_match is not None:
            checks.append(("seated experts in the database", result.applied_match))
        for label, ok in checks:
            click.echo(f"{label}: {'matches' if ok else 'DIFFERS'}")
        if result.versions_then != result.versions_now:
            click.echo(f"note: computed with {result.versions_then}, verified with {result.versions_now}")
        if not result.ok:
            raise click.ClickException(f"assignment run {run_id} does not verify")
        click.echo(f"assignment run {run_id} verified: hash {result.stored_hash}")

    calendar_cli = AppGroup("calendar", help="The quarterly calendar.")

    @calendar_cli.command("run")
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                  help="Run as of this date (default: today in the region's time zone).")
    def run_calendar(today: object) -> None:
        """Open and close windows, send reminders, mark records missing after the deadline (idempotent)."""
        from review.services import calendar

        day = today.date() if today is not None else calendar.today_in_region()  # type: ignore[attr-defined]
        report = calendar.run(day)
        click.echo(f"{day}: events {report.events or 'none'}, records missing {report.records_missing}, "
                   f"reminders {report.reminders}")

    jobs_cli = AppGroup("jobs", help="Background jobs.")

    @jobs_cli.command("sweep")
    def sweep_jobs() -> None:
        """Send again the jobs whose message was lost or whose worker stopped beating; fail those out of attempts
        (what Celery beat runs every JOB_SWEEP_SECONDS)."""
        from review.services.jobs import sweep

        report = sweep()
        click.echo(f"jobs sent again: {', '.join(map(str, report.sent)) or 'none'}; "
                   f"jobs failed: {', '.join(map(str, report.failed)) or 'none'}")

    app.cli.add_command(jobs_cli)
    app.cli.add_command(sampling_cli)
    app.cli.add_command(assignment_cli)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(cases_cli)
    app.cli.add_command(ledger_cli)

    holidays_cli = AppGroup("holidays", help="The working-day calendar.")

    @holidays_cli.command("seed")
    @click.option("--region", "region_code", default=None, help="Region code (default: every region).")
    def seed_holidays(region_code: str | None) -> None:
        """Copy chinese-calendar's holidays and make-up working days in; days already in the table are kept."""
        from review.models import Region
        from review.services import holidays
        from review.services.context import SYSTEM

        query = db.select(Region).order_by(Region.id)
        if region_code:
            query = query.where(Region.code == region_code)
        regions = db.session.scalars(query).all()
        if not regions:
            raise click.ClickException(f"no region with code {region_code}" if region_code else "no region set up yet")
        for region in regions:
            added = holidays.seed(SYSTEM, region.id)
            click.echo(f"{region.code}: {added} days added from chinese-calendar {holidays.PACKAGE_VERSION} "
                       f"({holidays.PACKAGE_YEARS[0]}–{holidays.PACKAGE_YEARS[-1]})")

    app.cli.add_command(holidays_cli)
    cli_register.register(app)
    cli_setup.register(app)
