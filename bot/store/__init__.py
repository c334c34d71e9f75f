"""The store: SQLite by default, PostgreSQL in production, schema by Alembic."""
