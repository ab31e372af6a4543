"""runs: each run of a dataset (upload, reprocess) with its attempts and webhook deliveries; datasets.run;
status cancelled and awaiting_file (direct uploads); api_tokens: a default webhook and its secret

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dataset_id', sa.String(length=32), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('target', sa.String(length=256), nullable=True),
        sa.Column('options', sa.JSON(), nullable=True),
        sa.Column('queue', sa.String(length=32), nullable=False),
        sa.Column('usage_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.JSON(), nullable=False),
        sa.Column('callback_url', sa.Text(), nullable=True),
        sa.Column('webhook_token_id', sa.Integer(), nullable=True),
        sa.Column('deliveries', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_runs_dataset_number', 'runs', ['dataset_id', 'number'], unique=True)
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('upload_secret', sa.String(length=64), nullable=True))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('callback_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret', sa.String(length=128), nullable=True))
    # Every dataset recorded so far had one run, its upload; its attempts were not recorded.
    op.execute("""
        INSERT INTO runs (dataset_id, number, trigger, mode, target, options, queue, outcome, error, attempts,
                          created_at, started_at, ended_at)
        SELECT id, 1, 'upload', mode, target, options,
               CASE WHEN mode = 'deep' THEN 'eda_deep' ELSE 'eda_fast' END,
               CASE WHEN status IN ('completed', 'failed') THEN status END, error, '[]',
               created_at, started_at, CASE WHEN status IN ('completed', 'failed') THEN updated_at END
        FROM datasets
    """)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('webhook_secret')
        batch_op.drop_column('callback_url')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('upload_secret')
        batch_op.drop_column('run')
    op.drop_index('ix_runs_dataset_number', table_name='runs')
    op.drop_table('runs')
