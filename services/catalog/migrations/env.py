"""Alembic environment of the catalog service: run by `services.common.db.migrate` at start-up."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("catalog migrations run when the service starts (services.common.db.migrate), not from the CLI")

context.configure(connection=connection, version_table=context.config.attributes["version_table"])
with context.begin_transaction():
    context.run_migrations()
