"""The PostgreSQL store's tests (real servers from tests/servers; see fixtures.py)."""

from tests.postgres.fixtures import postgres_database, postgres_url  # noqa: F401 - fixtures
