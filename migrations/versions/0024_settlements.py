"""settlement statements: per closed period and hospital, with their lines (append-only) and the runs that draw them

Revision ID: 0024
Revises: 0023

The 文号 counter gains a series, so statements are numbered apart from decision letters (existing rows are the
decision series).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END",
    "CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END",
]
PG_APPEND_ONLY = [
    "CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION refuse_change()",
    "CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
    "EXECUTE FUNCTION refuse_change()",
]


def upgrade():
    op.create_table('settlement_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_settlement_runs_status')),
    sa.CheckConstraint('done BETWEEN 0 AND total', name=op.f('ck_settlement_runs_counts')),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name=op.f('ck_settlement_runs_progress')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_settlement_runs_created_by_id_users')),
    sa.ForeignKeyConstraint(['period_id'], ['accounting_periods.id'], name=op.f('fk_settlement_runs_period_id_accounting_periods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_runs'))
    )
    with op.batch_alter_table('settlement_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_runs_period_id'), ['period_id'], unique=False)

    op.create_table('settlements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('opening_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('supplements_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recoveries_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('adjustments_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('closing_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('generated_at', sa.DateTime(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('statement_region_id', sa.Integer(), nullable=True),
    sa.Column('statement_year', sa.Integer(), nullable=True),
    sa.Column('statement_number', sa.Integer(), nullable=True),
    sa.Column('statement_ref_zh', sa.String(length=80), nullable=True),
    sa.Column('statement_ref_en', sa.String(length=80), nullable=True),
    sa.Column('verification_code', sa.String(length=32), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('dispute_reason', sa.Text(), nullable=True),
    sa.Column('disputed_item_ids', sa.JSON(), nullable=False),
    sa.CheckConstraint("(state = 'disputed') = (dispute_reason IS NOT NULL)", name=op.f('ck_settlements_dispute_reason')),
    sa.CheckConstraint("(state = 'draft') = (issued_at IS NULL) AND (issued_at IS NULL) = (statement_number IS NULL) AND (issued_at IS NULL) = (statement_ref_zh IS NULL) AND (issued_at IS NULL) = (verification_code IS NULL)", name=op.f('ck_settlements_issued_whole')),
    sa.CheckConstraint("(state IN ('acknowledged', 'disputed')) = (answered_at IS NOT NULL)", name=op.f('ck_settlements_answered')),
    sa.CheckConstraint("state IN ('draft', 'issued', 'acknowledged', 'disputed')", name=op.f('ck_settlements_state')),
    sa.CheckConstraint('closing_fen = opening_fen + supplements_fen + recoveries_fen + adjustments_fen', name=op.f('ck_settlements_closing')),
    sa.CheckConstraint('supplements_fen >= 0 AND recoveries_fen <= 0', name=op.f('ck_settlements_signs')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_settlements_answered_by_id_users')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_settlements_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_settlements_document_id_documents')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_settlements_issued_by_id_users')),
    sa.ForeignKeyConstraint(['period_id'], ['accounting_periods.id'], name=op.f('fk_settlements_period_id_accounting_periods')),
    sa.ForeignKeyConstraint(['run_id'], ['settlement_runs.id'], name=op.f('fk_settlements_run_id_settlement_runs')),
    sa.ForeignKeyConstraint(['statement_region_id'], ['regions.id'], name=op.f('fk_settlements_statement_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements')),
    sa.UniqueConstraint('period_id', 'hospital_id', name=op.f('uq_settlements_period_id')),
    sa.UniqueConstraint('statement_region_id', 'statement_year', 'statement_number', name=op.f('uq_settlements_statement_region_id')),
    sa.UniqueConstraint('verification_code', name=op.f('uq_settlements_verification_code'))
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlements_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlements_period_id'), ['period_id'], unique=False)

    op.create_table('settlement_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('amount_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corrects_period_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('supplement', 'recovery', 'reversal', 'correction')", name=op.f('ck_settlement_lines_kind')),
    sa.CheckConstraint('amount_fen <> 0', name=op.f('ck_settlement_lines_nonzero')),
    sa.ForeignKeyConstraint(['corrects_period_id'], ['accounting_periods.id'], name=op.f('fk_settlement_lines_corrects_period_id_accounting_periods')),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_settlement_lines_decision_id_decisions')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_settlement_lines_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_settlement_lines_item_id_review_items')),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.id'], name=op.f('fk_settlement_lines_settlement_id_settlements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_lines')),
    sa.UniqueConstraint('settlement_id', 'entry_id', name=op.f('uq_settlement_lines_settlement_id'))
    )
    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_lines_settlement_id'), ['settlement_id'], unique=False)

    sqlite = op.get_bind().dialect.name == 'sqlite'
    for statement in (SQLITE_APPEND_ONLY if sqlite else PG_APPEND_ONLY):
        op.execute(statement.format(t='settlement_lines'))

    with op.batch_alter_table('letter_counters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series', sa.String(length=20), server_default='decision', nullable=False))
        batch_op.drop_constraint('pk_letter_counters', type_='primary')
        batch_op.create_primary_key('pk_letter_counters', ['region_id', 'year', 'series'])
        batch_op.create_check_constraint('series', "series IN ('decision', 'statement')")


def downgrade():
    op.execute("DELETE FROM letter_counters WHERE series <> 'decision'")
    with op.batch_alter_table('letter_counters', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_letter_counters_series'), type_='check')
        batch_op.drop_constraint('pk_letter_counters', type_='primary')
        batch_op.create_primary_key('pk_letter_counters', ['region_id', 'year'])
        batch_op.drop_column('series')

    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_lines_settlement_id'))

    op.drop_table('settlement_lines')
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlements_period_id'))
        batch_op.drop_index(batch_op.f('ix_settlements_hospital_id'))

    op.drop_table('settlements')
    with op.batch_alter_table('settlement_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_runs_period_id'))

    op.drop_table('settlement_runs')
