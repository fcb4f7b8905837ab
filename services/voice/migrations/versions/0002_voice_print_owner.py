"""Voice prints get an owner, the user of the API key that registered them; prints made before it belong
to `default` (shared: every key may verify against them, only admin keys delete them).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "voice_prints", sa.Column("owner", sa.String(200), nullable=False, server_default=sa.text("'default'"))
    )
    op.create_index("ix_voice_prints_owner", "voice_prints", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_voice_prints_owner", "voice_prints")
    with op.batch_alter_table("voice_prints") as batch:
        batch.drop_column("owner")
