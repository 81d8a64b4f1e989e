"""Costs (2026-12): each job's estimated cost and its currency, kept when it is sent (the usage page sums
them; a price changed later does not rewrite history), and each place the spending guard takes carries the
same cost, so the money budgets are checked in the transaction that checks the job counts."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE jobs ADD COLUMN cost DOUBLE PRECISION")
    op.execute("ALTER TABLE jobs ADD COLUMN currency TEXT")
    # The usage page's one query reads only this index (app/jobs/usage.py)
    op.execute(
        "CREATE INDEX IF NOT EXISTS jobs_usage"
        " ON jobs (submitted_at, submitted_by, model, seconds, currency, status, cost)"
    )
    if "allowance" in sa.inspect(op.get_bind()).get_table_names():
        op.execute("ALTER TABLE allowance ADD COLUMN cost DOUBLE PRECISION NOT NULL DEFAULT 0")
    # else: a history from before the spending guard kept its places here; the guard makes its table, cost
    # included, when it starts (app/jobs/spending_guard.py)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS jobs_usage")
    with op.batch_alter_table("allowance") as batch:
        batch.drop_column("cost")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("currency")
        batch.drop_column("cost")
