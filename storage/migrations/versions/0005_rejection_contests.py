"""rejection contests

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:57:35.472388
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rejection_contests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('rejection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contested_by', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_rejection_contests_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rejection_id'], ['lead_transitions.id'], name=op.f('fk_rejection_contests_rejection_id_lead_transitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejection_contests')),
    sa.UniqueConstraint('rejection_id', name=op.f('uq_rejection_contests_rejection_id'))
    )
    with op.batch_alter_table('rejection_contests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejection_contests_lead_id'), ['lead_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rejection_contests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejection_contests_lead_id'))

    op.drop_table('rejection_contests')
