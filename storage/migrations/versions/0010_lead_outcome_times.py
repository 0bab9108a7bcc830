"""lead outcome times

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME_COLUMNS = ('reached_sal_at', 'reached_sql_at', 'reached_opportunity_at', 'won_at', 'first_rejected_at')

# Existing leads get the time of their first matching history row, in one pass over the history.
# UPDATE ... FROM runs on PostgreSQL and on SQLite 3.33 or later.
BACKFILL_SQL = """
UPDATE leads SET
    reached_sal_at = outcome.sal_at,
    reached_sql_at = outcome.sql_at,
    reached_opportunity_at = outcome.opportunity_at,
    won_at = outcome.won_at,
    first_rejected_at = outcome.rejected_at
FROM (
    SELECT lead_id,
           MIN(CASE WHEN to_stage = 'sal' THEN at END) AS sal_at,
           MIN(CASE WHEN to_stage = 'sql' THEN at END) AS sql_at,
           MIN(CASE WHEN to_stage = 'opportunity' THEN at END) AS opportunity_at,
           MIN(CASE WHEN to_stage = 'won' THEN at END) AS won_at,
           MIN(CASE WHEN reason LIKE 'rejected:%' THEN at END) AS rejected_at
    FROM lead_transitions
    WHERE to_stage IN ('sal', 'sql', 'opportunity', 'won') OR reason LIKE 'rejected:%'
    GROUP BY lead_id
) AS outcome
WHERE outcome.lead_id = leads.id
"""


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        for name in OUTCOME_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.execute(BACKFILL_SQL)


def downgrade() -> None:
    # NOTE: recreate='never' drops the columns with ALTER TABLE (SQLite 3.35 or later). A batch
    # copy of `leads` would drop the old table, and with foreign keys on, SQLite would delete
    # every row that cascades from it: the whole history, the clocks and the outbox.
    with op.batch_alter_table('leads', schema=None, recreate='never') as batch_op:
        for name in reversed(OUTCOME_COLUMNS):
            batch_op.drop_column(name)
