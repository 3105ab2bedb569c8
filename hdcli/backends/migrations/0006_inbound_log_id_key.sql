-- A message is a duplicate only when the same message was seen: message_key now holds the
-- Message-ID together with a digest of sender, date and body; id_key holds the hash of the
-- Message-ID alone, to tell a reused Message-ID (a collision) from a message seen before.
-- Rows written before this migration were keyed by the Message-ID alone: their id_key is
-- their message_key, and a message with that Message-ID stays a duplicate of them.
ALTER TABLE inbound_log ADD COLUMN id_key TEXT;
UPDATE inbound_log SET id_key = message_key;
CREATE INDEX inbound_log_id_key ON inbound_log(id_key);
