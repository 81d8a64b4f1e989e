"""Alembic's environment for the app's database: app/jobs/schema.py upgrade() hands it a connection
(SQLite or PostgreSQL) that already holds the migration lock; nothing here opens one."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
