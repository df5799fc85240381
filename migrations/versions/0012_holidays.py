"""holidays: each region's working-day calendar

Revision ID: 0012
Revises: 0011

The table starts empty: `flask holidays seed` (and `flask demo`) fill it from chinese-calendar. Until a year is
seeded or marked, counts of working days that reach it are refused rather than guessed.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('holidays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_holidays_kind')),
    sa.CheckConstraint("source IN ('chinese-calendar', 'admin')", name=op.f('ck_holidays_source')),
    sa.CheckConstraint("source = 'chinese-calendar' OR created_by_id IS NOT NULL",
                       name=op.f('ck_holidays_admin_mark_author')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_holidays_created_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_holidays_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holidays')),
    sa.UniqueConstraint('region_id', 'date', name=op.f('uq_holidays_region_id'))
    )


def downgrade():
    op.drop_table('holidays')
