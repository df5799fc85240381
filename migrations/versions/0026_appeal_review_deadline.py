"""an appeal panel's own deadline: `appeals.review_due_on`, from the policy's `appeal_review_days`

Revision ID: 0026
Revises: 0025

Appeals come after the decisions, when the cycle's review deadline has usually passed, so the appeal panel gets
its own last day when it is seated. An appeal already past `filed` takes the cycle's review deadline it was
reminded of until now; existing policy versions get 15 working days (copied, not imported: a migration keeps its
values).
"""
from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

APPEAL_REVIEW_DAYS = 15
SEATED = "state IN ('filed', 'withdrawn', 'refused_late') OR review_due_on IS NOT NULL"


def upgrade():
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_review_days', sa.Integer(), server_default=str(APPEAL_REVIEW_DAYS),
                                      nullable=False))
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_due_on', sa.Date(), nullable=True))
    op.execute("UPDATE appeals SET review_due_on = (SELECT cycles.review_deadline FROM review_items JOIN cycles "
               "ON cycles.id = review_items.cycle_id WHERE review_items.id = appeals.item_id) "
               "WHERE state NOT IN ('filed', 'withdrawn', 'refused_late')")
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f('ck_appeals_review_due'), SEATED)


def downgrade():
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_appeals_review_due'), type_='check')
        batch_op.drop_column('review_due_on')
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_column('appeal_review_days')
