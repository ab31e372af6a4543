"""plans: named, versioned cleaning plans, owned like datasets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'plans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('collaboration_id', sa.String(length=128), nullable=True),
        sa.Column('source_dataset_id', sa.String(length=32), nullable=True),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'name', 'version', name='uq_plans_user_name_version'),
    )


def downgrade():
    op.drop_table('plans')
