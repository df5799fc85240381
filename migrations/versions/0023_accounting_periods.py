"""accounting periods: every ledger entry booked in a period, refused by the database unless it is open

Revision ID: 0023
Revises: 0022

Existing entries are booked in a period named after their business period (the cycle code they carry), opened
now, per region (the region of the fund account each entry moves).
"""
from alembic import op
import sqlalchemy as sa

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

MONEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
PG_GUARD = [
    "CREATE OR REPLACE FUNCTION refuse_entry_outside_open_period() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE period_state text; "
    "BEGIN "
    "SELECT state INTO period_state FROM accounting_periods WHERE id = NEW.period_id; "
    "IF period_state IS DISTINCT FROM 'open' THEN "
    "RAISE EXCEPTION 'journal entries are booked in an open accounting period; period % is %', "
    "NEW.period_id, coalesce(period_state, 'missing') USING ERRCODE = 'check_violation'; "
    "END IF; "
    "RETURN NEW; "
    "END $$",
    "CREATE TRIGGER journal_entries_open_period BEFORE INSERT ON journal_entries "
    "FOR EACH ROW EXECUTE FUNCTION refuse_entry_outside_open_period()",
]
SQLITE_GUARD = [
    "CREATE TRIGGER journal_entries_open_period BEFORE INSERT ON journal_entries "
    "WHEN (SELECT state FROM accounting_periods WHERE id = NEW.period_id) IS NOT 'open' "
    "BEGIN SELECT RAISE(ABORT, 'journal entries are booked in an open accounting period'); END",
]
SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END",
    "CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END",
]
PG_APPEND_ONLY = [
    "CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION refuse_change()",
    "CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
    "EXECUTE FUNCTION refuse_change()",
]
BACKFILL_PERIODS = (
    "INSERT INTO accounting_periods (region_id, code, state, opened_at) "
    "SELECT DISTINCT r.id, e.period, 'open', CURRENT_TIMESTAMP FROM journal_entries e "
    "JOIN journal_lines l ON l.entry_id = e.id JOIN accounts a ON a.id = l.account_id AND a.kind = 'fund' "
    "JOIN regions r ON 'fund:' || r.code = a.code")
BACKFILL_ENTRIES = (
    "UPDATE journal_entries SET period_id = (SELECT p.id FROM accounting_periods p "
    "JOIN regions r ON r.id = p.region_id JOIN accounts a ON a.code = 'fund:' || r.code "
    "JOIN journal_lines l ON l.account_id = a.id WHERE l.entry_id = journal_entries.id "
    "AND p.code = journal_entries.period LIMIT 1)")


def upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.create_table(
        'accounting_periods',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=10), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('entry_count', sa.Integer(), nullable=True),
        sa.Column('entries_hash', sa.String(length=64), nullable=True),
        sa.Column('previous_hash', sa.String(length=64), nullable=True),
        sa.CheckConstraint("state IN ('open', 'closing', 'closed')", name=op.f('ck_accounting_periods_state')),
        sa.CheckConstraint("(state = 'closed') = (closed_at IS NOT NULL AND entries_hash IS NOT NULL)",
                           name=op.f('ck_accounting_periods_closed')),
        sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_accounting_periods_region_id_regions')),
        sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_accounting_periods_closed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_accounting_periods')),
        sa.UniqueConstraint('region_id', 'code', name=op.f('uq_accounting_periods_region_id')),
    )
    op.create_table(
        'period_balances',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('movement_fen', MONEY, nullable=False),
        sa.Column('closing_fen', MONEY, nullable=False),
        sa.ForeignKeyConstraint(['period_id'], ['accounting_periods.id'],
                                name=op.f('fk_period_balances_period_id_accounting_periods')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_period_balances_account_id_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_period_balances')),
        sa.UniqueConstraint('period_id', 'account_id', name=op.f('uq_period_balances_period_id')),
    )
    op.create_index(op.f('ix_period_balances_period_id'), 'period_balances', ['period_id'], unique=False)
    for statement in (SQLITE_APPEND_ONLY if sqlite else PG_APPEND_ONLY):
        op.execute(statement.format(t='period_balances'))

    if not sqlite:
        op.execute('ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_append_only')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('period_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('corrects_period_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_journal_entries_period_id_accounting_periods'),
                                    'accounting_periods', ['period_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_journal_entries_corrects_period_id_accounting_periods'),
                                    'accounting_periods', ['corrects_period_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_journal_entries_period_id'), ['period_id'], unique=False)
    if sqlite:  # the batch rebuilt the table without its triggers
        for name in ('journal_entries_no_update', 'journal_entries_no_delete'):
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.execute(BACKFILL_PERIODS)
    op.execute(BACKFILL_ENTRIES)
    if sqlite:
        for statement in SQLITE_APPEND_ONLY + SQLITE_GUARD:
            op.execute(statement.format(t='journal_entries'))
    else:
        op.execute('ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_append_only')
        for statement in PG_GUARD:
            op.execute(statement)


def downgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.execute('DROP TRIGGER IF EXISTS journal_entries_open_period' + ('' if sqlite else ' ON journal_entries'))
    if not sqlite:
        op.execute('DROP FUNCTION IF EXISTS refuse_entry_outside_open_period()')
        op.execute('ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_append_only')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entries_period_id'))
        batch_op.drop_constraint(batch_op.f('fk_journal_entries_corrects_period_id_accounting_periods'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_journal_entries_period_id_accounting_periods'), type_='foreignkey')
        batch_op.drop_column('corrects_period_id')
        batch_op.drop_column('period_id')
    if sqlite:
        for name in ('journal_entries_no_update', 'journal_entries_no_delete'):
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
        for statement in SQLITE_APPEND_ONLY:
            op.execute(statement.format(t='journal_entries'))
    else:
        op.execute('ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_append_only')
    op.drop_table('period_balances')
    op.drop_table('accounting_periods')
