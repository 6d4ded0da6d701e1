-- smsgw SQLite schema, version 6: paging an owner's schedule (scheduled.scheduled_messages).
-- The scheduler keeps only the earliest scheduled messages of its owner in memory and
-- pages the rest in by due time; a partial index holds only the SCHEDULED ones (state 0).
CREATE INDEX messages_scheduled ON messages (owner, scheduled_at, length(id), id)
    WHERE state = 0;
