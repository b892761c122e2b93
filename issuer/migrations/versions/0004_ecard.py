"""The e-card (docs/spec.md §12.6): e-cards bound to a phone key (ecards), one-time
activation codes kept as their HMAC (ecard_activations), activation attempts for
throttling (ecard_attempts).

Revision ID: 0004_ecard
Revises: 0003_trust_list_deltas
Create Date: 2026-11-23 21:30:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004_ecard'
down_revision = '0003_trust_list_deltas'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ecards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('issuer_code', sa.String(length=16), nullable=False),
    sa.Column('serial', sa.BigInteger(), nullable=False),
    sa.Column('device_key', sa.LargeBinary(length=33), nullable=False),
    sa.Column('status', sa.Enum('active', 'revoked', name='ecardstatus', native_enum=False, length=24),
              nullable=False),
    sa.Column('status_reason', sa.String(length=100), nullable=True),
    sa.Column('kid', sa.LargeBinary(length=8), nullable=False),
    sa.Column('iat', sa.BigInteger(), nullable=False),
    sa.Column('exp', sa.BigInteger(), nullable=False),
    sa.Column('credential', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer_code', 'serial')
    )
    with op.batch_alter_table('ecards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ecards_card_id'), ['card_id'], unique=False)

    op.create_table('ecard_activations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('code_mac', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ecard_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.ForeignKeyConstraint(['ecard_id'], ['ecards.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_mac')
    )
    with op.batch_alter_table('ecard_activations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ecard_activations_card_id'), ['card_id'], unique=False)

    op.create_table('ecard_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ecard_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ecard_attempts_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ecard_attempts_client'), ['client'], unique=False)
        batch_op.create_index(batch_op.f('ix_ecard_attempts_identifier'), ['identifier'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ecard_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ecard_attempts_identifier'))
        batch_op.drop_index(batch_op.f('ix_ecard_attempts_client'))
        batch_op.drop_index(batch_op.f('ix_ecard_attempts_at'))

    op.drop_table('ecard_attempts')
    with op.batch_alter_table('ecard_activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ecard_activations_card_id'))

    op.drop_table('ecard_activations')
    with op.batch_alter_table('ecards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ecards_card_id'))

    op.drop_table('ecards')
