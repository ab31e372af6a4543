"""plans: deleted versions keep their number (deleted_at) so a name's versions are never reused

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('plans') as batch:
        batch.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('plans') as batch:
        batch.drop_column('deleted_at')
