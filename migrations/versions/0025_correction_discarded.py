"""a pending correction can be rejected or withdrawn: the `discarded` decision status, with who, when and why

Revision ID: 0025
Revises: 0024

* `decisions.status` gains `discarded` (final), and `discarded_reason`, `discarded_by_id`, `discarded_at`, tied to
  it by a CHECK (only a correction is discarded);
* a discarded correction keeps its row and the number it was proposed under, and the next version takes that number
  again: UNIQUE(item_id, version) becomes a unique index over the rows that are not discarded.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

STATUS_NEW = "status IN ('proposed', 'awaiting_approval', 'issued', 'superseded', 'discarded')"
STATUS_OLD = "status IN ('proposed', 'awaiting_approval', 'issued', 'superseded')"
DISCARDED = ("(status = 'discarded') = (discarded_at IS NOT NULL) AND (discarded_at IS NULL) = "
             "(discarded_by_id IS NULL) AND (discarded_at IS NULL) = (discarded_reason IS NULL) AND "
             "(status <> 'discarded' OR basis = 'correction')")
COUNTED = "status <> 'discarded'"


def upgrade():
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discarded_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('discarded_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('discarded_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_decisions_discarded_by_id_users'), 'users',
                                    ['discarded_by_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_decisions_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_decisions_status'), STATUS_NEW)
        batch_op.create_check_constraint(batch_op.f('ck_decisions_discarded'), DISCARDED)
        batch_op.drop_constraint(batch_op.f('uq_decisions_item_id'), type_='unique')
        batch_op.create_index('uq_decisions_item_version', ['item_id', 'version'], unique=True,
                              sqlite_where=sa.text(COUNTED), postgresql_where=sa.text(COUNTED))


def downgrade():
    op.execute("DELETE FROM decisions WHERE status = 'discarded'")
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('uq_decisions_item_version')
        batch_op.create_unique_constraint(batch_op.f('uq_decisions_item_id'), ['item_id', 'version'])
        batch_op.drop_constraint(batch_op.f('ck_decisions_discarded'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_decisions_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_decisions_status'), STATUS_OLD)
        batch_op.drop_constraint(batch_op.f('fk_decisions_discarded_by_id_users'), type_='foreignkey')
        batch_op.drop_column('discarded_at')
        batch_op.drop_column('discarded_by_id')
        batch_op.drop_column('discarded_reason')
