"""withdrawal of an application or a sampled record: who, when and why

Revision ID: 0020
Revises: 0019

An item can be in state 'withdrawn' only with the time and the reason; rows withdrawn before reasons were kept (no
screen offered it) get the time of their last change and a reason saying so.
"""
from alembic import op
import sqlalchemy as sa

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_review_items_withdrawn_by_id_users'), 'users',
                                    ['withdrawn_by_id'], ['id'])
    op.execute("UPDATE review_items SET withdrawn_at = updated_at, withdrawn_reason = 'withdrawn before reasons "
               "were recorded' WHERE state = 'withdrawn'")
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f('ck_review_items_withdrawn'),
            "(state = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawn_reason IS NOT NULL)")


def downgrade():
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_review_items_withdrawn'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_review_items_withdrawn_by_id_users'), type_='foreignkey')
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('withdrawn_by_id')
        batch_op.drop_column('withdrawn_reason')
