"""first MQL time of each lead

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:37:13.772832
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_mql_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_leads_first_mql_at'), ['first_mql_at'], unique=False)

    # Leads that became MQLs before this column existed get the time of their first MQL transition.
    op.execute(
        "UPDATE leads SET first_mql_at = (SELECT MIN(lead_transitions.at) FROM lead_transitions "
        "WHERE lead_transitions.lead_id = leads.id AND lead_transitions.to_stage = 'mql')"
    )



def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_first_mql_at'))
        batch_op.drop_column('first_mql_at')

