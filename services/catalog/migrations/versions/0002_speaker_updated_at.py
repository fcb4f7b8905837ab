"""Speakers get `updated_at`, stamped when their reference recording changes (tts re-fetches it then).
Rows made before it (or by a replica still on the previous version) keep null, read as `created_at`.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("speakers", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("speakers") as batch:
        batch.drop_column("updated_at")
