"""Database access: how the app opens its SQLite files (pooled connections, counted waits)."""
