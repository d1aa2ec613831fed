"""The audit log: who did what, when and why, for every admin's and moderator's action."""
