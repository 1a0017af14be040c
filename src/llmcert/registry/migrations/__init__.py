"""Alembic migrations of the registry schema, run by ``open_registry`` (no alembic.ini)."""
