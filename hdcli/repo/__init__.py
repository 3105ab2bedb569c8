"""Repositories: every SQL statement of the helpdesk's tables, one module per table group.

The workflow (:mod:`hdcli.unit`, :mod:`hdcli.tickets`, the features, mail, reports) never
writes SQL: it calls these functions, named by what they do (``tickets.by_number``,
``history.add``), and gets rows as dicts. Each module owns the SQL of its tables, writes and
reads:

- :mod:`~hdcli.repo.tickets`: tickets, ticket_participants, ticket_links, and the read side
  of ``hdcli list`` and ``hdcli show`` (tickets joined with their names);
- :mod:`~hdcli.repo.articles`: articles and their attachments;
- :mod:`~hdcli.repo.history`: the history of every change;
- :mod:`~hdcli.repo.customers`: organisations, org_domains, contracts, contacts, agents;
- :mod:`~hdcli.repo.approvals`: approvals;
- :mod:`~hdcli.repo.time_entries`: time worked;
- :mod:`~hdcli.repo.billing`: service reports and the month's billing queries;
- :mod:`~hdcli.repo.outbound`: the outbound mail queue;
- :mod:`~hdcli.repo.inbound`: the inbound log and the quarantine;
- :mod:`~hdcli.repo.counters`: the counters ticket numbers come from.

A query that reads several tables in one round trip (a join, a ``UNION``) lives with the
question it answers: the ticket list joins organisations, contacts and agents and is the
tickets' read side. SQL is portable (``?`` placeholders); what differs between dialects stays
in :mod:`hdcli.backends` (``store.row_lock``, DDL, how counters are incremented). Column and
table names put into SQL come from code, never from input.

The bottom layer: these modules import only :mod:`hdcli.models`, :mod:`hdcli.errors` and
:mod:`hdcli.util` at run time (the backends' types for type checking), and not each other.
This package imports none of them: ``hdcli list`` loads :mod:`~hdcli.repo.tickets` alone,
``hdcli show`` the articles and time entries too (and the history for ``--json``).
"""
