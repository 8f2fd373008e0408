"""stored hourly feedback counts for the dashboard trend, and the dashboard's reply index

The venue dashboard's 30-day chart aggregated the venue's feedback per hour on every page view
(about 2 s at a million feedback on SQLite); SPEC §8 has dashboards read stored figures. The
`feedback_hourly` buckets are recounted by stats_aggregator for the hours of feedback ingested
since the id in `count_cursors`; its first run after this migration counts every bucket.
Replies of one venue and status, newest first (the dashboard's pending replies), get an index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import encore_backend.storage.sql.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

REPLY_INDEX = 'ix_ai_responses_venue_status'


def upgrade() -> None:
    op.create_table('feedback_hourly',
    sa.Column('venue_id', sa.String(length=64), nullable=False),
    sa.Column('hour_start', encore_backend.storage.sql.types.UTCDateTime(), nullable=False),
    sa.Column('feedback_count', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.venue_id'], name=op.f('fk_feedback_hourly_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('venue_id', 'hour_start', name=op.f('pk_feedback_hourly'))
    )
    op.create_table('count_cursors',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('feedback_id', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', encore_backend.storage.sql.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_count_cursors'))
    )
    with op.batch_alter_table('encore_ai_responses', schema=None) as batch_op:
        batch_op.create_index(REPLY_INDEX, ['venue_id', 'status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('encore_ai_responses', schema=None) as batch_op:
        batch_op.drop_index(REPLY_INDEX)
    op.drop_table('count_cursors')
    op.drop_table('feedback_hourly')
