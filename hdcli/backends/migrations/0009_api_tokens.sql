-- API tokens of the remote helpdesk (`hdcli token`, `hdcli serve`): only the SHA-256 of a token
-- is stored, with a short public prefix to name it in lists and on revocation.
CREATE TABLE api_tokens (
    id {ID},
    prefix TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    agent_id {BIGINT} NOT NULL REFERENCES agents(id),
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_agent ON api_tokens(agent_id);
