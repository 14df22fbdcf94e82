"""user operations: the project's RFM settings (value event, amount, look-back, segment map)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 16:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_ops_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rfm", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_ops_settings", schema=None) as batch_op:
        batch_op.drop_column("rfm")
