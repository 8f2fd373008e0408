"""webhook deliveries without a foreign key to the SQL alerts table

With ENCORE_DERIVED_STORE=dynamodb the alerts live in DynamoDB (`encore_venue_alerts`) and the
SQL table of alerts stays empty, while webhook deliveries (the outbox the detector writes in the
transaction that marks feedback scanned) stay in SQL in every profile: the key would refuse every
delivery. Without it, deleting an alert no longer cascades to its deliveries; alerts are only
archived, and an orphan alert (feedback or venue gone) keeps its delivery log. The column gets
an index of its own (deliveries are listed by alert; MariaDB's was the key's).
The email queue's keys to alerts, reports and replies stay: in that profile the queue itself is
in DynamoDB and the SQL queue table is unused.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

FK = 'fk_webhook_deliveries_alert_id_encore_venue_alerts'
INDEX = 'ix_webhook_deliveries_alert'


def upgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(FK), type_='foreignkey')
    if op.get_bind().dialect.name in ('mysql', 'mariadb'):
        # MariaDB had indexed the column for the key, under the key's name.
        op.drop_index(FK, table_name='webhook_deliveries')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(INDEX, ['alert_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_foreign_key(
            batch_op.f(FK), 'encore_venue_alerts', ['alert_id'], ['alert_id'], ondelete='CASCADE'
        )
