"""Alembic environment of the voice service: run by `services.common.db.migrate` at start-up."""

from services.common.db import run_alembic_env

run_alembic_env()
