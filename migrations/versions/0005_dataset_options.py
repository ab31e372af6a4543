"""datasets: per-upload cleaning options; cleaning_reports: changed/flagged/left-alone details

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=True))
    with op.batch_alter_table('cleaning_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('cleaning_reports', schema=None) as batch_op:
        batch_op.drop_column('details')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('options')
