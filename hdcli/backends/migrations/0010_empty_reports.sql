-- What closing a ticket without time (0 h) does with its service report, per contract
-- (`hdcli contract add/edit --empty-reports`): `skip` makes no report (none is stored, mailed or
-- pending), `send` stores and mails it like any other. Contracts of before this migration skip.
ALTER TABLE contracts ADD COLUMN empty_reports TEXT NOT NULL DEFAULT 'skip';
