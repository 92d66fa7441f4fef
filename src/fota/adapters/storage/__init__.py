"""SQLAlchemy 2 storage for SQLite and PostgreSQL: tables, migrations, repositories and the unit of work."""
