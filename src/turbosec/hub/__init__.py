"""The findings hub: one process, SQLite by default, PostgreSQL when a team grows."""
