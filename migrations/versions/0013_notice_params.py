"""notices stored as data

Revision ID: 0013
Revises: 0012

A notice keeps its kind and parameters and is worded when read, in the reader's language; the subject and body
columns stay for notices written before, and are empty for new ones.
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('params', sa.JSON(), server_default='{}', nullable=False))
        batch_op.alter_column('subject', existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column('body', existing_type=sa.Text(), nullable=True)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('body', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('subject', existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column('params')
