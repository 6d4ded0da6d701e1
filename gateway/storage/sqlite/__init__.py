"""The SQLite backend: one file in WAL mode, group-committed (the default store)."""
