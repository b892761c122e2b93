"""Alembic environment: run by issuer.db.upgrade (``ssc-issuer db upgrade`` and at ``serve``)
with the connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from issuer.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through `ssc-issuer db upgrade` (issuer.db.upgrade)")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
