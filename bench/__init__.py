"""hdcli's benchmark suite: ``python -m bench --size small``.

It builds its own helpdesks (German mail, tickets, time entries) in a scratch folder, runs every
workload the way a user does (whole ``hdcli`` processes), and prints a table and, with
``--json FILE``, the figures as JSON. See docs/performance.md.
"""
