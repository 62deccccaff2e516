"""What the console's pages read from the ledger: each query indexed and bounded, none on a whole table."""
