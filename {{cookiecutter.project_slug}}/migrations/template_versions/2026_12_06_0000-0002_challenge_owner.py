"""Record which token subject owns each challenge.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Rows from before authentication get an empty owner: no token has an empty subject, so nobody sees them until
    # they are given one (CHANGELOG: Upgrading).
    op.add_column("challenge", sa.Column("owner_subject", sa.String(length=255), nullable=False, server_default=""))
    op.create_index(op.f("ix_challenge_owner_subject_id"), "challenge", ["owner_subject", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_challenge_owner_subject_id"), table_name="challenge")
    op.drop_column("challenge", "owner_subject")
