"""Signed revocation deltas between consecutive published trust-list versions
(trust_list_deltas, docs/spec.md §11.4).

Revision ID: 0003_trust_list_deltas
Revises: 0002_station_batch
Create Date: 2026-11-23 21:00:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003_trust_list_deltas'
down_revision = '0002_station_batch'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trust_list_deltas',
    sa.Column('base_version', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('new_version', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['base_version'], ['trust_lists.version'], ),
    sa.ForeignKeyConstraint(['new_version'], ['trust_lists.version'], ),
    sa.PrimaryKeyConstraint('base_version'),
    sa.UniqueConstraint('new_version')
    )


def downgrade() -> None:
    op.drop_table('trust_list_deltas')
