"""The work-queue core every job builds on.

- `defaults`: job options and lease lengths, in one place, with units.
- `enqueue`: put a job on RQ now or later, "unless one is already scheduled", and tell whether a job lives.
- `leased`: a ledger table whose rows workers lease (claim with a token, fenced result, release, overdue).
- `ledgers`: the four leased tables: receipts, CRM writes, conversions, stage changes.
- `sweeper`: one pass over every registered sweep, run beside each worker.
"""
