-- The access trail: who read what, when (`show`, `privacy export`, `report service`). One row per
-- read; `subject` is the ticket number or the contact's address digest, never a body.
CREATE TABLE access_log (
    id {ID},
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    ticket_id {BIGINT} REFERENCES tickets(id) ON DELETE SET NULL,
    contact_id {BIGINT} REFERENCES contacts(id) ON DELETE SET NULL,
    subject TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX access_log_ticket ON access_log(ticket_id, id);
CREATE INDEX access_log_contact ON access_log(contact_id, id);
CREATE INDEX access_log_created ON access_log(created_at);
