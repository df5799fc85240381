"""ledger guards: balanced entries at commit, final lines, no TRUNCATE of append-only tables

Revision ID: 0009
Revises: 0008

PostgreSQL only (review/models/ledger.py says why SQLite cannot hold these rules; its DELETE-all is already
refused by the append-only row triggers):
* a deferred constraint trigger refuses, at COMMIT, a journal entry with fewer than 2 lines or lines that do not
  sum to zero;
* a row trigger refuses a line added to an entry that an earlier transaction created;
* a statement-level BEFORE TRUNCATE trigger on every append-only table (row triggers do not fire on TRUNCATE).

The statements are kept here in full, as in 0001, so the migration never changes when application code does;
tests/integration/test_ledger_guards.py checks that they build what `create_all` builds.
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

APPEND_ONLY = ('journal_entries', 'journal_lines', 'activity_log', 'assignment_runs')

LEDGER_GUARDS = [
    "CREATE OR REPLACE FUNCTION refuse_unbalanced_entry() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE line_count bigint; total numeric; "
    "BEGIN "
    "SELECT count(*), coalesce(sum(amount_fen), 0) INTO line_count, total "
    "FROM journal_lines WHERE entry_id = NEW.id; "
    "IF line_count < 2 OR total <> 0 THEN "
    "RAISE EXCEPTION 'journal entry % has % lines summing to % fen: an entry needs at least 2 lines summing "
    "to 0', NEW.id, line_count, total USING ERRCODE = 'check_violation'; "
    "END IF; "
    "RETURN NULL; "
    "END $$",
    "CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_unbalanced_entry()",
    "CREATE OR REPLACE FUNCTION refuse_line_on_closed_entry() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE created bigint; current_id bigint := pg_current_xact_id()::text::bigint; offset_ bigint; "
    "BEGIN "
    "SELECT xmin::text::bigint INTO created FROM journal_entries WHERE id = NEW.entry_id; "
    "IF NOT FOUND THEN RETURN NEW; END IF; "
    "offset_ := created - (current_id % 4294967296); "
    "IF offset_ > 2147483647 THEN offset_ := offset_ - 4294967296; "
    "ELSIF offset_ < -2147483648 THEN offset_ := offset_ + 4294967296; END IF; "
    "IF current_id + offset_ < 3 "
    "OR pg_xact_status((current_id + offset_)::text::xid8) IS DISTINCT FROM 'in progress' THEN "
    "RAISE EXCEPTION 'journal entry % was posted by an earlier transaction: its lines are final', "
    "NEW.entry_id USING ERRCODE = 'check_violation'; "
    "END IF; "
    "RETURN NEW; "
    "END $$",
    "CREATE TRIGGER journal_lines_entry_open BEFORE INSERT ON journal_lines "
    "FOR EACH ROW EXECUTE FUNCTION refuse_line_on_closed_entry()",
]


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in APPEND_ONLY:
        op.execute(f'CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} '
                   'FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()')
    for statement in LEDGER_GUARDS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP TRIGGER journal_lines_entry_open ON journal_lines')
    op.execute('DROP FUNCTION refuse_line_on_closed_entry()')
    op.execute('DROP TRIGGER journal_entries_balanced ON journal_entries')
    op.execute('DROP FUNCTION refuse_unbalanced_entry()')
    for table in APPEND_ONLY:
        op.execute(f'DROP TRIGGER {table}_no_truncate ON {table}')
