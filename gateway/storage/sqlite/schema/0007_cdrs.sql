-- smsgw SQLite schema, version 7: call detail records (CDRs) and the operators' views.

-- The front-end a message came through ('smpp' or 'http'); '' for messages stored before.
ALTER TABLE messages ADD COLUMN transport TEXT NOT NULL DEFAULT '';

-- A CDR is a message in a final state; CDRs are read by the time they became final, in
-- pages by (done_at, id). Partial: only final messages have a done_at, so messages in flight
-- are not in it (a range condition on done_at implies done_at IS NOT NULL: SQLite uses it).
CREATE INDEX messages_final ON messages (done_at, id) WHERE done_at IS NOT NULL;
