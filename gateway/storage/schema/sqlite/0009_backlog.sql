-- smsgw SQLite schema, version 9: paging the backlog at start (sqlite_backlog.py).
-- Numbered 9, not 5, to keep clear of the migrations other branches are adding now.
-- The scheduler keeps only the earliest scheduled messages in memory and pages the rest
-- in by due time; a partial index holds only the SCHEDULED ones (state 0).
CREATE INDEX messages_scheduled ON messages (scheduled_at, length(id), id) WHERE state = 0;
