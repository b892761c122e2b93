"""The issuance stations' job queue (station_jobs) and batch imports (batches, batch_items).

Every physical card already issued and not yet personalised gets a queued job, so that a
station finds it.

Revision ID: 0002_station_batch
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002_station_batch'
down_revision = '0001'
branch_labels = None
depends_on = None

_JOB_STATE = sa.Enum('queued', 'claimed', 'done', name='jobstate', native_enum=False, length=24)


def upgrade() -> None:
    op.create_table('batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=80), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    op.create_table('batch_items',
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'line'),
    sa.UniqueConstraint('application_id')
    )
    with op.batch_alter_table('batch_items', schema=None) as batch_op:
        batch_op.create_index('ix_batch_items_batch_application', ['batch_id', 'application_id'], unique=False)

    op.create_table('station_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('state', _JOB_STATE, nullable=False),
    sa.Column('station', sa.String(length=80), nullable=True),
    sa.Column('lease_token', sa.String(length=64), nullable=True),
    sa.Column('lease_expires', sa.BigInteger(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('chip_id', sa.String(length=16), nullable=True),
    sa.Column('atr', sa.String(length=100), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('card_id'),
    sa.UniqueConstraint('chip_id')
    )
    with op.batch_alter_table('station_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_station_jobs_state_id', ['state', 'id'], unique=False)

    op.execute("INSERT INTO station_jobs (card_id, state, attempts, created_at, updated_at) "
               "SELECT id, 'queued', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM cards "
               "WHERE kind = 1 AND status = 'issued' ORDER BY id")


def downgrade() -> None:
    with op.batch_alter_table('station_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_station_jobs_state_id')
    op.drop_table('station_jobs')
    with op.batch_alter_table('batch_items', schema=None) as batch_op:
        batch_op.drop_index('ix_batch_items_batch_application')
    op.drop_table('batch_items')
    op.drop_table('batches')
