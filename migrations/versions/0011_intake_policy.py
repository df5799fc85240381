"""intake rules in the policy; code-editor warnings kept with the case

Revision ID: 0011
Revises: 0010

Existing policy versions get the defaults: a case may cost up to ¥100,000,000, and only the code-editor findings
that make a grouping meaningless refuse a case (Medicare's coverage edits become warnings recorded with it).
"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

DEFAULT_MAX_CASE_COST_FEN = 10**10
DEFAULT_BLOCKING_EDITS = ["invalid_code", "sex_conflict", "age_conflict", "unacceptable_pdx", "e_code_as_pdx",
                          "manifestation_as_pdx"]
"""Copied, not imported: a migration keeps the values of the day it was written."""


def upgrade():
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_case_cost_fen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      server_default=str(DEFAULT_MAX_CASE_COST_FEN), nullable=False))
        batch_op.add_column(sa.Column('blocking_code_edits', sa.JSON(),
                                      server_default=json.dumps(DEFAULT_BLOCKING_EDITS), nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_policies_max_case_cost_positive'), 'max_case_cost_fen > 0')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code_warnings', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('code_warnings')

    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_policies_max_case_cost_positive'), type_='check')
        batch_op.drop_column('blocking_code_edits')
        batch_op.drop_column('max_case_cost_fen')
