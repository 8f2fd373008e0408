"""SQLAlchemy adapters for SQLite, MariaDB/MySQL and PostgreSQL."""
