"""Count the words of each challenge (set by the job challenge.count-words after it is created).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 00:01:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Null for existing rows, as for a new one until its job ran.
    op.add_column("challenge", sa.Column("word_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("challenge", "word_count")
