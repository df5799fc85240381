"""Database triggers that refuse UPDATE and DELETE on append-only tables, on SQLite and PostgreSQL.

The triggers are attached to table creation so `create_all` (tests) and the Alembic migration
(`append_only_ddl`) produce the same guard; the application never relies on discipline alone.
"""
from __future__ import annotations

from sqlalchemy import DDL, Table, event


def append_only_ddl(table: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


def make_append_only(table: Table) -> None:
    for dialect in ("postgresql", "sqlite"):
        for statement in append_only_ddl(table.name, dialect):
            # DDL() applies %-formatting for table substitution, so literal % signs are doubled
            event.listen(table, "after_create", DDL(statement.replace("%", "%%")).execute_if(dialect=dialect))
