-- The search index: one document of text per ticket (its subject, the requester's name and
-- address, the senders and bodies of its articles, the names of its attachments), kept in the
-- same transaction as the change. The backend fills in its own index: SQLite an FTS5 table
-- (rowid = ticket id), PostgreSQL a table with to_tsvector('german', body) under a GIN index.
-- `hdcli db upgrade` fills it for the tickets a store already holds.
{SEARCH_INDEX};
