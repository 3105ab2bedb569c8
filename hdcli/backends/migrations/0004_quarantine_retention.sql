-- Retention of the quarantine (`mail.quarantine_days`): past it the raw bytes of a message are
-- removed and only its reason, digest and size stay. `size` is filled when the bytes go (until
-- then it is the length of `raw`), `purged_at` says when. `created_at` orders the listing and
-- finds what is due.
ALTER TABLE quarantine ADD COLUMN size {BIGINT};
ALTER TABLE quarantine ADD COLUMN purged_at TEXT;
CREATE INDEX quarantine_created ON quarantine(created_at);
