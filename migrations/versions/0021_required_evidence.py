"""evidence required per application category, in the policy

Revision ID: 0021
Revises: 0020

Existing policy versions get the defaults of the day (copied, not imported: a migration keeps its values).
"""
import json

from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

DEFAULT_REQUIRED_EVIDENCE = {
    "complex_care": ["discharge_summary"], "high_cost": ["discharge_summary", "special_items"],
    "icu_heavy": ["discharge_summary"], "long_stay": ["discharge_summary"], "new_technology": ["discharge_summary",
    "operative_record"], "newborn": ["discharge_summary"],
}


def upgrade():
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('required_evidence', sa.JSON(),
                                      server_default=json.dumps(DEFAULT_REQUIRED_EVIDENCE), nullable=False))


def downgrade():
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_column('required_evidence')
