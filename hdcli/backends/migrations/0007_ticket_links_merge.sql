-- A ticket's priority (`hdcli edit --priority`): low, normal, high or urgent; tickets of
-- before this migration are normal.
ALTER TABLE tickets ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
