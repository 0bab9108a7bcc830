"""sales stages after acceptance

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:39:12.755193
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('contact_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('request_key', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_contact_attempts_lead_id_leads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_attempts')),
    sa.UniqueConstraint('request_key', name=op.f('uq_contact_attempts_request_key'))
    )
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_attempts_lead_id'), ['lead_id'], unique=False)

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejection_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('first_contact_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('contact_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('discovery_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('discovery_completed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('discovery', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('opportunity_ref', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('nurture_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_leads_duplicate_of_id_leads'), 'leads', ['duplicate_of_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_leads_duplicate_of_id_leads'), type_='foreignkey')
        batch_op.drop_column('nurture_reason')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('opportunity_ref')
        batch_op.drop_column('discovery')
        batch_op.drop_column('discovery_completed_at')
        batch_op.drop_column('discovery_date')
        batch_op.drop_column('contact_attempts')
        batch_op.drop_column('first_contact_at')
        batch_op.drop_column('duplicate_of_id')
        batch_op.drop_column('rejection_note')

    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_attempts_lead_id'))

    op.drop_table('contact_attempts')
