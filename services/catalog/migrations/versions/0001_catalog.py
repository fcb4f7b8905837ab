"""Speakers, collections and collection language maps.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "speakers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("voice", sa.String(200), nullable=False),
        sa.Column("reference_audio", sa.String(300), nullable=True),
        sa.Column("reference_text", sa.Text, nullable=True),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("builtin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_speakers_user_id", "speakers", ["user_id"])
    op.create_table(
        "collections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_collections_user_id", "collections", ["user_id"])
    op.create_table(
        "collection_langs",
        sa.Column(
            "collection_id", sa.String(36), sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("language", sa.String(8), primary_key=True),
        sa.Column("speaker_id", sa.String(36), sa.ForeignKey("speakers.id", ondelete="RESTRICT"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("collection_langs")
    op.drop_table("collections")
    op.drop_table("speakers")
