"""api tokens: collaborations and a shown prefix; datasets: raw_purged_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 15:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shown', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('collaborations', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_purged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('raw_purged_at')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('collaborations')
        batch_op.drop_column('shown')
