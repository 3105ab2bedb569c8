-- hdcli schema, version 1. Portable SQL; {ID}, {BIGINT} and {BLOB} are filled in per dialect.
-- Timestamps are ISO 8601 UTC text ("2026-11-27T09:50:04Z"), dates "YYYY-MM-DD", money decimal text.

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value {BIGINT} NOT NULL
);

CREATE TABLE organisations (
    id {ID},
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT 'de',
    created_at TEXT NOT NULL
);

CREATE TABLE org_domains (
    org_id {BIGINT} NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    domain TEXT NOT NULL UNIQUE
);
CREATE INDEX org_domains_org ON org_domains(org_id);

CREATE TABLE contracts (
    id {ID},
    org_id {BIGINT} NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    number TEXT NOT NULL UNIQUE,
    billing TEXT NOT NULL,
    rate TEXT NOT NULL DEFAULT '0',
    increment_minutes INTEGER NOT NULL DEFAULT 15,
    minimum_minutes INTEGER NOT NULL DEFAULT 0,
    included_minutes INTEGER NOT NULL DEFAULT 0,
    approval TEXT NOT NULL DEFAULT 'none',
    closed_policy TEXT,
    report_to TEXT,
    valid_from TEXT,
    valid_to TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX contracts_org ON contracts(org_id);

CREATE TABLE contacts (
    id {ID},
    org_id {BIGINT} NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    phone TEXT,
    roles TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX contacts_org ON contacts(org_id);

CREATE TABLE agents (
    id {ID},
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE tickets (
    id {ID},
    number TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    org_id {BIGINT} NOT NULL REFERENCES organisations(id),
    contract_id {BIGINT} REFERENCES contracts(id),
    requester_id {BIGINT} NOT NULL REFERENCES contacts(id),
    channel TEXT NOT NULL,
    impact TEXT NOT NULL DEFAULT 'single_user',
    status TEXT NOT NULL,
    waiting_for TEXT,
    assignee_id {BIGINT} REFERENCES agents(id),
    routed_to_id {BIGINT} REFERENCES agents(id),
    external_id TEXT UNIQUE,
    linked_from_id {BIGINT} REFERENCES tickets(id),
    billable_override INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX tickets_status ON tickets(status, created_at);
CREATE INDEX tickets_assignee ON tickets(assignee_id, status);
CREATE INDEX tickets_org ON tickets(org_id, status);
CREATE INDEX tickets_closed ON tickets(closed_at);
CREATE INDEX tickets_created ON tickets(created_at);

CREATE TABLE articles (
    id {ID},
    ticket_id {BIGINT} NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    sender TEXT NOT NULL DEFAULT '',
    recipients TEXT NOT NULL DEFAULT '',
    cc TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    body_html TEXT,
    message_id TEXT,
    in_reply_to TEXT,
    refs TEXT,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX articles_ticket ON articles(ticket_id, id);
CREATE INDEX articles_message_id ON articles(message_id);

CREATE TABLE attachments (
    id {ID},
    article_id {BIGINT} NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    content {BLOB} NOT NULL
);
CREATE INDEX attachments_article ON attachments(article_id);

CREATE TABLE ticket_participants (
    ticket_id {BIGINT} NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (ticket_id, email)
);
CREATE INDEX ticket_participants_email ON ticket_participants(email);

CREATE TABLE time_entries (
    id {ID},
    ticket_id {BIGINT} NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    agent_id {BIGINT} REFERENCES agents(id),
    work_date TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    activity TEXT NOT NULL DEFAULT 'other',
    note TEXT NOT NULL DEFAULT '',
    billable INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX time_entries_ticket ON time_entries(ticket_id);
CREATE INDEX time_entries_date ON time_entries(work_date);

CREATE TABLE approvals (
    id {ID},
    ticket_id {BIGINT} NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    change_text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL DEFAULT '',
    requested_at TEXT NOT NULL,
    request_message_id TEXT,
    decided_by TEXT,
    via TEXT,
    note TEXT,
    decided_at TEXT
);
CREATE INDEX approvals_ticket ON approvals(ticket_id);
CREATE INDEX approvals_status ON approvals(status);

CREATE TABLE service_reports (
    id {ID},
    ticket_id {BIGINT} NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    month TEXT NOT NULL,
    worked_minutes INTEGER NOT NULL,
    billed_minutes INTEGER NOT NULL,
    billable INTEGER NOT NULL,
    amount TEXT NOT NULL,
    sent_to TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT,
    via TEXT,
    reason TEXT,
    decided_at TEXT
);
CREATE INDEX service_reports_ticket ON service_reports(ticket_id);
CREATE INDEX service_reports_month ON service_reports(month, status);

CREATE TABLE outbound (
    id {ID},
    ticket_id {BIGINT} REFERENCES tickets(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    automatic INTEGER NOT NULL DEFAULT 0,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL,
    raw {BLOB} NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    claimed_by TEXT,
    claimed_at TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbound_due ON outbound(status, next_attempt_at);
CREATE INDEX outbound_message_id ON outbound(message_id);
CREATE INDEX outbound_recipient ON outbound(recipient, automatic, created_at);

CREATE TABLE inbound_log (
    id {ID},
    message_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    ticket_id {BIGINT} REFERENCES tickets(id) ON DELETE SET NULL,
    reason TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL
);
CREATE INDEX inbound_log_outcome ON inbound_log(outcome, received_at);

CREATE TABLE quarantine (
    id {ID},
    message_key TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    raw {BLOB} NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE ticket_links (
    ticket_id {BIGINT} NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    other_id {BIGINT} NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    PRIMARY KEY (ticket_id, other_id, kind)
);

CREATE TABLE history (
    id {ID},
    ticket_id {BIGINT} REFERENCES tickets(id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX history_ticket ON history(ticket_id, id);

CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
