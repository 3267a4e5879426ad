"""Compare challenge owners byte for byte on MySQL: "ALICE" or "Alicé" must not see alice's rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def on_mysql() -> bool:
    """Only MySQL and MariaDB compare by collation; SQLite compares the bytes already and knows no utf8mb4_bin."""
    return op.get_context().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    """Apply this revision."""
    if on_mysql():
        # MODIFY restates the whole column: its NOT NULL and the empty default 0002 gave it are kept.
        op.alter_column(
            "challenge",
            "owner_subject",
            existing_type=sa.String(length=255),
            type_=mysql.VARCHAR(length=255, collation="utf8mb4_bin"),
            existing_nullable=False,
            existing_server_default=sa.text("''"),
        )


def downgrade() -> None:
    """Revert this revision."""
    if on_mysql():
        op.alter_column(
            "challenge",
            "owner_subject",
            existing_type=mysql.VARCHAR(length=255, collation="utf8mb4_bin"),
            type_=sa.String(length=255),
            existing_nullable=False,
            existing_server_default=sa.text("''"),
        )
