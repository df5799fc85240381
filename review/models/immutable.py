"""Database triggers that refuse UPDATE, DELETE and TRUNCATE on append-only tables, on SQLite and PostgreSQL.

The triggers are attached to table creation so `create_all` (tests) and the Alembic migrations produce the same
guard; the application never relies on discipline alone. Row triggers do not fire on PostgreSQL's TRUNCATE, so
each table also gets a statement-level BEFORE TRUNCATE trigger. SQLite has no TRUNCATE: its `DELETE FROM t`
without WHERE skips the row-by-row delete only when the table has no DELETE trigger, so the row trigger refuses
it there too.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import DDL, Table, event

PRIVILEGES = "privileges"
"""Key in a table's `info`: what the application's database role may do to it (`flask --app wsgi grants apply`);
a table without it is an ordinary one (SELECT, INSERT, UPDATE, DELETE)."""
APPEND_ONLY_PRIVILEGES = ("SELECT", "INSERT")


def append_only_ddl(table: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()",
            # OR REPLACE: migration 0004 builds assignment_runs through this function, 0009 adds the guard to
            # tables built before it existed, and a fresh upgrade runs both
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


def create_with(table: Table, dialect: str, statements: Iterable[str]) -> None:
    """Run `statements` right after `table` is created on `dialect` (by `create_all`)."""
    for statement in statements:
        # DDL() applies %-formatting for table substitution, so literal % signs are doubled
        event.listen(table, "after_create", DDL(statement.replace("%", "%%")).execute_if(dialect=dialect))


def make_append_only(table: Table) -> None:
    table.info[PRIVILEGES] = APPEND_ONLY_PRIVILEGES
    for dialect in ("postgresql", "sqlite"):
        create_with(table, dialect, append_only_ddl(table.name, dialect))
