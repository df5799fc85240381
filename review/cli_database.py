"""`flask --app wsgi grants apply --role review_app`: the application's database role, and nothing more.

The owner of the tables runs the migrations and then this command (after every `db upgrade`: new tables need their
grants). The application connects as the role it names, which may read and write ordinary tables, only read and
append to the append-only ones (`make_append_only`: register, ledger, assignment runs), and move the register's
heads; it gets no TRUNCATE, TRIGGER or REFERENCES, no DDL (no CREATE on the schema, owns nothing) and, not being a
superuser, cannot disable triggers or set `session_replication_role`. The command creates no role: a login role
is a cluster-wide object the database administrator creates once.
"""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import inspect, text

from review.extensions import db
from review.models.immutable import PRIVILEGES

ORDINARY = ("SELECT", "INSERT", "UPDATE", "DELETE")

grants_cli = AppGroup("grants", help="The application's database role (PostgreSQL).")


def _refusal(role: str) -> str | None:
    """Why `role` cannot be the application's restrained role, or None when it can."""
    attributes = db.session.execute(text(
        "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = :role"), {"role": role}).first()
    if attributes is None:
        return (f"role {role} does not exist. A database administrator creates it once, e.g.\n"
                f"  CREATE ROLE {role} LOGIN PASSWORD '…';\nthen run this command again.")
    if any(attributes):
        return f"role {role} is a superuser or has BYPASSRLS or CREATEROLE: no grant can restrain it"
    owners = db.session.scalars(text(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' "
        "AND pg_has_role(:role, tableowner, 'MEMBER')"), {"role": role}).all()
    if owners:
        return (f"role {role} owns the tables or is a member of their owner ({', '.join(owners)}): an owner can "
                "disable their triggers; connect the application as a role of its own")
    return None


def grant_statements(role: str, tables: dict[str, tuple[str, ...]], database: str) -> list[str]:
    """Revoke what the role had, then grant what each table allows: re-running gives the same grants."""
    quote = db.engine.dialect.identifier_preparer.quote
    who = quote(role)
    return [
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",  # older clusters let every role create tables there
        f"REVOKE ALL ON SCHEMA public FROM {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
        *(f"GRANT {', '.join(privileges)} ON {quote(table)} TO {who}" for table, privileges in sorted(tables.items())),
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
    ]


@grants_cli.command("apply")
@click.option("--role", required=True, help="The login role the application connects as (e.g. review_app).")
def apply(role: str) -> None:
    """Grant ROLE what the application needs on every table, as the tables' owner; idempotent."""
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("grants apply is for PostgreSQL; SQLite has no roles")
    if role == db.session.scalar(text("SELECT current_user")):
        raise click.ClickException(f"{role} runs the migrations and owns the tables: name the application's role")
    refusal = _refusal(role)
    if refusal:
        raise click.ClickException(refusal)
    present = set(inspect(db.engine).get_table_names())
    tables = {table.name: tuple(table.info.get(PRIVILEGES, ORDINARY))
              for table in db.metadata.sorted_tables if table.name in present}
    database = db.session.scalar(text("SELECT current_database()"))
    for statement in grant_statements(role, tables, database):
        db.session.execute(text(statement))
    db.session.commit()
    restricted = {name: privileges for name, privileges in tables.items() if privileges != ORDINARY}
    click.echo(f"{role}: {', '.join(ORDINARY)} on {len(tables) - len(restricted)} tables; "
               + "; ".join(f"{', '.join(privileges)} on {name}" for name, privileges in sorted(restricted.items())))
    ungranted = sorted(present - set(tables))
    if ungranted:
        click.echo(f"not granted (not the application's tables): {', '.join(ungranted)}")
