"""scoresheet answers as data

Revision ID: 0007
Revises: 0006

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('scoresheets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answers', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('definition_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('scoresheets', schema=None) as batch_op:
        batch_op.drop_column('definition_version')
        batch_op.drop_column('answers')
