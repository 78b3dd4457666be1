"""Alembic environment: runs on the connection that loopml hands over in ``attributes``."""

from alembic import context

from loopml.store._models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - loopml always passes a connection
    raise RuntimeError("run migrations through loopml.store.upgrade() or `loopml db upgrade`")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
