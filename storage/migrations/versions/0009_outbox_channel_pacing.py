"""outbox channel pacing

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'outbox_channel_pacing',
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('next_send_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('channel', name=op.f('pk_outbox_channel_pacing')),
    )
    op.create_table(
        'slack_channels',
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('channel_id', sa.String(length=64), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_slack_channels')),
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paced_channel', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('paced_channel')
        batch_op.drop_column('send_started_at')
    op.drop_table('slack_channels')
    op.drop_table('outbox_channel_pacing')
