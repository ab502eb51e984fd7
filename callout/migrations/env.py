"""Alembic environment: runs migrations on the connection callout.db.upgrade hands over."""

from alembic import context
from sqlalchemy import create_engine

from callout.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///callout.db"
    with create_engine(url).begin() as own:
        context.configure(connection=own, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
