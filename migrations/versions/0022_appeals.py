"""appeals, decision versions that supersede, corrections with four eyes, appeal panels (issue 13 §1–§2)

Revision ID: 0022
Revises: 0021

* `appeals`: one per decision version, with the hospital's grounds and where the appeal stands;
* an appeal's files are `documents` of type `appeal_evidence` on its item (one appeal per item: no new column);
* `decisions`: `superseded` and `awaiting_approval` states, the basis of a version (panel, appeal, correction), a
  correction's reason and proposer;
* `assignments.round` (1 first review, 2 appeal) and assignment runs/jobs of kind `appeal`.

SQLite's batch mode rebuilds `assignment_runs` to change its CHECK, and the table's append-only triggers go with
it: they are put back (the statements are copied here, so the migration keeps its values).
"""
from alembic import op
import sqlalchemy as sa

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

SQLITE_RUN_GUARDS = (
    "CREATE TRIGGER assignment_runs_no_update BEFORE UPDATE ON assignment_runs "
    "BEGIN SELECT RAISE(ABORT, 'assignment_runs is append-only'); END",
    "CREATE TRIGGER assignment_runs_no_delete BEFORE DELETE ON assignment_runs "
    "BEGIN SELECT RAISE(ABORT, 'assignment_runs is append-only'); END",
)
DECISION_STATUS_NEW = "status IN ('proposed', 'awaiting_approval', 'issued', 'superseded')"
ISSUED_AT_NEW = "(status IN ('issued', 'superseded')) = (issued_at IS NOT NULL)"
LETTER_NUMBER_NEW = "letter_number IS NULL OR (status IN ('issued', 'superseded') AND letter_number > 0)"
ISSUED_AT_OLD = "(status = 'issued') = (issued_at IS NOT NULL)"
LETTER_NUMBER_OLD = "letter_number IS NULL OR (status = 'issued' AND letter_number > 0)"


def _runs_kind(kinds: str) -> None:
    with op.batch_alter_table('assignment_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_assignment_runs_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_assignment_runs_kind'), f"kind IN {kinds}")
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS assignment_runs_no_update')
        op.execute('DROP TRIGGER IF EXISTS assignment_runs_no_delete')
        for statement in SQLITE_RUN_GUARDS:
            op.execute(statement)


def _decision_checks(status: str, issued_at: str, letter_number: str) -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_decisions_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_decisions_issued_at'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_decisions_letter_number'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_decisions_status'), status)
        batch_op.create_check_constraint(batch_op.f('ck_decisions_issued_at'), issued_at)
        batch_op.create_check_constraint(batch_op.f('ck_decisions_letter_number'), letter_number)


def upgrade():
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=10), type_=sa.String(length=20))
        batch_op.add_column(sa.Column('basis', sa.String(length=12), server_default='panel', nullable=False))
        batch_op.add_column(sa.Column('correction_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('proposed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_decisions_proposed_by_id_users'), 'users',
                                    ['proposed_by_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_decisions_basis'),
                                         "basis IN ('panel', 'appeal', 'correction')")
        batch_op.create_check_constraint(
            batch_op.f('ck_decisions_correction_reason'),
            "(basis = 'correction') = (correction_reason IS NOT NULL AND proposed_by_id IS NOT NULL)")
        batch_op.create_check_constraint(batch_op.f('ck_decisions_awaiting_approval'),
                                         "status <> 'awaiting_approval' OR basis = 'correction'")
    _decision_checks(DECISION_STATUS_NEW, ISSUED_AT_NEW, LETTER_NUMBER_NEW)
    op.create_table(
        'appeals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('hospital_id', sa.Integer(), nullable=False),
        sa.Column('grounds', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=14), nullable=False),
        sa.Column('filed_by_id', sa.Integer(), nullable=False),
        sa.Column('filed_at', sa.DateTime(), nullable=False),
        sa.Column('outcome_decision_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('filed', 'in_review', 'proposed', 'issued', 'refused_late', 'withdrawn')",
                           name=op.f('ck_appeals_state')),
        sa.CheckConstraint('length(grounds) >= 20', name=op.f('ck_appeals_grounds')),
        sa.CheckConstraint("(state = 'issued') = (outcome_decision_id IS NOT NULL)", name=op.f('ck_appeals_outcome')),
        sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_appeals_decision_id_decisions')),
        sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_appeals_item_id_review_items')),
        sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_appeals_hospital_id_hospitals')),
        sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name=op.f('fk_appeals_filed_by_id_users')),
        sa.ForeignKeyConstraint(['outcome_decision_id'], ['decisions.id'],
                                name=op.f('fk_appeals_outcome_decision_id_decisions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
        sa.UniqueConstraint('decision_id', name=op.f('uq_appeals_decision_id')),
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeals_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appeals_hospital_id'), ['hospital_id'], unique=False)
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_assignments_round'), 'round IN (1, 2)')
    with op.batch_alter_table('assignment_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), server_default='draw', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_assignment_jobs_kind'), "kind IN ('draw', 'appeal')")
    _runs_kind("('draw', 'replacement', 'appeal')")


def downgrade():
    _runs_kind("('draw', 'replacement')")
    with op.batch_alter_table('assignment_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_assignment_jobs_kind'), type_='check')
        batch_op.drop_column('kind')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_assignments_round'), type_='check')
        batch_op.drop_column('round')
    op.drop_table('appeals')
    op.execute("UPDATE decisions SET status = 'issued' WHERE status = 'superseded'")
    op.execute("DELETE FROM decisions WHERE status = 'awaiting_approval'")
    _decision_checks("status IN ('proposed', 'issued')", ISSUED_AT_OLD, LETTER_NUMBER_OLD)
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_decisions_awaiting_approval'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_decisions_correction_reason'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_decisions_basis'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_decisions_proposed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('proposed_by_id')
        batch_op.drop_column('correction_reason')
        batch_op.drop_column('basis')
        batch_op.alter_column('status', existing_type=sa.String(length=20), type_=sa.String(length=10))
