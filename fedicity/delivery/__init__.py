"""Outgoing activities: stored with their delivery rows in one transaction, delivered by workers."""
