"""first contact working time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NOTE: leads contacted before this revision keep NULL here, because the working time
    # needs the team calendars of the handoff configuration, which a migration does not load.
    # The funnel leaves them out of the time to first contact.
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_contact_working_seconds', sa.Integer(), nullable=True))
    with op.batch_alter_table('lead_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_lead_transitions_lead_id_to_stage_reason', ['lead_id', 'to_stage', 'reason'],
                              unique=False)
        batch_op.create_index('ix_lead_transitions_reason_at', ['reason', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lead_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_transitions_reason_at')
        batch_op.drop_index('ix_lead_transitions_lead_id_to_stage_reason')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('first_contact_working_seconds')
