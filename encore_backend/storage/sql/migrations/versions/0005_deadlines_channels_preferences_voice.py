"""response deadlines, notification channels, manager preferences, brand voice (issue 13)

- venue settings `response_sla_hours` (24), `reply_tone` ('warm'), `reply_signature`,
  `banned_phrases` ([] for existing venues);
- `escalated_at` on feedback and alerts (set once by response_sla), and an index of a venue's
  unanswered feedback by age;
- `notification_channels` (slack, teams, webhook) and `manager_preferences`;
- webhook deliveries name their event, feedback and channel; an escalation of feedback that raised
  no alert has no alert id;
- manager emails without a report or alert (escalations, digests) are keyed by `notice_key`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import encore_backend.storage.sql.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('manager_preferences',
    sa.Column('venue_id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('digest_hour', sa.SmallInteger(), nullable=True),
    sa.Column('quiet_start_hour', sa.SmallInteger(), nullable=True),
    sa.Column('quiet_end_hour', sa.SmallInteger(), nullable=True),
    sa.Column('updated_at', encore_backend.storage.sql.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.venue_id'], name=op.f('fk_manager_preferences_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('venue_id', 'email', name=op.f('pk_manager_preferences'))
    )
    op.create_table('notification_channels',
    sa.Column('channel_id', sa.String(length=36), nullable=False),
    sa.Column('venue_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('created_at', encore_backend.storage.sql.types.UTCDateTime(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('failing_since', encore_backend.storage.sql.types.UTCDateTime(), nullable=True),
    sa.Column('disabled_at', encore_backend.storage.sql.types.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_delivered_at', encore_backend.storage.sql.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.venue_id'], name=op.f('fk_notification_channels_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', name=op.f('pk_notification_channels'))
    )
    with op.batch_alter_table('notification_channels', schema=None) as batch_op:
        batch_op.create_index('ix_notification_channels_venue', ['venue_id'], unique=False)

    with op.batch_alter_table('encore_email_queue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_key', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch_op.create_unique_constraint('uq_email_queue_notice_recipient', ['notice_key', 'customer_email'])

    with op.batch_alter_table('encore_venue_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_at', encore_backend.storage.sql.types.UTCDateTime(), nullable=True))

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_at', encore_backend.storage.sql.types.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_feedback_unanswered', ['venue_id', 'responded_at', 'escalated_at', 'created_at'], unique=False)

    with op.batch_alter_table('venue_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response_sla_hours', sa.Integer(), server_default='24', nullable=False))
        batch_op.add_column(sa.Column('reply_tone', sa.String(length=16), server_default='warm', nullable=False))
        batch_op.add_column(sa.Column('reply_signature', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('banned_phrases', sa.JSON(), server_default='[]', nullable=False))

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=32), server_default='alert.created', nullable=False))
        batch_op.add_column(sa.Column('feedback_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('channel_id', sa.String(length=36), nullable=True))
        batch_op.alter_column('alert_id',
               existing_type=sa.VARCHAR(length=36),
               nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_webhook_deliveries_channel_id_notification_channels'), 'notification_channels', ['channel_id'], ['channel_id'], ondelete='CASCADE')



def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_webhook_deliveries_channel_id_notification_channels'), type_='foreignkey')
        batch_op.alter_column('alert_id',
               existing_type=sa.VARCHAR(length=36),
               nullable=False)
        batch_op.drop_column('channel_id')
        batch_op.drop_column('feedback_id')
        batch_op.drop_column('event')

    with op.batch_alter_table('venue_settings', schema=None) as batch_op:
        batch_op.drop_column('banned_phrases')
        batch_op.drop_column('reply_signature')
        batch_op.drop_column('reply_tone')
        batch_op.drop_column('response_sla_hours')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_unanswered')
        batch_op.drop_column('escalated_at')

    with op.batch_alter_table('encore_venue_alerts', schema=None) as batch_op:
        batch_op.drop_column('escalated_at')

    with op.batch_alter_table('encore_email_queue', schema=None) as batch_op:
        batch_op.drop_constraint('uq_email_queue_notice_recipient', type_='unique')
        batch_op.drop_column('payload')
        batch_op.drop_column('notice_key')

    op.drop_table('notification_channels')  # its index goes with it (MariaDB's FK needs it)
    op.drop_table('manager_preferences')
