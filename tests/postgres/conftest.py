"""The PostgreSQL store's tests: real servers from tests/servers; the ``postgres_url`` fixture (a schema per
test) comes from tests/postgres/fixtures.py, loaded as a plugin by tests/conftest.py."""
