"""exports in the requester's language

Revision ID: 0014
Revises: 0013

"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=10), server_default='zh_CN', nullable=False))


def downgrade():
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_column('locale')
