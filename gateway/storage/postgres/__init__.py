"""The PostgreSQL backend: several gateway nodes on one database."""
