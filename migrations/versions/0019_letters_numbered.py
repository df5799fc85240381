"""letters a bureau can sign: letterheads per region, the 文号 counter, the 文号 on each issued decision

Revision ID: 0019
Revises: 0018

"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

LETTER_REF_WHOLE = ("(letter_number IS NULL) = (letter_year IS NULL) AND (letter_number IS NULL) = "
                    "(letter_region_id IS NULL) AND (letter_number IS NULL) = (letter_ref_zh IS NULL) AND "
                    "(letter_number IS NULL) = (letter_ref_en IS NULL)")


def upgrade():
    op.create_table('letterheads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('issuer_code_zh', sa.String(length=40), nullable=False),
    sa.Column('issuer_code_en', sa.String(length=40), nullable=False),
    sa.Column('bureau_name_en', sa.String(length=200), nullable=False),
    sa.Column('bureau_name_zh', sa.String(length=200), nullable=False),
    sa.Column('legal_basis_en', sa.Text(), server_default='', nullable=False),
    sa.Column('legal_basis_zh', sa.Text(), server_default='', nullable=False),
    sa.Column('address_en', sa.String(length=300), server_default='', nullable=False),
    sa.Column('address_zh', sa.String(length=300), server_default='', nullable=False),
    sa.Column('contact', sa.String(length=200), server_default='', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_letterheads_region_id_regions')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_letterheads_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letterheads')),
    sa.UniqueConstraint('region_id', name=op.f('uq_letterheads_region_id'))
    )
    op.create_table('letter_counters',
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.CheckConstraint('last_number >= 0', name=op.f('ck_letter_counters_last_number')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_letter_counters_region_id_regions')),
    sa.PrimaryKeyConstraint('region_id', 'year', name=op.f('pk_letter_counters'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('letter_region_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('letter_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('letter_number', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('letter_ref_zh', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('letter_ref_en', sa.String(length=80), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_decisions_letter_region_id_regions'), 'regions',
                                    ['letter_region_id'], ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_decisions_letter_region_id'),
                                          ['letter_region_id', 'letter_year', 'letter_number'])
        batch_op.create_check_constraint(batch_op.f('ck_decisions_letter_ref_whole'), LETTER_REF_WHOLE)
        batch_op.create_check_constraint(batch_op.f('ck_decisions_letter_number'),
                                         "letter_number IS NULL OR (status = 'issued' AND letter_number > 0)")


def downgrade():
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_decisions_letter_number'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_decisions_letter_ref_whole'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_decisions_letter_region_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_decisions_letter_region_id_regions'), type_='foreignkey')
        batch_op.drop_column('letter_ref_en')
        batch_op.drop_column('letter_ref_zh')
        batch_op.drop_column('letter_number')
        batch_op.drop_column('letter_year')
        batch_op.drop_column('letter_region_id')
    op.drop_table('letter_counters')
    op.drop_table('letterheads')
