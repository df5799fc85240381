"""Bootstrap: a cycle keeps the DRG catalogue version it opened with; quota bases counted from imports

Revision ID: 0018
Revises: 0017

`cycles.catalogue_scheme` names the drg_catalogue scheme a cycle reads its weights and titles from; the cycles
that exist opened with the one bundled catalogue, MS-DRG v43. `cycle_volumes` learns where its figure came from:
counted from the imported cases (`imported`, `counted_at`) or set by the office with a reason (`override`); the
rows typed by hand before this revision become overrides without a reason.
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('catalogue_scheme', sa.String(length=40), server_default='MS-DRG v43',
                                      nullable=False))
    with op.batch_alter_table('cycle_volumes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=10), server_default='override', nullable=False))
        batch_op.add_column(sa.Column('imported_discharges', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('counted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('overridden_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('overridden_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cycle_volumes_overridden_by_id_users'), 'users',
                                    ['overridden_by_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_cycle_volumes_source'),
                                         "source IN ('imported', 'override')")
        batch_op.create_check_constraint(batch_op.f('ck_cycle_volumes_imported_counted'),
                                         "source = 'override' OR counted_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('cycle_volumes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_cycle_volumes_imported_counted'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_cycle_volumes_source'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_cycle_volumes_overridden_by_id_users'), type_='foreignkey')
        for column in ('overridden_at', 'overridden_by_id', 'override_reason', 'counted_at', 'imported_discharges',
                       'source'):
            batch_op.drop_column(column)
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.drop_column('catalogue_scheme')
