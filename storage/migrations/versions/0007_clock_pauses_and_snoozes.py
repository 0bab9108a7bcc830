"""clock pauses and snoozes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sla_clock_pauses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clock_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('paused_by', sa.String(length=64), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=64), nullable=True),
    sa.Column('paused_working_seconds', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clock_id'], ['sla_clocks.id'], name=op.f('fk_sla_clock_pauses_clock_id_sla_clocks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_sla_clock_pauses_lead_id_leads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clock_pauses'))
    )
    with op.batch_alter_table('sla_clock_pauses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_clock_pauses_clock_id'), ['clock_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sla_clock_pauses_lead_id'), ['lead_id'], unique=False)

    op.create_table('sla_clock_snoozes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clock_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('snoozed_by', sa.String(length=64), nullable=False),
    sa.Column('snoozed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('choice', sa.String(length=16), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clock_id'], ['sla_clocks.id'], name=op.f('fk_sla_clock_snoozes_clock_id_sla_clocks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clock_snoozes')),
    sa.UniqueConstraint('clock_id', 'step', name='uq_sla_clock_snoozes_clock_id_step')
    )
    with op.batch_alter_table('sla_clock_snoozes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_clock_snoozes_clock_id'), ['clock_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sla_clock_snoozes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_clock_snoozes_clock_id'))

    op.drop_table('sla_clock_snoozes')
    with op.batch_alter_table('sla_clock_pauses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_clock_pauses_lead_id'))
        batch_op.drop_index(batch_op.f('ix_sla_clock_pauses_clock_id'))

    op.drop_table('sla_clock_pauses')
