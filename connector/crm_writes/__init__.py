"""Submissions -> CRM: pending write rows in the ledger and the job that sends them in batches."""
