-- A ticket's priority (`hdcli edit --priority`): low, normal, high or urgent; tickets of
-- before this migration are normal.
ALTER TABLE tickets ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
-- A ticket merged into another (`hdcli merge FROM INTO`) points to it: mail that names the
-- merged ticket's number joins the target.
ALTER TABLE tickets ADD COLUMN merged_into_id {BIGINT} REFERENCES tickets(id) ON DELETE SET NULL;
