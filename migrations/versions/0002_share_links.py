"""Share links (2026-12): a finished job's video shown to anyone holding a link's token, until it expires
or is revoked. Only the token's SHA-256 is kept; the id names a link on the job's page (to revoke it)."""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE IF NOT EXISTS shares (
    id             TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    job_id         TEXT NOT NULL,
    created_by     TEXT,
    created_at     DOUBLE PRECISION NOT NULL,
    expires_at     DOUBLE PRECISION NOT NULL,
    revoked_at     DOUBLE PRECISION,
    allow_download INTEGER NOT NULL DEFAULT 0
)"""
    )
    op.execute("CREATE INDEX IF NOT EXISTS shares_by_job ON shares (job_id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS shares")
