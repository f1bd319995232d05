"""Alembic environment: migrations run on the connection nmocart hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from nmocart.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("nmocart migrations run through `nmocart db upgrade`, which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
