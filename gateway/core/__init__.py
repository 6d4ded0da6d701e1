"""Transport-agnostic business core: submit path, delivery fan-out, accounts, binds."""
