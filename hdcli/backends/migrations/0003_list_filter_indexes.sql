-- `hdcli list --assignee/--org … --limit N` reads the newest tickets of one agent or
-- organisation without sorting all of them; `show` finds follow-ups of a ticket directly.
CREATE INDEX tickets_assignee_created ON tickets(assignee_id, created_at);
CREATE INDEX tickets_org_created ON tickets(org_id, created_at);
CREATE INDEX ticket_links_other ON ticket_links(other_id);
