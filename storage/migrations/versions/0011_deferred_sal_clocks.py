"""deferred SAL clocks

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sal_clocks_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_leads_sal_clocks_from', ['sal_clocks_from'], unique=False)


def downgrade() -> None:
    # recreate='never' for the reason given in 0010: a batch copy of `leads` would cascade deletes on SQLite.
    with op.batch_alter_table('leads', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_leads_sal_clocks_from')
        batch_op.drop_column('sal_clocks_from')
