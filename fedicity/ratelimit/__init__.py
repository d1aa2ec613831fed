"""Rate limits shared by every process: fixed-window counters in PostgreSQL, keyed by a limit's
name and a subject (an address, an account)."""
