"""money columns in 64 bits

Revision ID: 0008
Revises: 0007

Every fen column becomes BIGINT on PostgreSQL (`ALTER … TYPE` rewrites the rows with their values and fires no
row triggers, so the append-only ledger keeps its guard). SQLite's INTEGER is already 64-bit: nothing to do there.
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

MONEY_COLUMNS = {
    "cases": ("total_cost_fen", "drg_payment_fen"),
    "drg_average_costs": ("average_cost_fen",),
    "decisions": ("deduction_fen", "drg_payment_fen", "total_cost_fen", "amount_fen", "drg_payment_after_fen"),
    "accounts": ("balance_fen",),
    "journal_lines": ("amount_fen",),
    "policies": ("base_rate_fen", "fixed_loss_threshold_fen"),
    "scoresheets": ("unreasonable_cost_fen",),
}


def _alter(type_name: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {column} TYPE {type_name}" for column in columns)
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade():
    _alter("BIGINT")


def downgrade():
    _alter("INTEGER")
